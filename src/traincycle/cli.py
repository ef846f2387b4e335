"""The `traincycle` command. Subcommands import their heavy dependencies lazily."""

from __future__ import annotations

from typing import Any

import click

from traincycle import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="traincycle")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (same as TRACEBACK=1).")
def main(debug: bool) -> None:
    """traincycle: a reproducible training pipeline driven by DVC.

    Run the pipeline with `dvc repro`; these commands help around it.
    `traincycle COMMAND --help` shows each command's options and an example.

    \b
    Example:
      dvc repro && traincycle predict models/optimized new_rows.csv -o scored.csv
    """
    if debug:
        import os

        os.environ["TRACEBACK"] = "1"


@main.command(short_help="Write seeded synthetic Adult-like rows (scale tests).")
@click.option("--rows", type=click.IntRange(min=1), required=True, help="Number of rows.")
@click.option("--cols", type=click.IntRange(min=1), default=14, show_default=True,
              help="Feature columns (Adult-like mix; beyond 14, extra numeric columns).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--wide", is_flag=True,
              help="Only float columns g0..gN (like gene expression) and a multi-class target `label`.")
@click.option("--classes", type=click.IntRange(min=2), default=4, show_default=True,
              help="Classes of the --wide target.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Parquet file.")
def synth(rows: int, cols: int, seed: int, wide: bool, classes: int, output: str) -> None:
    """Write seeded synthetic data for scale tests: Adult-like (target `income`) or --wide.

    \b
    Example:
      traincycle synth --rows 1000000 -o data/synthetic.parquet
    """
    from traincycle.errors import report_errors
    from traincycle.synth import write_synthetic, write_wide

    if wide:
        report_errors(write_wide)(output, rows, cols, classes, seed)
    else:
        report_errors(write_synthetic)(output, rows, cols, seed)
    click.echo(f"wrote {rows} rows x {cols} feature columns to {output}")


@main.group(short_help="Draft the data schema that validate enforces.")
def schema() -> None:
    """Draft and check the data schema (schema.yaml) the validate stage enforces.

    \b
    Example:
      traincycle schema infer data/my_table.csv -o schema.yaml --target churned
    """


@schema.command("infer", short_help="Draft schema.yaml from a CSV or Parquet table.")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="YAML file to write.")
@click.option("--target", default=None, help="Label column; its values become the schema's labels.")
@click.option("--group-min", type=click.IntRange(min=0), default=10, show_default=True,
              help="Draft runs of at least this many same-typed numbered columns (g1, g2, ...) "
                   "as one pattern entry (g*); 0 lists every column.")
@click.option("--max-values", type=click.IntRange(min=0), default=100, show_default=True,
              help="List the allowed values of a category only up to this many distinct values; "
                   "above it the category is high-cardinality and unlisted (0: list all).")
def schema_infer(data_path: str, output: str, target: str | None, group_min: int, max_values: int) -> None:
    """Draft a schema from DATA (.parquet or .csv): observed dtypes, ranges, categories, nulls.

    \b
    Example:
      traincycle schema infer data/my_table.csv -o schema.yaml --target churned
    """
    from traincycle.errors import report_errors
    from traincycle.schema import draft_schema_file

    draft = report_errors(draft_schema_file)
    columns, entries, high, private = draft(data_path, output, target, group_min, max_values)
    grouped = f" in {entries} entries" if entries != columns else ""
    click.echo(f"wrote a schema of {columns} columns{grouped} to {output}; review it before committing")
    if high:
        click.echo(f"warning: {len(high)} high-cardinality categor{'y' if len(high) == 1 else 'ies'} over "
                   f"--max-values {max_values}, drafted without a value list: {', '.join(high)}", err=True)
    if private:
        click.echo(f"note: the privacy scan flagged {', '.join(private)}: drafted without values or range",
                   err=True)


@main.command(short_help="Optuna search; every trial is a dvc experiment.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Finished trials the study should hold in total (default: tune.trials); "
                   "rerunning resumes up to this number.")
@click.option("--study", default=None, help="Study name (default: tune.study); also names the experiments.")
@click.option("--storage", default=None,
              help="Optuna RDB storage URL (default: tune.storage or sqlite:///.traincycle/optuna.db); "
                   "workers on one postgresql://user@host/db URL share the study.")
@click.option("--verify-best", is_flag=True,
              help="Rerun the best trial's params as a forced experiment and confirm the metric.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials at once, each pinned to its share of the cores (at most one per core).")
