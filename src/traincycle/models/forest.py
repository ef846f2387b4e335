"""Random forest (classification and regression), seeded and multi-threaded."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_proba, sklearn_values

TASKS = ("binary", "multiclass", "regression")


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


save = save_sklearn
load = load_sklearn
predict_proba = sklearn_proba
predict_values = sklearn_values
