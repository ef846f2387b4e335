"""Support vector machines that finish in seconds on tens of thousands of rows.

``kernel: linear`` is a LinearSVC/LinearSVR on standardised inputs; ``kernel: rbf``
approximates the RBF kernel with ``n_components`` Nystroem features (cost linear in rows,
unlike an exact kernel SVC's quadratic-to-cubic). Classifiers get probabilities by sigmoid
(Platt) calibration over ``calibration_folds`` folds of train.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_proba, sklearn_values

TASKS = ("binary", "multiclass", "regression")
#: fewer train rows than this makes this family's fit unreliable (fit diagnosis)
MIN_TRAIN_ROWS = 500


@dataclasses.dataclass(frozen=True)
class SVMConfig:
    """train.svm: kernel, margin and approximation size."""

    kernel: Literal["linear", "rbf"] = "rbf"
    C: float = 1.0
    #: RBF width; 0 = 1 / n_features
    gamma: float = 0.0
    n_components: int = 300
    calibration_folds: int = 3
    max_iter: int = 5000

    def __post_init__(self) -> None:
        check_range("train.svm.C", self.C, 0.0, low_open=True)
        check_range("train.svm.gamma", self.gamma, 0.0)
        check_range("train.svm.n_components", self.n_components, 1)
        check_range("train.svm.calibration_folds", self.calibration_folds, 2, 10)
        check_range("train.svm.max_iter", self.max_iter, 1)


def check_exportable(meta: dict[str, Any]) -> None:
    """Refused: skl2onnx 1.20 fails on CalibratedClassifierCV over a Pipeline (zipmap option bug)."""
    from traincycle.errors import ConfigError

    raise ConfigError("params train.model: svm (calibrated Nystroem/LinearSVC pipeline) cannot "
                      "be exported to ONNX yet; optimize supports logistic, linear, "
                      "random_forest, xgboost and mlp")


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: SVMConfig, spec: FitSpec
) -> Fit:
    """Fit on train (calibration folds come from train too); val is unused."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.kernel_approximation import Nystroem
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC, LinearSVR

    steps: list[Any] = [StandardScaler()]
    if cfg.kernel == "rbf":
        gamma = cfg.gamma or 1.0 / X.shape[1]
        steps.append(
            Nystroem(gamma=gamma, n_components=min(cfg.n_components, len(X)), random_state=spec.seed)
        )
    if spec.task == "regression":
        native: Any = make_pipeline(*steps, LinearSVR(C=cfg.C, max_iter=cfg.max_iter, random_state=spec.seed))
        native.fit(X, y)
        svr = native[-1]
        return Fit(native, n_parameters=int(np.size(svr.coef_) + np.size(svr.intercept_)))
    weight = "balanced" if spec.class_weight == "balanced" else None
    svc = LinearSVC(C=cfg.C, class_weight=weight, max_iter=cfg.max_iter, random_state=spec.seed)
    folds = max(2, min(cfg.calibration_folds, int(np.bincount(y).min())))
    native = CalibratedClassifierCV(make_pipeline(*steps, svc), method="sigmoid", cv=folds)
    native.fit(X, y)
    per_fold = sum(
        int(np.size(c.estimator[-1].coef_) + np.size(c.estimator[-1].intercept_))
        for c in native.calibrated_classifiers_
    )
    return Fit(native, n_parameters=per_fold, extra={"kernel": cfg.kernel})


save = save_sklearn
load = load_sklearn
predict_proba = sklearn_proba
predict_values = sklearn_values


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.svm.C={p.get('C', 1.0) / 10:g}"]
    return ["train.svm.kernel=rbf", f"train.svm.C={p.get('C', 1.0) * 10:g}"]
