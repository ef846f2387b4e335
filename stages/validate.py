"""validate: the privacy, quality and bias gate; critical failures stop the pipeline (exit 3)."""

import time

import click

from traincycle.config import load_stage_config
from traincycle.cost import tracked
from traincycle.errors import report_errors
from traincycle.headline import write_reports
from traincycle.io import atomic_dir, copy_file, read_parquet, write_json, write_parquet
from traincycle.modalities import modality
from traincycle.privacy import screen, summary, warnings
from traincycle.schema import load_schema
from traincycle.validate import (
    ValidateConfig,
    build_report,
    describe,
    failed,
    gate,
    quality_metrics,
    render_html,
)


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--data", "data_path", required=True, help="Raw Parquet table from ingest.")
@click.option("--schema", "schema_path", required=True, help="schema.yaml of the validated table.")
@click.option("--out", "out_path", required=True, help="The validated table (privacy policy applied).")
@click.option("--report", "report_path", required=True, help="JSON report of every expectation.")
@click.option("--docs", "docs_dir", required=True, help="Directory for the HTML summary.")
@click.option("--metrics", "metrics_path", required=True, help="Headline data-quality metrics.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@click.option("--timings", default=".traincycle/timings/validate.json", show_default=True)
@tracked("validate")
@report_errors
def main(params_path, data_path, schema_path, out_path, report_path, docs_dir, metrics_path, details_path,
         timings) -> None:
    start = time.perf_counter()
    data, _, cfg = load_stage_config(params_path, "validate", ValidateConfig)
    schema = load_schema(schema_path)
    raw = read_parquet(data_path)
    df, decisions = screen(raw, data, cfg.privacy)  # PII never reaches the checks or their report
    outcomes, summaries = modality(data.modality).check(df, schema, data, cfg)
    gate(outcomes)  # before any write: a failed gate leaves no outputs
    report = {**build_report(df, outcomes, summaries), "privacy": summary(decisions)}
    if df is raw:
        copy_file(data_path, out_path)  # nothing to remove: the same bytes, stored once by DVC
    else:
        write_parquet(df, out_path)
    write_json(report, report_path)
    with atomic_dir(docs_dir) as tmp:
        (tmp / "index.html").write_text(render_html(report), encoding="utf-8")
    write_reports("validate", quality_metrics(df, outcomes, summaries), details_path, metrics_path)
    write_json({"seconds": time.perf_counter() - start, "rows": len(df)}, timings)
    for line in warnings(decisions):
        click.echo(f"validate: privacy warning: {line}")
    for outcome in failed(outcomes, "warning"):
        click.echo(f"validate: warning: {describe(outcome)}")
    click.echo(f"validate: {len(outcomes)} checks on {len(df)} rows passed the gate")


if __name__ == "__main__":
    main()