def tune(trials: int | None, study: str | None, storage: str | None, verify_best: bool, jobs: int) -> None:
    """Search `tune.space` with Optuna; every trial is a `dvc exp run` (see `dvc exp show`).

    \b
    Example:
      traincycle tune --trials 40 --verify-best
    """
    from traincycle.errors import report_errors
    from traincycle.tune import tune_project

    report_errors(tune_project)(trials=trials, study=study, storage=storage,
                                verify_best=verify_best, jobs=jobs, echo=click.echo)


@main.group(short_help="DVC's experiment queue, with workers pinned to their cores.")
def queue() -> None:
    """DVC's experiment queue (`dvc exp run --queue`), run by workers pinned to core slots.

    \b
    Example:
      traincycle queue start -j 2
    """


@queue.command("start", short_help="Start queue workers, each on its own share of the cores.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Workers to start, each pinned to a disjoint core slot (at most one per core).")
def queue_start(jobs: int) -> None:
    """`dvc queue start -j N` with each worker pinned to its own cores and thread variables.

    Watch and stop them with `dvc queue status` / `dvc queue stop` as usual.

    \b
    Example:
      traincycle queue start -j 2
    """
    from traincycle.errors import report_errors
    from traincycle.workers import start_pinned_workers

    started = report_errors(start_pinned_workers)(jobs)
    for num, cores in started:
        click.echo(f"queue worker {num}: cores {','.join(map(str, cores))}")
    click.echo(f"started {len(started)} pinned queue worker(s); `dvc queue status` follows them")


@main.command(short_help="The model card plus this run's compute cost vs a git revision.")
@click.option("--card", "card_path", default="reports/model_card.md", show_default=True,
              type=click.Path(dir_okay=False), help="The committed model card (from evaluate).")
@click.option("--rev", default="main", show_default=True, help="Base git revision to compare costs with.")
@click.option("-o", "--output", default=".traincycle/model_card.md", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the card with its cost section.")
def card(card_path: str, rev: str, output: str) -> None:
    """The model card plus this run's compute cost and its change vs --rev (from .traincycle/cost).

    The committed card stays byte-identical between runs; run-varying figures go only here.

    \b
    Example:
      traincycle card --rev main -o .traincycle/model_card.md
    """
    from pathlib import Path

    from traincycle.cost import card_with_cost
    from traincycle.errors import DataError, report_errors
    from traincycle.io import write_text

    def build() -> str:
        if not Path(card_path).is_file():
            raise DataError(f"{card_path}: no model card; run `dvc repro` first")
        return card_with_cost(Path(card_path).read_text(encoding="utf-8"), rev)

    write_text(report_errors(build)(), output)
    click.echo(f"wrote {output}")


@main.command(short_help="Markdown review comment: changes vs a git revision.")
@click.option("--rev", default="main", show_default=True,
              help="Base git revision, or an experiment of HEAD by name, to compare with.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the Markdown here instead of stdout.")
@click.option("--plots-dir", default=".traincycle/plots-diff", show_default=True,
              help="Where `dvc plots diff` renders the HTML plot comparison.")
def report(rev: str, output: str | None, plots_dir: str) -> None:
    """Markdown review comment: metric/param/fairness deltas vs --rev, plot diff, timings.

    \b
    Example:
      traincycle report --rev main -o review.md
    """
    from traincycle.errors import report_errors
    from traincycle.io import write_text
    from traincycle.report import collect_report

    text = report_errors(collect_report)(rev, plots_dir)
    if output:
        write_text(text, output)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command(short_help="List every look at the test split (test-set ledger).")
@click.option("--path", default=None, type=click.Path(dir_okay=False),
              help="The test-set ledger evaluate appends to (default: one per repository, "
                   "<git common dir>/traincycle/ledger.jsonl).")
def ledger(path: str | None) -> None:
    """List every look at the test split (workspace, temp and queued experiments alike).

    \b
    Example:
      traincycle ledger
    """
    from traincycle.errors import report_errors
    from traincycle.ledger import default_path, format_table, read_entries

    path = path or str(default_path())
    click.echo(f"ledger: {path}")
    click.echo(format_table(report_errors(read_entries)(path)))


def policy_options(func: Any) -> Any:
    """--params / --unknown / --missing-columns: the `predict` params section and its overrides."""
    func = click.option("--missing-columns", type=click.Choice(["error", "impute"]), default=None,
                        help="An absent input column: error, or score as missing and flag "
                             "(default: params predict.missing_columns, else error).")(func)
    func = click.option("--unknown", type=click.Choice(["flag", "error"]), default=None,
                        help="Unknown categories / values outside the schema range: score and "
                             "flag, or refuse (default: params predict.unknown, else flag).")(func)
    return click.option("--params", "params_path", type=click.Path(dir_okay=False), default=None,
                        help="params.yaml whose `predict` section sets the policy "
                             "(default: ./params.yaml when present).")(func)


def load_policy(params_path: str | None, unknown: str | None, missing_columns: str | None) -> Any:
    """The PredictConfig from params (if any) with command-line overrides applied."""
    import dataclasses
    from pathlib import Path

    from traincycle.config import load_section
    from traincycle.inputs import PredictConfig

    path = params_path or ("params.yaml" if Path("params.yaml").is_file() else None)
    cfg = load_section(path, "predict", PredictConfig) if path else PredictConfig()
    overrides = {k: v for k, v in (("unknown", unknown), ("missing_columns", missing_columns)) if v}
    return dataclasses.replace(cfg, **overrides)


@main.command(short_help="Score new rows, images or texts with an optimised model.")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to write ids, labels, probabilities, confidence and flags (.csv or .parquet).")
@click.option("--batch-rows", type=click.IntRange(min=1), default=None,
              help="Inputs scored per batch, so memory stays bounded on large inputs "
                   "[default: 65536 rows, 4096 texts, 256 images].")
@policy_options
def predict(model_dir: str, input_path: str, output: str, batch_rows: int | None,
            params_path: str | None, unknown: str | None, missing_columns: str | None) -> None:
    """Score INPUT with MODEL_DIR (e.g. models/optimized), read as the training data was.

    \b
    INPUT, by the model's modality:
      table: a .csv/.parquet of raw rows, as the source was written;
      image: an image file, a folder of them (recursively), a .npz (images) or a .parquet (pixels);
      text:  a .csv/.parquet with the text column, or a .txt with one text per line.

    Output: one row per input (row number or file name, label, per-class probabilities,
    confidence, flags). Odd inputs (missing values, unknown categories, values out of range,
    images of another size or channel count, unreadable files) are flagged, or refused under
    --unknown error; a summary line goes to stderr.

    \b
    Example:
      traincycle predict models/optimized new_rows.csv -o scored.csv
    """
    import sys

    from traincycle.errors import report_errors
    from traincycle.predict import predict_file

    def run() -> Any:
        cfg = load_policy(params_path, unknown, missing_columns)
        return predict_file(model_dir, input_path, output, batch_rows,
                            progress=sys.stderr.isatty(), cfg=cfg)

    outcome = report_errors(run)()
    click.echo(f"predict: {outcome.summary()}", err=True)
    click.echo(f"scored {outcome.rows} rows into {output}")


@main.command(short_help="Serve an optimised model over HTTP (extra `serve`).")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.6, show_default=True,
              help="Predictions whose top probability is lower are flagged low_confidence.")
