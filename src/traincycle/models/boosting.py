"""Gradient-boosted trees with xgboost: hist, early stopping on val, class weighting.

The saved booster is cut to the best iteration, so every consumer (predict, ONNX export)
sees exactly the trees that were selected. Features arrive as a float32 matrix named
f0..fN inside xgboost (what onnxmltools expects); ``Model.feature_names`` keeps real names.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from traincycle.config import check_range
from traincycle.models.base import Fit, FitSpec, class_weights

TASKS = ("binary", "multiclass", "regression")
#: fewer train rows than this makes this family's fit unreliable (fit diagnosis)
MIN_TRAIN_ROWS = 1000
#: the params key setting its thread count (tune --jobs pins it to a trial's cores)
THREADS = "n_jobs"
WEIGHTS = "model.ubj"
#: eval metrics per task; the last one drives early stopping
EVAL_METRICS = {
    "binary": ("auc", "logloss"),
    "multiclass": ("merror", "mlogloss"),
    "regression": ("mae", "rmse"),
}


@dataclasses.dataclass(frozen=True)
class XGBoostConfig:
    """train.xgboost: booster shape, learning rate, regularisation, early stopping."""

    n_estimators: int = 2000
    learning_rate: float = 0.05
    max_depth: int = 6
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    gamma: float = 0.0
    max_bin: int = 256
    #: stop when the val loss has not improved for this many rounds (0: never stop early)
    early_stopping_rounds: int = 100
    #: threads; fixed so runs are reproducible across machines
    n_jobs: int = 2

    def __post_init__(self) -> None:
        check_range("train.xgboost.n_estimators", self.n_estimators, 1)
        check_range("train.xgboost.learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_range("train.xgboost.max_depth", self.max_depth, 1, 32)
        check_range("train.xgboost.min_child_weight", self.min_child_weight, 0.0)
        check_range("train.xgboost.subsample", self.subsample, 0.0, 1.0, low_open=True)
        check_range("train.xgboost.colsample_bytree", self.colsample_bytree, 0.0, 1.0, low_open=True)
        check_range("train.xgboost.reg_lambda", self.reg_lambda, 0.0)
        check_range("train.xgboost.reg_alpha", self.reg_alpha, 0.0)
        check_range("train.xgboost.gamma", self.gamma, 0.0)
        check_range("train.xgboost.max_bin", self.max_bin, 2)
        check_range("train.xgboost.early_stopping_rounds", self.early_stopping_rounds, 0)
        check_range("train.xgboost.n_jobs", self.n_jobs, 1)


def estimator_class(task: str) -> Any:
    """XGBClassifier or XGBRegressor."""
    import xgboost as xgb

    return xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier


def estimator_params(cfg: XGBoostConfig, spec: FitSpec, counts: np.ndarray) -> tuple[dict[str, Any], Any]:
    """Estimator arguments shared by the local and the Dask trainer, and per-class row weights.

    `counts` are the train rows per class (classification); the weights are None unless
    class_weight is balanced on a multiclass task (binary uses scale_pos_weight instead).
    """
    metrics = EVAL_METRICS[spec.task]
    kwargs: dict[str, Any] = {}
    per_class = None
    if spec.class_weight == "balanced":
        if spec.task == "binary":
            kwargs["scale_pos_weight"] = float(counts[0] / max(counts[1] if len(counts) > 1 else 0, 1))
        else:
            per_class = class_weights(counts)
    if spec.categorical_features:
        cats = set(spec.categorical_features)
        kwargs["feature_types"] = ["c" if n in cats else "q" for n in spec.feature_names]
        kwargs["enable_categorical"] = True
        kwargs["max_cat_to_onehot"] = 1
    params = dict(
        n_estimators=cfg.n_estimators,
        learning_rate=cfg.learning_rate,
        max_depth=cfg.max_depth,
        min_child_weight=cfg.min_child_weight,
        subsample=cfg.subsample,
        colsample_bytree=cfg.colsample_bytree,
        reg_lambda=cfg.reg_lambda,
        reg_alpha=cfg.reg_alpha,
        gamma=cfg.gamma,
        max_bin=cfg.max_bin,
        tree_method="hist",
        eval_metric=list(metrics),
        early_stopping_rounds=cfg.early_stopping_rounds or None,
        random_state=spec.seed,
        callbacks=[reporting_callback(spec.progress, metrics, spec.task)] if spec.progress else None,
        **kwargs,
    )
    return params, per_class


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: XGBoostConfig, spec: FitSpec
) -> Fit:
    """Boost on train, early-stop on val, keep the best iteration only."""
    counts = np.bincount(y) if spec.task != "regression" else np.zeros(0)
    params, per_class = estimator_params(cfg, spec, counts)
    weights = None if per_class is None else per_class[y].astype(np.float64)
    est = estimator_class(spec.task)(n_jobs=cfg.n_jobs, **params)
    est.fit(X, y, sample_weight=weights, eval_set=[(X, y), (X_val, y_val)], verbose=False)
    return fitted(est, cfg, spec)


def fit_dask(client: Any, data: tuple[Any, Any, Any, Any], counts: np.ndarray, cfg: XGBoostConfig,
             spec: FitSpec) -> Fit:
    """The `train.engine: dask` trainer: xgboost.dask on Dask arrays, same params, same Fit.

    Each worker builds its share of the histograms with its own threads; the booster that comes
    back is the same kind of object a local fit makes (saved, loaded and exported alike).
    """
    from xgboost import dask as dxgb

    X, y, X_val, y_val = data
    params, per_class = estimator_params(cfg, spec, counts)
    weights = None if per_class is None else y.map_blocks(lambda b: per_class[b], dtype=np.float64)
    kind = dxgb.DaskXGBRegressor if spec.task == "regression" else dxgb.DaskXGBClassifier
    est = kind(**params)
    est.client = client
    est.fit(X, y, sample_weight=weights, eval_set=[(X, y), (X_val, y_val)], verbose=False)
    return fitted(est, cfg, spec)


def predict_dask(client: Any, native: Any, X: Any, task: str) -> np.ndarray:
    """Probabilities (n, classes) or values of a fitted model on a Dask array, gathered here."""
    from xgboost import dask as dxgb

    out = np.asarray(dxgb.predict(client, native.get_booster(), X).compute(), dtype=np.float64)
    if task == "binary":
        return np.column_stack([1.0 - out, out])
    return out


def fitted(est: Any, cfg: XGBoostConfig, spec: FitSpec) -> Fit:
    """The Fit record of a trained estimator (local or Dask): cut to its best round."""
    best = int(est.best_iteration) if cfg.early_stopping_rounds else cfg.n_estimators - 1
    native = cut(est, best, spec.task)
    return Fit(
        native,
        count_nodes(native),
        best,
        curves(est.evals_result(), EVAL_METRICS[spec.task], spec.task),
        {
            "n_trees": int(native.get_booster().num_boosted_rounds()),
            "native_categorical": bool(spec.categorical_features),
        },
    )


def cut(est: Any, best: int, task: str) -> Any:
    """A fresh estimator holding only rounds 0..best (what early stopping selected)."""
    raw = est.get_booster()[: best + 1].save_raw("ubj")
    native = estimator_class(task)()
    native.load_model(bytearray(raw))
    return native


def check_exportable(meta: dict[str, Any]) -> None:
    """Native categorical splits have no ONNX form: refuse before exporting."""
    from traincycle.errors import ConfigError

    if meta.get("categorical_features"):
        raise ConfigError(
            "params featurize.encoding: xgboost with native categoricals cannot be exported to "
            "ONNX; use encoding ordinal or onehot for a model that optimize can ship"
        )


def export_onnx(native: Any, task: str, n_features: int) -> Any:
    """ONNX via skl2onnx with onnxmltools' xgboost converter registered (it caps opsets at 15)."""
    import xgboost
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    from traincycle.export import sklearn_onnx

    if isinstance(native, xgboost.Booster):
        raise NotImplementedError("export needs an XGBClassifier/XGBRegressor, not a raw Booster")
    update_registered_converter(
        xgboost.XGBClassifier, "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
        convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        overwrite=True,
    )
    update_registered_converter(
        xgboost.XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes,
        convert_xgboost, overwrite=True,
    )
    options = {id(native): {"zipmap": False}} if task != "regression" else {}
    return sklearn_onnx(native, task, n_features, options)


