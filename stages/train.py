"""train: fit the configured model family on processed train, early-stopping on val."""

import time
from dataclasses import replace

import click

from traincycle.config import load_stage_config, read_params
from traincycle.cost import note_model_flops, tracked
from traincycle.errors import report_errors
from traincycle.headline import write_reports
from traincycle.io import read_json, read_parquet, write_json, write_parquet
from traincycle.modalities import of_featurizer
from traincycle.provenance import params_digest
from traincycle.pruning import reporter
from traincycle.train import TrainConfig, check_config, log_curves, train, train_on_dask, val_predictions


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--train", "train_path", required=True, help="Processed train.parquet.")
@click.option("--val", "val_path", required=True, help="Processed val.parquet.")
@click.option("--featurizer-meta", "meta_path", required=True, help="featurizer.json.")
@click.option("--model-dir", required=True, help="Directory for model.json and the weights.")
@click.option("--metrics", "metrics_path", required=True, help="Headline val metric.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@click.option("--live-dir", required=True, help="dvclive directory for learning curves.")
@click.option("--diagnosis", "diagnosis_path", required=True, help="JSON fit diagnosis.")
@click.option("--val-predictions", "val_rows_path", required=True, help="Per-row val predictions (Parquet).")
@click.option("--times", "times_paths", nargs=2, default=None,
              help="Interim train and val Parquet: each row's time, for train.time_cv_folds.")
@click.option("--timings", default=".traincycle/timings/train.json", show_default=True)
@tracked("train")
@report_errors
def main(
    params_path: str,
    train_path: str,
    val_path: str,
    meta_path: str,
    model_dir: str,
    metrics_path: str,
    details_path: str,
    live_dir: str,
    diagnosis_path: str,
    val_rows_path: str,
    times_paths: tuple[str, str] | None,
    timings: str,
) -> None:
    from traincycle.diagnosis import diagnose, summary_line
    from traincycle.models import save_model

    data, seed, cfg = load_stage_config(params_path, "train", TrainConfig)
    check_config(data, cfg)  # before reading data or training
    meta = read_json(meta_path)
    started = time.perf_counter()
    if cfg.engine == "dask":  # no pruning reporter: the Dask trainer runs every round it is given
        model, fitted, report, workers = train_on_dask((train_path, val_path), meta, data, cfg, seed)
        val_frame = read_parquet(val_path)  # for the per-row val predictions only
        engine = f" on Dask ({workers} workers)"
    else:
        extras = of_featurizer(meta).fit_inputs(meta_path)  # e.g. the TF-IDF featurize fitted (text)
        train_frame, val_frame = read_parquet(train_path), read_parquet(val_path)
        positions = time_positions(times_paths, (train_frame, val_frame), data, cfg)
        model, fitted, report = train(train_frame, val_frame, meta, data, cfg, seed,
                                      progress=reporter(), positions=positions,
                                      **extras)  # reporter: only inside a tune trial
        note_model_flops(model, train_frame, len(fitted.curves))  # torch families: FLOPs to .traincycle/cost
        engine = ""
    seconds = time.perf_counter() - started
    log_curves(fitted.curves, live_dir)  # first: the one write that can fail (dvclive asks git)
    # the digest of every params section that shaped the model (dvc.yaml declares them all here)
    save_model(replace(model, info={**model.info, "params_sha256": params_digest(read_params(params_path))}),
               model_dir)
    write_parquet(val_predictions(model, fitted, val_frame, meta), val_rows_path)
    write_reports("train", report, details_path, metrics_path)
    diagnosis = diagnose(
        report["model"],
        data.task,
        fitted.curves,
        report["train"],
        report["val"],
        model.params,
        report["n_train"],
        report["n_features"],
        fitted.best_iteration,
        report["baselines"],
    )
    write_json(diagnosis, diagnosis_path)
    write_json({"train_seconds": seconds, "model": report["model"], "engine": cfg.engine}, timings)
    val = ", ".join(f"{k} {v:.4f}" for k, v in report["val"].items())
    picked = f" (auto: {report['candidates']})" if "candidates" in report else ""
    click.echo(f"train: {report['model']}{picked}{engine} in {seconds:.1f}s; val {val}")
    click.echo(summary_line(diagnosis))


def time_positions(paths, processed, data, cfg):
    """Each processed train/val row's time step, when expanding-window folds are asked for."""
    if not cfg.time_cv_folds or not paths:
        return None
    from traincycle.time_cv import positions_of

    row_ids = tuple(frame["row_id"].to_numpy() for frame in processed)
    return positions_of(tuple(read_parquet(p) for p in paths), row_ids, data.time)


if __name__ == "__main__":
    main()
