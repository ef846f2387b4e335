"""split: stratified, seeded train/val/test split with a leakage gate."""

import click

from traincycle.config import load_stage_config
from traincycle.cost import tracked
from traincycle.errors import report_errors
from traincycle.headline import write_reports
from traincycle.io import read_parquet, write_parquet
from traincycle.split import SplitConfig, split_frame


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--data", "data_path", required=True, help="Raw Parquet table from ingest.")
@click.option("--out-dir", required=True, help="Directory for train/val/test.parquet.")
@click.option("--metrics", "metrics_path", required=True, help="Headline split sizes.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@tracked("split")
@report_errors
def main(params_path: str, data_path: str, out_dir: str, metrics_path: str, details_path: str) -> None:
    data, seed, cfg = load_stage_config(params_path, "split", SplitConfig)
    parts, report = split_frame(read_parquet(data_path), data, cfg, seed)
    for name, part in parts.items():
        write_parquet(part, f"{out_dir}/{name}.parquet")
    write_reports("split", report, details_path, metrics_path)
    sizes = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
    click.echo(f"split: {sizes}; {report['duplicates']['rows_with_twin']} rows have a twin (kept together)")


if __name__ == "__main__":
    main()
