"""Reference figures for the image README table: an RBF SVC on the same split as the pipeline.

Run after `dvc repro` with examples/params-image.yaml (in that repository):

    PYTHONPATH=src python benchmarks/modalities.py --processed data/processed

It fits scikit-learn's ``SVC`` (RBF, C=10, gamma='scale') on the processed train split (the
featurizer's normalised pixels) and prints its test accuracy next to reports/evaluate.json's.
Reading test here is a benchmark, not a pipeline stage: nothing it prints feeds back into a model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np


@click.command()
@click.option("--processed", default="data/processed", show_default=True)
@click.option("--meta", default="models/featurizer.json", show_default=True)
@click.option("--evaluate", "evaluate_path", default="reports/evaluate.json", show_default=True)
def main(processed: str, meta: str, evaluate_path: str) -> None:
    from sklearn.svm import SVC

    from traincycle.io import read_json, read_parquet

    info = read_json(meta)
    names, target = info["feature_names"], info["target"]
    train, test = (read_parquet(Path(processed) / f"{s}.parquet") for s in ("train", "test"))
    start = time.perf_counter()
    svc = SVC(C=10.0, gamma="scale").fit(train[names].to_numpy(np.float32), train[target].to_numpy())
    accuracy = float((svc.predict(test[names].to_numpy(np.float32)) == test[target].to_numpy()).mean())
    seconds = time.perf_counter() - start
    ours = read_json(evaluate_path)["metrics"]["accuracy"] if Path(evaluate_path).exists() else None
    click.echo(json.dumps({"svc_test_accuracy": round(accuracy, 4), "svc_seconds": round(seconds, 1),
                           "pipeline_test_accuracy": ours}))


if __name__ == "__main__":
    main()