@click.option("--max-rows", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Most rows (images, texts) one request may carry.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--log", "log_path", default=".traincycle/requests.jsonl", show_default=True,
              help="JSON-lines request log (no raw values); '' for none.")
@click.option("--log-max-bytes", type=click.IntRange(min=1000), default=10_000_000, show_default=True,
              help="Rotate the request log at this size.")
@click.option("--log-backups", type=click.IntRange(min=0), default=5, show_default=True,
              help="Rotated request logs kept.")
@click.option("--pool", "pool_path", default="", type=click.Path(dir_okay=False),
              help="Append the raw rows answered low_confidence to this CSV, in the source's format, "
                   "for `traincycle select` (holds raw values: opt-in) [default: none].")
@click.option("--pool-flagged", is_flag=True, help="Also pool rows with any flag (unknown_category, ...).")
@click.option("--pool-omit", multiple=True, metavar="COLUMN",
              help="Write COLUMN empty in the pool (repeatable); columns validate's privacy scan "
                   "flagged (reports/validation.json) are always left empty.")
@click.option("--pool-max-bytes", type=click.IntRange(min=1000), default=50_000_000, show_default=True,
              help="Rotate the pool at this size (pool.csv -> pool.1.csv; 5 kept).")
@policy_options
def serve(model_dir: str, host: str, port: int, min_confidence: float, max_rows: int,
          max_body_bytes: int, log_path: str, log_max_bytes: int, log_backups: int,
          pool_path: str, pool_flagged: bool, pool_omit: tuple[str, ...], pool_max_bytes: int,
          params_path: str | None, unknown: str | None, missing_columns: str | None) -> None:
    """Serve MODEL_DIR over HTTP: POST /predict, GET /health, GET /metrics (Prometheus),
    OpenAPI at /docs (extra `serve`).

    /predict takes what the model takes: JSON rows {"rows": [...]}, images (multipart file
    uploads, or {"images": [{"data": base64}]}) or texts {"texts": [...]}, checked and flagged
    by the same rule as `traincycle predict`.

    \b
    Example:
      traincycle serve models/optimized --port 8000
    """
    from traincycle.errors import report_errors
    from traincycle.serve import LogConfig
    from traincycle.serve import serve as run_server

    def run() -> None:
        from traincycle.pool import PoolConfig, privacy_flagged

        cfg = load_policy(params_path, unknown, missing_columns)
        log = LogConfig(log_path or None, log_max_bytes, log_backups)
        private = privacy_flagged() if pool_path else []
        if private:
            click.echo(f"note: pool: {', '.join(private)} left empty (personal data per validate's "
                       "privacy scan)", err=True)
        pool = PoolConfig(pool_path or None, pool_flagged, (*pool_omit, *private), pool_max_bytes)
        run_server(model_dir, host, port, min_confidence, max_rows, max_body_bytes, cfg, log, pool)

    report_errors(run)()