def n_trees(native: Any) -> int:
    """Boosting rounds in the model (what tree trimming can cut)."""
    return int(native.get_booster().num_boosted_rounds())


def trim(native: Any, task: str, keep: int) -> Any:
    """The model keeping its first `keep` rounds."""
    return cut(native, keep - 1, task)


#: shap's TreeExplainer applies; it explains the raw margin (log-odds)
SHAP_OUTPUT = "margin"


def shap_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Tree SHAP values (rows, features[, classes]) from xgboost's own `pred_contribs`.

    Exactly what shap's TreeExplainer returns for an xgboost model (it calls the same
    prediction, on a DMatrix built with the estimator's settings, and drops the bias column),
    without importing shap.
    """
    import xgboost

    settings = {"missing": native.missing, "nthread": native.n_jobs,
                "enable_categorical": native.enable_categorical, "feature_types": native.feature_types}
    phi = native.get_booster().predict(xgboost.DMatrix(X, **settings), pred_contribs=True,
                                       validate_features=False)
    return phi[:, :-1] if phi.ndim == 2 else np.stack([phi[:, i, :-1] for i in range(phi.shape[1])], axis=-1)


def count_nodes(native: Any) -> int:
    """Split and leaf nodes across all trees: the model's parameter count."""
    return sum(tree.count("\n") for tree in native.get_booster().get_dump())


