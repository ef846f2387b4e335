"""What every model family shares: the fitted Model, fit inputs/outputs, scores, sklearn I/O."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError

MODEL_JSON = "model.json"
SKOPS_FILE = "model.skops"


@dataclasses.dataclass(frozen=True)
class FitSpec:
    """What a family needs to know besides its own params."""

    task: str
    n_classes: int
    seed: int
    class_weight: str = "none"
    feature_names: tuple[str, ...] = ()
    #: output columns holding category codes that a family may treat natively (xgboost)
    categorical_features: tuple[str, ...] = ()
    #: (height, width, channels) of image inputs whose pixels are the feature columns (cnn)
    input_shape: tuple[int, ...] = ()
    #: a fitted text vectorizer from featurize (tfidf_logistic)
    vectorizer: Any = None
    #: called with (iteration, curve row) as iterative families train (a tune trial's pruner)
    progress: Any = None


@dataclasses.dataclass
class Fit:
    """A family's fit result: the native object and what training learned about itself."""

    native: Any
    n_parameters: int
    best_iteration: int | None = None
    #: per iteration/epoch: {"train/loss": .., "val/loss": .., "train/<metric>": .., "val/<metric>": ..}
    curves: list[dict[str, float]] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the fitted model's val probabilities/values, once scored (so val is not predicted twice)
    val_outputs: Any = None


@dataclasses.dataclass
class Model:
    """A trained model of any family behind one interface.

    ``predict_proba(X) -> (n, n_classes)`` (classification), ``predict(X)`` (class index or
    value); ``native`` is the underlying sklearn / xgboost / torch object for exporters.
    """

    family: str
    task: str
    classes: list[str]
    feature_names: list[str]
    native: Any
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the family's module (its hooks), bound by the registry so this module never imports it back
    hooks: ModuleType = dataclasses.field(kw_only=True, repr=False, compare=False)

    def _family(self) -> ModuleType:
        return self.hooks

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Class probabilities, columns in ``classes`` order."""
        if self.task == "regression":
            raise DataError(f"model: predict_proba needs a classifier; this {self.family} model regresses")
        return np.asarray(self._family().predict_proba(self.native, self.as_matrix(X)), dtype=np.float64)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Class index (classification) or predicted value (regression)."""
        if self.task == "regression":
            return np.asarray(self._family().predict_values(self.native, self.as_matrix(X)), dtype=np.float64)
        return self.predict_proba(X).argmax(axis=1)

    def scores(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """What the exported graph outputs: probabilities, or an ``[N, 1]`` column of values."""
        if self.task == "regression":
            return self.predict(X).reshape(-1, 1)
        return self.predict_proba(X)

    def as_matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """float32 features in ``feature_names`` order (DataFrames are matched by column name)."""
        if getattr(self._family(), "INPUT", "features") == "text":
            return text_array(X, self.feature_names)
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names if c not in X.columns]
            if missing:
                raise DataError(f"model: feature column {missing[0]!r} is missing from the input")
            X = X[self.feature_names].to_numpy()
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise DataError(f"model: expected {len(self.feature_names)} feature columns, got shape {X.shape}")
        return X


def text_array(X: pd.DataFrame | np.ndarray, feature_names: list[str]) -> np.ndarray:
    """1-D object array of documents: the text column of a DataFrame, or the texts themselves."""
    if isinstance(X, pd.DataFrame):
        if feature_names[0] not in X.columns:
            raise DataError(f"model: text column {feature_names[0]!r} is missing from the input")
        X = X[feature_names[0]]
    texts = np.asarray(X, dtype=object)
    if texts.ndim == 2 and texts.shape[1] == 1:
        texts = texts[:, 0]
    if texts.ndim != 1:
        raise DataError(f"model: expected one text per row, got shape {texts.shape}")
    return np.array(["" if t is None or t is pd.NA else str(t) for t in texts], dtype=object)


def main_metric(task: str) -> str:
    """The metric curves and diagnosis track: roc_auc, accuracy or rmse."""
    return {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}[task]


def score(task: str, y: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """Metrics of predictions: probabilities (classification) or values (regression)."""
    from sklearn import metrics

    if task == "regression":
        return {
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, output))),
            "mae": float(metrics.mean_absolute_error(y, output)),
            "r2": float(metrics.r2_score(y, output)),
        }
    labels = np.arange(output.shape[1])
    pred = output.argmax(axis=1)
    proba = np.clip(output, 1e-15, 1.0)
    out = {
        "log_loss": float(metrics.log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=labels)),
        "accuracy": float(metrics.accuracy_score(y, pred)),
    }
    present = len(np.unique(y)) == output.shape[1]
    if task == "binary":
        out["roc_auc"] = float(metrics.roc_auc_score(y, output[:, 1])) if present else float("nan")
        out["f1"] = float(metrics.f1_score(y, pred, zero_division=0))
    else:
        out["roc_auc"] = (
            float(metrics.roc_auc_score(y, output, multi_class="ovr", labels=labels))
            if present
            else float("nan")
        )
        out["f1"] = float(metrics.f1_score(y, pred, average="macro", zero_division=0))
    return out


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Per-class weights n / (k * count(class)) from train class counts, as class_weight='balanced'."""
    return counts.sum() / (np.count_nonzero(counts) * np.maximum(counts, 1))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights n / (k * count(class)), as sklearn's class_weight='balanced'."""
    return class_weights(np.bincount(y))[y].astype(np.float64)


def save_sklearn(native: Any, directory: Path) -> dict[str, Any]:
    """Write a scikit-learn estimator as model.skops (trusted-type list on load)."""
    from traincycle.storage import dump_skops

    dump_skops(native, directory / SKOPS_FILE)
    return {"weights": SKOPS_FILE}


def load_sklearn(directory: Path, meta: dict[str, Any]) -> Any:
    """Load model.skops, refusing types outside the trusted list."""
    from traincycle.storage import load_skops

    return load_skops(directory / meta.get("weights", SKOPS_FILE))


def sklearn_proba(native: Any, X: np.ndarray) -> np.ndarray:
    """predict_proba of a scikit-learn classifier."""
    return native.predict_proba(X)


def sklearn_values(native: Any, X: np.ndarray) -> np.ndarray:
    """predict of a scikit-learn regressor."""
    return native.predict(X)
