"""Train one model family on processed train, early-stopping/selecting on val; never on test."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from traincycle.config import DataConfig
from traincycle.errors import ConfigError, DataError
from traincycle.models import FAMILIES, check_task, fit_model
from traincycle.models.base import Fit, FitSpec, Model, main_metric, score
from traincycle.models.boosting import XGBoostConfig
from traincycle.models.forest import ForestConfig
from traincycle.models.linear import LinearConfig
from traincycle.models.logistic import LogisticConfig
from traincycle.models.mlp import MLPConfig
from traincycle.models.svm import SVMConfig

#: the params subsection of each family (train.<key>)
SECTION = {name: name for name in FAMILIES}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """train: which family to fit, class weighting, and every family's own params."""

    model: str = "xgboost"
    #: balanced: weight classes inversely to their train frequency (classification only)
    class_weight: Literal["none", "balanced"] = "none"
    logistic: LogisticConfig = dataclasses.field(default_factory=LogisticConfig)
    linear: LinearConfig = dataclasses.field(default_factory=LinearConfig)
    random_forest: ForestConfig = dataclasses.field(default_factory=ForestConfig)
    svm: SVMConfig = dataclasses.field(default_factory=SVMConfig)
    xgboost: XGBoostConfig = dataclasses.field(default_factory=XGBoostConfig)
    mlp: MLPConfig = dataclasses.field(default_factory=MLPConfig)

    def __post_init__(self) -> None:
        if self.model not in FAMILIES:
            raise ConfigError(
                f"params train.model: unknown model {self.model!r}; expected one of {', '.join(FAMILIES)}"
            )

    def family_config(self) -> Any:
        """The params subsection of the chosen family."""
        return getattr(self, SECTION[self.model])


def check_config(data: DataConfig, cfg: TrainConfig) -> None:
    """Reject params that cannot work for the task, before any data is read."""
    check_task(cfg.model, data.task)
    if cfg.class_weight == "balanced" and data.task == "regression":
        raise ConfigError("params train.class_weight: 'balanced' needs a classification task; use none")


def split_xy(df: pd.DataFrame, meta: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (float32, featurizer order) and encoded target of a processed split."""
    columns = [*meta["feature_names"], meta["target"]]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{where}: column {missing[0]!r} is missing; rerun featurize")
    if df.empty:
        raise DataError(f"{where}: no rows")
    X = df[meta["feature_names"]].to_numpy(dtype=np.float32)
    y = df[meta["target"]].to_numpy()
    y = y.astype(np.float64) if meta["task"] == "regression" else y.astype(np.int64)
    return X, y


def check_featurizer(meta: dict[str, Any], data: DataConfig) -> None:
    """The featurizer must have been built for the same target and task as params say."""
    if meta.get("task") != data.task or meta.get("target") != data.target:
        raise DataError(
            f"featurizer.json: built for target {meta.get('target')!r} ({meta.get('task')}), but params "
            f"say {data.target!r} ({data.task}); rerun featurize"
        )


def outputs(model: Model, X: np.ndarray) -> np.ndarray:
    """Probabilities (classification) or values (regression): what `score` takes."""
    return model.predict(X) if model.task == "regression" else model.predict_proba(X)


def single_step_curve(
    task: str, train_scores: dict[str, float], val_scores: dict[str, float]
) -> list[dict[str, float]]:
    """One-point curve for families without iterations, so every run has the same plots."""
    loss = "rmse" if task == "regression" else "log_loss"
    metric = main_metric(task)
    return [
        {
            "train/loss": train_scores[loss],
            "val/loss": val_scores[loss],
            f"train/{metric}": train_scores[metric],
            f"val/{metric}": val_scores[metric],
        }
    ]


def train(
    train_df: pd.DataFrame,
    val_df: pd.DataFrame,
    meta: dict[str, Any],
    data: DataConfig,
    cfg: TrainConfig,
    seed: int,
) -> tuple[Model, Fit, dict[str, Any]]:
    """Fit the configured family; return the model, its fit record and the metrics report."""
    check_config(data, cfg)
    check_featurizer(meta, data)
    X, y = split_xy(train_df, meta, "processed train")
    X_val, y_val = split_xy(val_df, meta, "processed val")
    classes = list(meta.get("classes") or [])
    spec = FitSpec(
        task=data.task,
        n_classes=len(classes),
        seed=seed,
        class_weight=cfg.class_weight,
        feature_names=tuple(meta["feature_names"]),
        categorical_features=tuple(meta.get("categorical_features") or ())
        if meta.get("encoding") == "native"
        else (),
    )
    model, fitted = fit_model(cfg.model, cfg.family_config(), spec, classes, (X, y, X_val, y_val))
    train_scores = score(data.task, y, outputs(model, X))
    val_scores = score(data.task, y_val, outputs(model, X_val))
    if not fitted.curves:
        fitted.curves = single_step_curve(data.task, train_scores, val_scores)
    report = {
        "model": cfg.model,
        "val": val_scores,
        "train": train_scores,
        "best_iteration": fitted.best_iteration,
        "n_parameters": fitted.n_parameters,
        "n_train": len(y),
        "n_features": X.shape[1],
    }
    if "n_trees" in fitted.extra:
        report["n_trees"] = fitted.extra["n_trees"]
    return model, fitted, report


def log_curves(curves: list[dict[str, float]], directory: str | Path) -> None:
    """Write curves through dvclive: one step per iteration/epoch, no timestamps, no experiment."""
    from dvclive import Live

    # save_dvc_exp=False: never create a DVC experiment; dvcyaml=None: never touch dvc.yaml
    with Live(dir=str(directory), save_dvc_exp=False, dvcyaml=None, report=None, resume=False) as live:
        for step, row in enumerate(curves):
            if step:
                live.next_step()
            for name, value in row.items():
                live.log_metric(name, float(value), timestamp=False)