@main.command(short_help="Drift of new rows from the training split.")
@click.argument("current", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", default="reports/monitor", show_default=True,
              type=click.Path(file_okay=False), help="Where drift.json and drift.html go.")
@click.option("--model", "model_dir", default="models/optimized", show_default=True,
              type=click.Path(file_okay=False), help="Model directory: parsing, schema, scores.")
@click.option("--reference", default="data/interim/train.parquet", show_default=True,
              type=click.Path(dir_okay=False), help="The raw training split to compare with.")
@click.option("--params", "params_path", default="params.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="params.yaml: the `monitor` thresholds and `seed`.")
def monitor(current: str, out_dir: str, model_dir: str, reference: str, params_path: str) -> None:
    """Drift of CURRENT (new raw rows, .csv/.parquet, or predict's output) from the training split.

    Per column PSI, KS / chi-square and Wasserstein, plus prediction drift and the share of rows
    flagged unknown or out of range. Exit 3 naming the drifted columns when any passes the
    params `monitor` thresholds.

    \b
    Example:
      traincycle monitor new_rows.csv -o reports/monitor
    """
    from traincycle.errors import report_errors

    def run() -> Any:
        from pathlib import Path

        from traincycle.config import load_section, read_params, read_seed
        from traincycle.drift import MonitorConfig
        from traincycle.monitor import run_monitor

        has_params = Path(params_path).is_file()
        cfg = load_section(params_path, "monitor", MonitorConfig) if has_params else MonitorConfig()
        seed = read_seed(read_params(params_path)) if has_params else 42
        return run_monitor(current, model_dir, reference, out_dir, cfg, seed)

    report = report_errors(run)()
    warned = [n for n, f in report["columns"].items() if f["severity"] == "warning"]
    click.echo(f"monitor: no drift over the thresholds ({len(report['columns'])} columns, prediction "
               f"psi {report['prediction']['psi']:.3f}"
               + (f"; warnings: {', '.join(warned)}" if warned else "") + f"); report: {out_dir}/drift.html")


@main.command("select", short_help="Pick the least certain rows to label next.")
@click.argument("pool", type=click.Path(dir_okay=False))
@click.option("-k", "count", type=click.IntRange(min=1), required=True, help="Rows to pick.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the rows to label (.csv or .parquet).")
@click.option("--model", "model_dir", default="models/optimized", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--strategy", type=click.Choice(["least_confident", "margin", "entropy"]),
              default="margin", show_default=True, help="How uncertainty is measured.")
@click.option("--diverse", is_flag=True,
              help="Spread the picks: greedy k-center (CoreSet) among the 10*k most uncertain rows.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Breaks exact distance ties of --diverse (the picks are reproducible).")
def select_command(pool: str, count: int, output: str, model_dir: str, strategy: str,
                   diverse: bool, seed: int) -> None:
    """Pick the rows of POOL (unlabelled raw rows) the model is least sure of, to label next.

    \b
    Example:
      traincycle select pool.csv -k 100 -o to_label.csv
    """
    from traincycle.errors import report_errors

    def run() -> Any:
        from traincycle.selection import select_rows, write_selection

        frame = select_rows(model_dir, pool, count, strategy, diverse, seed)  # type: ignore[arg-type]
        write_selection(frame, output, model_dir)
        return frame

    frame = report_errors(run)()
    click.echo(f"selected {len(frame)} rows ({strategy}{', diverse' if diverse else ''}; mean "
               f"uncertainty {frame['uncertainty'].mean():.3f}) into {output}")