def curves(
    history: dict[str, dict[str, list[float]]], metrics: tuple[str, str], task: str
) -> list[dict[str, float]]:
    """Per-iteration train/val loss and main metric from xgboost's eval history."""
    return [curve_row(history, metrics, i) for i in range(len(history["validation_0"][metrics[1]]))]


def curve_row(
    history: dict[str, dict[str, list[float]]], metrics: tuple[str, str], i: int
) -> dict[str, float]:
    """Iteration `i` of the eval history as a curve row (train/val loss and main metric)."""
    metric, loss = metrics
    name = {"auc": "roc_auc", "merror": "accuracy", "mae": "mae"}[metric]
    train, val = history["validation_0"], history["validation_1"]

    def main(values: list[float]) -> float:
        # report accuracy, not its complement, so every classification curve rises
        return 1.0 - values[i] if metric == "merror" else values[i]

    return {"train/loss": train[loss][i], "val/loss": val[loss][i],
            f"train/{name}": main(train[metric]), f"val/{name}": main(val[metric])}


def reporting_callback(progress: Any, metrics: tuple[str, str], task: str) -> Any:
    """An xgboost callback handing each round's curve row to `progress` (which may stop training)."""
    import xgboost as xgb

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            progress(epoch, curve_row(evals_log, metrics, -1))
            return False

    return Report()


def save(native: Any, directory: Path) -> dict[str, Any]:
    """Write the booster as UBJSON."""
    native.save_model(directory / WEIGHTS)
    return {"weights": WEIGHTS}


def load(directory: Path, meta: dict[str, Any]) -> Any:
    """Load the booster into an XGBClassifier/XGBRegressor."""
    native = estimator_class(meta["task"])()
    native.load_model(directory / meta.get("weights", WEIGHTS))
    return native


def predict_proba(native: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities."""
    return native.predict_proba(X)


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Regression predictions."""
    return native.predict(X)


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.xgboost.max_depth={max(2, p.get('max_depth', 6) - 2)}",
                f"train.xgboost.min_child_weight={p.get('min_child_weight', 1.0) * 4:g}"]
    if at_budget_end:
        return [f"train.xgboost.n_estimators={p.get('n_estimators', 1000) * 2}"]
    return [f"train.xgboost.max_depth={p.get('max_depth', 6) + 2}"]
