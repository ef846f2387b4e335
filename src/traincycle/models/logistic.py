"""Logistic regression (classification): standardised inputs, L2 penalty, lbfgs."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from traincycle.config import check_range
from traincycle.export import sklearn_onnx
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_proba

TASKS = ("binary", "multiclass")
#: fewer train rows than this makes this family's fit unreliable (fit diagnosis)
MIN_TRAIN_ROWS = 100


@dataclasses.dataclass(frozen=True)
class LogisticConfig:
    """train.logistic: inverse regularisation strength and solver budget."""

    C: float = 1.0
    max_iter: int = 2000
    #: standardise inputs inside the model (fit on train), so one-hot/unscaled features work
    standardize: bool = True

    def __post_init__(self) -> None:
        check_range("train.logistic.C", self.C, 0.0, low_open=True)
        check_range("train.logistic.max_iter", self.max_iter, 1)


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: LogisticConfig, spec: FitSpec
) -> Fit:
    """Fit on train; val is unused (no iterations to stop early)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = LogisticRegression(
        C=cfg.C,
        max_iter=cfg.max_iter,
        class_weight="balanced" if spec.class_weight == "balanced" else None,
        random_state=spec.seed,
    )
    native = make_pipeline(StandardScaler(), clf) if cfg.standardize else clf
    native.fit(X, y)
    return Fit(native, n_parameters=int(clf.coef_.size + clf.intercept_.size))


export_onnx = sklearn_onnx
save = save_sklearn
load = load_sklearn
predict_proba = sklearn_proba


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Not a regressor: the registry never calls this for logistic."""
    raise NotImplementedError("logistic regression is a classifier")


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.logistic.C={p.get('C', 1.0) / 10:g}"]
    return [f"train.logistic.C={p.get('C', 1.0) * 10:g}", "train.model=xgboost"]
