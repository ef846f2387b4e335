"""sources: one fingerprint per stage of the code it runs; the other stages depend on them."""

from pathlib import Path

import click

from traincycle.errors import report_errors
from traincycle.io import write_text
from traincycle.sources import fingerprints


@click.command()
@click.option("--out-dir", required=True, help="Directory for <stage>.sha256.")
@click.argument("scripts", nargs=-1, required=True)
@report_errors
def main(out_dir: str, scripts: tuple[str, ...]) -> None:
    prints = fingerprints(Path.cwd(), [Path(s) for s in scripts])
    for stage, text in prints.items():
        write_text(text, Path(out_dir) / f"{stage}.sha256")
    counts = ", ".join(f"{stage} {text.count(chr(10))}" for stage, text in prints.items())
    click.echo(f"sources: files per stage: {counts}")


if __name__ == "__main__":
    main()
