"""The `traincycle` command. Subcommands import their heavy dependencies lazily."""

from __future__ import annotations

import click

from traincycle import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="traincycle")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (same as TRACEBACK=1).")
def main(debug: bool) -> None:
    """traincycle: a reproducible training pipeline driven by DVC.

    Run the pipeline with `dvc repro`; these commands help around it.
    """
    if debug:
        import os

        os.environ["TRACEBACK"] = "1"
