"""optimize: ONNX export, pruning and int8 variants behind a parity gate on validation."""

from pathlib import Path

import click

from traincycle.config import load_stage_config
from traincycle.cost import tracked
from traincycle.errors import report_errors
from traincycle.headline import write_reports
from traincycle.io import read_json, read_parquet, write_bytes, write_json
from traincycle.optimize import (
    MANIFEST_FILE,
    MODEL_FILE,
    Inputs,
    OptimizeConfig,
    artifact_bytes,
    manifest,
    optimize,
    report,
    serving_inputs,
    source_hash,
    time_variants,
)
from traincycle.provenance import data_version


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--featurizer", "featurizer_path", required=True, help="featurizer.skops (json beside it).")
@click.option("--model-dir", required=True, help="Trained model directory.")
@click.option("--processed-dir", required=True, help="Processed train/val.parquet (never test).")
@click.option("--interim-dir", required=True, help="Raw train/val.parquet rows for the ONNX graph.")
@click.option("--out-dir", required=True, help="Directory for model.onnx and manifest.json.")
@click.option("--metrics", "metrics_path", required=True, help="Headline: chosen variant, size.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@click.option("--timings", default=".traincycle/timings/optimize.json", show_default=True)
@click.option("--provenance", default=None, help="Ingest's provenance.json: how to parse new rows.")
@click.option("--schema", "schema_path", default=None, help="schema.yaml: numeric ranges to flag.")
@tracked("optimize")
@report_errors
def main(params_path: str, featurizer_path: str, model_dir: str, processed_dir: str,
         interim_dir: str, out_dir: str, metrics_path: str, details_path: str, timings: str,
         provenance: str | None, schema_path: str | None) -> None:
    from traincycle.featurize import load_featurizer
    from traincycle.io import atomic_dir
    from traincycle.models import load_model

    _data, seed, cfg = load_stage_config(params_path, "optimize", OptimizeConfig)
    fz, model = load_featurizer(featurizer_path), load_model(model_dir)
    version = data_version(read_json(provenance) if provenance else {}, model.info)
    native = [Path(model_dir), Path(featurizer_path), Path(featurizer_path).with_suffix(".json")]
    inp = Inputs(fz, model, *(read_parquet(f"{d}/{s}.parquet") for s in ("val", "train")
                              for d in (processed_dir, interim_dir)))
    variants, chosen, native_metric = optimize(inp, cfg, seed)
    metrics = report(variants, chosen, native_metric, model.task, artifact_bytes(native))
    with atomic_dir(out_dir) as tmp:
        write_bytes(chosen.onnx, tmp / MODEL_FILE)
        served = manifest(chosen, fz, model, source_hash(native), *serving_inputs(provenance, schema_path))
        write_json({**served, "data": version}, tmp / MANIFEST_FILE)
    write_reports("optimize", metrics, details_path, metrics_path)
    latency = time_variants(variants, inp, cfg)
    write_json({"latency": latency}, timings)
    dropped = [f"{v.name} ({v.verdict['reason']})" for v in variants if not v.verdict["accepted"]]
    click.echo(f"optimize: shipped {chosen.name} ({len(chosen.onnx)} bytes, {metrics['metric']} "
               f"delta {chosen.figures['metric_delta']:+.4f}, batch-1 latency "
               f"{latency[chosen.name]['batch1_vs_native']:.2f}x native)"
               + (f"; dropped: {', '.join(dropped)}" if dropped else ""))


if __name__ == "__main__":
    main()
