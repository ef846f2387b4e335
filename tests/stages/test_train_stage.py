"""train stage script: fast families, determinism, bad params, regression on diabetes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from test_featurize_stage import FEATURIZE, prepare, run_stage

TRAIN = [
    "--params",
    "params.yaml",
    "--train",
    "processed/train.parquet",
    "--val",
    "processed/val.parquet",
    "--featurizer-meta",
    "models/featurizer.json",
    "--model-dir",
    "models/model",
    "--metrics",
    "headline.json",
    "--details",
    "train.json",
    "--live-dir",
    "dvclive",
    "--diagnosis",
    "fit_diagnosis.json",
    "--val-predictions",
    "val_predictions.parquet",
    "--timings",
    "timings.json",
]
FAST = {
    "xgboost": {"n_estimators": 80, "learning_rate": 0.2, "early_stopping_rounds": 10},
    "mlp": {"epochs": 4, "hidden": [16]},
}


def featurized(tmp_path: Path, train: dict, source: str = "builtin:adult") -> Path:
    prepare(tmp_path, source=source, train=train)
    done = run_stage("featurize", *FEATURIZE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


@pytest.mark.parametrize("family", ["xgboost", "logistic"])
def test_train_is_byte_identical_across_runs(tmp_path: Path, family: str) -> None:
    featurized(tmp_path, {"model": family, **{k: v for k, v in FAST.items() if k == family}})
    outputs = {}
    for _ in range(2):
        done = run_stage("train", *TRAIN, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("fit: ") == 1
        files = [
            *sorted((tmp_path / "models" / "model").iterdir()),
            tmp_path / "train.json",
            tmp_path / "fit_diagnosis.json",
            tmp_path / "val_predictions.parquet",
            *sorted((tmp_path / "dvclive").rglob("*.*")),
        ]
        outputs.setdefault("runs", []).append({p.name: p.read_bytes() for p in files})
    assert outputs["runs"][0] == outputs["runs"][1]
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["model"] == family and metrics["val"]["roc_auc"] > 0.8
    head = json.loads((tmp_path / "headline.json").read_text())
    assert head["model"] == family and head["val"] == {"roc_auc": metrics["val"]["roc_auc"]}
    assert set(metrics["baselines"]) == {"majority", "logistic"}  # on val, every run
    assert head["baselines"] == {k: v["roc_auc"] for k, v in metrics["baselines"].items()}
    assert "simpler_model" in json.loads((tmp_path / "fit_diagnosis.json").read_text())
    rows = pd.read_parquet(tmp_path / "val_predictions.parquet")  # what report pairs experiments on
    val = pd.read_parquet(tmp_path / "processed" / "val.parquet")
    assert sorted(rows["row_id"]) == sorted(val["row_id"])
    assert roc_auc_score(rows["y"], rows["p1"]) == pytest.approx(metrics["val"]["roc_auc"], abs=1e-6)
    assert "seconds" not in (tmp_path / "train.json").read_text()
    assert json.loads((tmp_path / "timings.json").read_text())["train_seconds"] > 0
    assert (tmp_path / "dvclive" / "plots" / "metrics" / "val" / "loss.tsv").exists()
    assert "timestamp" not in (tmp_path / "dvclive" / "plots" / "metrics" / "val" / "loss.tsv").read_text()
    assert not (tmp_path / "dvc.yaml").exists()


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"model": "catboost"}, "unknown model 'catboost'"),
        ({"model": "mlp", "mlp": {"lr": -0.1}}, "train.mlp.lr"),
        ({"model": "mlp", "mlp": {"scheduler": "step", "step": None}}, "train.mlp.step"),
        ({"model": "xgboost", "xgboost": {"max_depth": "deep"}}, "train.xgboost.max_depth"),
        ({"model": "linear"}, "cannot do a binary task"),
    ],
)
def test_bad_params_fail_before_training(tmp_path: Path, train: dict, message: str) -> None:
    """No data exists here at all: the params error must come first."""
    params = {"data": {"source": "builtin:adult", "target": "income", "task": "binary"}, "train": train}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("train", *TRAIN, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "models" / "model").exists()


@pytest.mark.parametrize(
    "family",
    ["linear", pytest.param("xgboost", marks=pytest.mark.slow), pytest.param("mlp", marks=pytest.mark.slow)],
)
def test_regression_on_diabetes(tmp_path: Path, family: str) -> None:
    featurized(
        tmp_path,
        {"model": family, **{k: v for k, v in FAST.items() if k == family}},
        source="builtin:diabetes",
    )
    done = run_stage("train", *TRAIN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert set(metrics["val"]) == {"rmse", "mae", "r2"}
    assert metrics["val"]["r2"] > 0.2 if family != "mlp" else metrics["val"]["rmse"] < 100
    model = json.loads((tmp_path / "models" / "model" / "model.json").read_text())
    assert model["task"] == "regression" and model["classes"] == []
