"""Ridge regression (regression): standardised inputs, L2 penalty."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from traincycle.config import check_range
from traincycle.export import sklearn_onnx
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_values

TASKS = ("regression",)


@dataclasses.dataclass(frozen=True)
class LinearConfig:
    """train.linear: ridge penalty."""

    alpha: float = 1.0
    #: standardise inputs inside the model (fit on train)
    standardize: bool = True

    def __post_init__(self) -> None:
        check_range("train.linear.alpha", self.alpha, 0.0)


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: LinearConfig, spec: FitSpec
) -> Fit:
    """Closed-form ridge fit on train; val is unused."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    reg = Ridge(alpha=cfg.alpha)
    native = make_pipeline(StandardScaler(), reg) if cfg.standardize else reg
    native.fit(X, y)
    return Fit(native, n_parameters=int(np.size(reg.coef_) + np.size(reg.intercept_)))


export_onnx = sklearn_onnx
save = save_sklearn
load = load_sklearn
predict_values = sklearn_values


def predict_proba(native: Any, X: np.ndarray) -> np.ndarray:
    """Not a classifier: the registry never calls this for ridge."""
    raise NotImplementedError("ridge regression is a regressor")


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.linear.alpha={p.get('alpha', 1.0) * 10:g}"]
    return [f"train.linear.alpha={p.get('alpha', 1.0) / 10:g}", "train.model=xgboost"]
