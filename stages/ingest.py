"""ingest: read data.source into data/raw/dataset.parquet plus its provenance."""

import click

from traincycle.config import load_stage_config
from traincycle.cost import tracked
from traincycle.datasource import check_watched
from traincycle.errors import report_errors
from traincycle.ingest import IngestConfig
from traincycle.io import write_json, write_parquet
from traincycle.modalities import modality
from traincycle.pipeline import stage_deps
from traincycle.provenance import stamp_raw


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--out", "out_path", required=True, help="Parquet file for the raw table.")
@click.option("--provenance", "provenance_path", required=True, help="JSON provenance record.")
@click.option("--stage-file", default=None,
              help="dvc.yaml: one of ingest's deps there must cover data.source (DVC watches it).")
@tracked("ingest")
@report_errors
def main(params_path: str, out_path: str, provenance_path: str, stage_file: str | None) -> None:
    data, _, cfg = load_stage_config(params_path, "ingest", IngestConfig)
    if stage_file:
        check_watched(data.source, stage_deps(stage_file, "ingest"), stage_file)
    df, provenance = modality(data.modality).ingest(data, cfg)
    write_parquet(df, out_path)
    write_json(stamp_raw(provenance, out_path), provenance_path)
    click.echo(f"ingest: {provenance['rows']} rows x {provenance['columns']} columns from {data.source}")


if __name__ == "__main__":
    main()
