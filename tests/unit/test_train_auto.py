"""train: baselines on val in every run, and `train.model: auto` picking the family by val metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, build
from traincycle.errors import ConfigError
from traincycle.train import TrainConfig, pick_family, train


def frames(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A linear problem: logistic regression is the right model for it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X @ np.array([1.5, -1.0, 0.5, 0.0]) + rng.normal(0, 1, n) > 0).astype(np.int64)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]).assign(label=y)
    meta = {"feature_names": [f"f{i}" for i in range(4)], "target": "label", "task": "binary",
            "classes": ["no", "yes"]}
    return df.iloc[: n // 2], df.iloc[n // 2:], meta


def config(**train) -> TrainConfig:
    return build(TrainConfig, {"xgboost": {"n_estimators": 30, "early_stopping_rounds": 5}, **train}, "train")


DATA = DataConfig(source="x.csv", target="label", task="binary")


def test_every_run_scores_the_trivial_and_the_simple_baseline_on_val():
    tr, va, meta = frames()
    _, _, report = train(tr, va, meta, DATA, config(model="xgboost"), 0)
    base = report["baselines"]
    assert set(base) == {"majority", "logistic"}
    assert base["majority"]["roc_auc"] == pytest.approx(0.5)
    assert base["logistic"]["roc_auc"] > 0.8
    _, _, own = train(tr, va, meta, DATA, config(model="logistic"), 0)
    assert own["baselines"]["logistic"] == own["val"]  # the model itself: not fitted twice


def test_auto_keeps_the_best_val_family_and_lists_the_candidates():
    tr, va, meta = frames()
    model, _, report = train(tr, va, meta, DATA, config(model="auto", candidates=["xgboost", "logistic"]), 0)
    cand = report["candidates"]
    assert set(cand) == {"xgboost", "logistic"}
    assert report["model"] == max(cand, key=cand.get) == model.family
    assert report["val"]["roc_auc"] == cand[report["model"]]


def test_pick_family_honours_direction_and_ties():
    assert pick_family({"a": 0.8, "b": 0.9}, "roc_auc") == "b"
    assert pick_family({"a": 1.2, "b": 0.9}, "rmse") == "b"
    assert pick_family({"a": 0.9, "b": 0.9}, "roc_auc") == "a"
    assert pick_family({"a": float("nan"), "b": 0.1}, "roc_auc") == "b"


def test_unknown_candidate_is_a_config_error():
    with pytest.raises(ConfigError, match=r"train\.candidates: unknown model 'catboost'"):
        config(model="auto", candidates=["catboost"])


@pytest.mark.parametrize("family, needed", [("cnn", "image"), ("tfidf_logistic", "text")])
def test_a_family_tied_to_a_modality_is_refused_on_another(family, needed):
    from traincycle.train import check_config

    with pytest.raises(ConfigError, match=f"'{family}' needs data.modality: {needed}"):
        check_config(DATA, config(model=family))


def test_val_predictions_reuse_what_train_scored_on_val(monkeypatch):
    from traincycle.train import outputs, val_predictions

    tr, va, meta = frames()
    va = va.assign(row_id=np.arange(len(va)))
    cfg = config(model="auto", candidates=["xgboost", "logistic"])
    model, fitted, _ = train(tr, va, meta, DATA, cfg, 0)
    expected = outputs(model, va[meta["feature_names"]].to_numpy())
    np.testing.assert_allclose(fitted.val_outputs, expected)  # the chosen family's, not the other's

    def refuse(*_a, **_k):
        raise AssertionError("val predicted a second time")

    monkeypatch.setattr(model, "predict_proba", refuse)
    rows = val_predictions(model, fitted, va, meta)
    assert len(rows) == len(va) and rows["row_id"].tolist() == list(range(len(va)))
