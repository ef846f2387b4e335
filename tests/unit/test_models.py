"""Every model family on tiny data: fit, save/load round trip, determinism, task checks."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.config import build
from traincycle.errors import ConfigError
from traincycle.models import FAMILIES, check_task, family_module, fit_model, load_model, save_model
from traincycle.models.base import FitSpec, score
from traincycle.train import TrainConfig

NAMES = tuple(f"x{i}" for i in range(6))


def data(task: str, n: int = 300, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    signal = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2] ** 2
    if task == "regression":
        y = (signal + rng.normal(0, 0.1, n)).astype(np.float64)
    elif task == "binary":
        y = (signal + rng.normal(0, 0.3, n) > 0).astype(np.int64)
    else:
        y = np.digitize(signal, [-0.7, 0.5]).astype(np.int64)
    cut = int(n * 0.75)
    return X[:cut], y[:cut], X[cut:], y[cut:]


def small(family: str) -> object:
    """The family's config shrunk so tests run in well under a second."""
    overrides = {
        "xgboost": {"n_estimators": 60, "learning_rate": 0.2, "early_stopping_rounds": 10},
        "random_forest": {"n_estimators": 20},
        "svm": {"n_components": 50},
        "mlp": {"epochs": 30, "hidden": [16], "patience": 5, "lr": 0.01, "batch_size": 32},
    }.get(family, {})
    return getattr(build(TrainConfig, {family: overrides}, "train"), family)


def fit(family: str, task: str, seed: int = 0):
    classes = {"binary": ["a", "b"], "multiclass": ["a", "b", "c"], "regression": []}[task]
    spec = FitSpec(task=task, n_classes=len(classes), seed=seed, feature_names=NAMES)
    return fit_model(family, small(family), spec, classes, data(task))


CASES = [
    (f, t) for f in FAMILIES for t in ("binary", "multiclass", "regression")
    # image/text families (cnn, tfidf_logistic) are tested in test_images.py / test_text.py
    if t in family_module(f).TASKS and not hasattr(family_module(f), "MODALITY")
]


@pytest.mark.parametrize(("family", "task"), CASES)
def test_family_learns_and_round_trips(family: str, task: str, tmp_path) -> None:
    model, fitted = fit(family, task)
    _, _, X_val, y_val = data(task)
    if task == "regression":
        pred = model.predict(X_val)
        assert pred.shape == (len(y_val),)
        assert score(task, y_val, pred)["r2"] > 0.3
    else:
        proba = model.predict_proba(X_val)
        assert proba.shape == (len(y_val), len(model.classes))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        assert score(task, y_val, proba)["accuracy"] > 0.6
    assert fitted.n_parameters > 0
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert (loaded.family, loaded.task, loaded.classes, loaded.feature_names) == (
        family,
        task,
        model.classes,
        list(NAMES),
    )
    np.testing.assert_allclose(loaded.predict(X_val), model.predict(X_val), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("family", ["logistic", "xgboost", "random_forest", "svm"])
def test_two_fits_give_identical_files(family: str, tmp_path) -> None:
    for name in ("a", "b"):
        model, _ = fit(family, "binary")
        save_model(model, tmp_path / name)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_xgboost_keeps_only_the_best_iteration() -> None:
    model, fitted = fit("xgboost", "binary")
    assert fitted.best_iteration is not None
    assert model.native.get_booster().num_boosted_rounds() == fitted.best_iteration + 1
    assert len(fitted.curves) > fitted.best_iteration
    assert {"train/loss", "val/loss", "train/roc_auc", "val/roc_auc"} <= set(fitted.curves[0])


def test_family_that_cannot_do_the_task_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"logistic.*regression"):
        check_task("logistic", "regression")
    with pytest.raises(ConfigError, match=r"linear.*binary"):
        check_task("linear", "binary")


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'catboost'"):
        build(TrainConfig, {"model": "catboost"}, "train")


def test_dataframe_input_is_matched_by_name() -> None:
    import pandas as pd

    model, _ = fit("logistic", "binary")
    _, _, X_val, _ = data("binary")
    frame = pd.DataFrame(X_val, columns=NAMES)[list(reversed(NAMES))]
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(X_val))


def test_qat_applies_where_the_family_module_says_so() -> None:
    """optimize.qat asks the family (its QAT hook), not the type of the native object."""
    from traincycle.models import FAMILIES, family_module

    assert {f for f in FAMILIES if getattr(family_module(f), "QAT", False)} == {"mlp", "cnn"}
