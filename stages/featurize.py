"""featurize: fit cleaning and encoding on train, transform every split, scan train labels."""

import click

from traincycle.config import load_stage_config
from traincycle.cost import tracked
from traincycle.errors import report_errors
from traincycle.featurize import SPLITS, FeaturizeConfig, save_featurizer
from traincycle.headline import write_reports
from traincycle.io import read_parquet, write_parquet
from traincycle.modalities import modality


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--in-dir", required=True, help="Directory with interim train/val/test.parquet.")
@click.option("--out-dir", required=True, help="Directory for processed train/val/test.parquet.")
@click.option("--featurizer", "featurizer_path", required=True, help="featurizer.skops to write.")
@click.option("--featurizer-meta", "meta_path", required=True, help="featurizer.json to write.")
@click.option("--label-issues", "issues_path", required=True, help="Parquet table of suspect labels.")
@click.option("--metrics", "metrics_path", required=True, help="Headline featurize figures.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@tracked("featurize")
@report_errors
def main(
    params_path: str,
    in_dir: str,
    out_dir: str,
    featurizer_path: str,
    meta_path: str,
    issues_path: str,
    metrics_path: str,
    details_path: str,
) -> None:
    data, seed, cfg = load_stage_config(params_path, "featurize", FeaturizeConfig)
    parts = {split: read_parquet(f"{in_dir}/{split}.parquet") for split in SPLITS}
    featurizer, processed, issues, report = modality(data.modality).featurize(parts, data, cfg, seed)
    for split, frame in processed.items():
        write_parquet(frame, f"{out_dir}/{split}.parquet")
    save_featurizer(featurizer, featurizer_path, meta_path)
    write_parquet(issues, issues_path)
    write_reports("featurize", report, details_path, metrics_path)
    rows = ", ".join(f"{s} {report['rows'][s]['out']}" for s in SPLITS)
    click.echo(
        f"featurize: {report['n_features']} features; rows {rows}; "
        f"{report['label_issues_found']} suspect train labels"
    )


if __name__ == "__main__":
    main()
