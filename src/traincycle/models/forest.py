"""Random forest (classification and regression), seeded and multi-threaded."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.export import sklearn_onnx
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_proba, sklearn_values

TASKS = ("binary", "multiclass", "regression")
#: fewer train rows than this makes this family's fit unreliable (fit diagnosis)
MIN_TRAIN_ROWS = 200
#: the params key setting its thread count (tune --jobs pins it to a trial's cores)
THREADS = "n_jobs"


@dataclasses.dataclass(frozen=True)
class ForestConfig:
    """train.random_forest: number and shape of trees."""

    n_estimators: int = 300
    #: 0 = grow until leaves are pure (bounded by min_samples_leaf)
    max_depth: int = 0
    min_samples_leaf: int = 3
    max_features: Literal["sqrt", "log2", "all"] = "sqrt"
    n_jobs: int = 2

    def __post_init__(self) -> None:
        check_range("train.random_forest.n_estimators", self.n_estimators, 1)
        check_range("train.random_forest.max_depth", self.max_depth, 0)
        check_range("train.random_forest.min_samples_leaf", self.min_samples_leaf, 1)
        check_range("train.random_forest.n_jobs", self.n_jobs, 1)


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: ForestConfig, spec: FitSpec
) -> Fit:
    """Grow the forest on train; val is unused."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    common: dict[str, Any] = {
        "n_estimators": cfg.n_estimators,
        "max_depth": cfg.max_depth or None,
        "min_samples_leaf": cfg.min_samples_leaf,
        "max_features": None if cfg.max_features == "all" else cfg.max_features,
        "n_jobs": cfg.n_jobs,
        "random_state": spec.seed,
    }
    if spec.task == "regression":
        native: Any = RandomForestRegressor(**common)
    else:
        weight = "balanced" if spec.class_weight == "balanced" else None
        native = RandomForestClassifier(class_weight=weight, **common)
    native.fit(X, y)
    nodes = sum(int(tree.tree_.node_count) for tree in native.estimators_)
    return Fit(native, n_parameters=nodes, extra={"n_trees": len(native.estimators_)})


def n_trees(native: Any) -> int:
    """Trees in the forest (what tree trimming can cut)."""
    return len(native.estimators_)


def trim(native: Any, task: str, keep: int) -> Any:
    """A copy of the forest keeping its first `keep` trees."""
    import copy

    trimmed = copy.deepcopy(native)
    trimmed.estimators_ = trimmed.estimators_[:keep]
    trimmed.n_estimators = keep
    return trimmed


#: shap's TreeExplainer applies, on the probability scale
SHAP_OUTPUT = "probability"
export_onnx = sklearn_onnx
save = save_sklearn
load = load_sklearn
predict_proba = sklearn_proba
predict_values = sklearn_values


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.random_forest.min_samples_leaf={p.get('min_samples_leaf', 1) * 3}"]
    return ["train.random_forest.min_samples_leaf=1", "train.random_forest.max_depth=0"]
