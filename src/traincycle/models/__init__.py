"""The model zoo behind one small registry, and the model-directory contract.

Contract (read by evaluate, optimize and ``traincycle predict``)::

    from traincycle.models import load_model
    model = load_model("models/model")
    model.predict_proba(X)   # (n, n_classes) float64, columns in model.classes order
    model.predict(X)         # class index (int) or value (regression)
    model.family, model.task, model.classes, model.feature_names
    model.native             # the sklearn / xgboost / torch object, for exporters

``X`` is a DataFrame (columns matched by name to ``feature_names``) or a float32 matrix in that
order, i.e. the feature columns of ``data/processed/*.parquet``.

A model directory (``models/model/``) holds ``model.json`` — ``family``, ``task``, ``classes``,
``feature_names``, ``params`` (the family's params section), ``best_iteration`` (xgboost round /
mlp epoch, else null), ``n_parameters``, ``weights`` (file name) and family extras
(``architecture`` for mlp, ``n_trees``/``native_categorical`` for xgboost) — plus the weights:

* ``xgboost``: ``model.ubj`` (booster cut to the best iteration; internal feature names f0..fN)
* ``mlp``: ``model.safetensors`` (torch state_dict; input standardisation is part of the net)
* ``logistic``, ``linear``, ``random_forest``, ``svm``: ``model.skops`` (scikit-learn object,
  loaded with an explicit trusted-type list). Families that standardise inputs do it inside
  the estimator (a ``Pipeline``), so ``native`` takes raw featurizer output.

Families: ``logistic`` (classification), ``linear`` (ridge, regression), ``random_forest``,
``svm`` (linear SVM or RBF via Nystroem features; probabilities by sigmoid calibration),
``xgboost``, ``mlp`` (torch), ``cnn`` (torch, images: ``model.safetensors`` +
``architecture``) and ``tfidf_logistic`` (text: featurize's TF-IDF + logistic as one
``model.skops`` Pipeline taking documents) and ``finetune`` (text: the packaged MiniLM fine-tuned
end to end with a linear head; ``model.safetensors`` + ``encoder/``). Each family module exposes
``TASKS``, a frozen config dataclass, ``fit``, ``save``, ``load``, ``predict_proba`` and ``predict_values``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from traincycle.errors import ConfigError, DataError
from traincycle.io import atomic_dir, read_json, write_json
from traincycle.models.base import MODEL_JSON, Fit, FitSpec, Model

__all__ = ["FAMILIES", "Fit", "FitSpec", "Model", "family_module", "fit_model", "load_model", "model_of",
           "save_model"]

#: family name -> module under traincycle.models
FAMILIES = {
    "logistic": "logistic",
    "linear": "linear",
    "random_forest": "forest",
    "svm": "svm",
    "xgboost": "boosting",
    "mlp": "mlp",
    "cnn": "cnn",
    "tfidf_logistic": "text_tfidf",
    "finetune": "finetune",
}


def family_module(family: str) -> ModuleType:
    """The module implementing `family`."""
    if family not in FAMILIES:
        raise ConfigError(
            f"params train.model: unknown model {family!r}; expected one of {', '.join(FAMILIES)}"
        )
    return importlib.import_module(f"traincycle.models.{FAMILIES[family]}")


def check_task(family: str, task: str) -> None:
    """Raise ConfigError when `family` cannot do `task`."""
    tasks = family_module(family).TASKS
    if task not in tasks:
        raise ConfigError(
            f"params train.model: {family!r} cannot do a {task} task (it supports {', '.join(tasks)}); "
            "pick another model or data.task"
        )


def fit_model(
    family: str,
    cfg: Any,
    spec: FitSpec,
    classes: list[str],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[Model, Fit]:
    """Fit `family` on (X_train, y_train) with (X_val, y_val) for early stopping."""
    check_task(family, spec.task)
    fitted = family_module(family).fit(*data, cfg, spec)
    return model_of(family, cfg, spec, classes, fitted), fitted


def model_of(family: str, cfg: Any, spec: FitSpec, classes: list[str], fitted: Fit) -> Model:
    """The Model of a family's fit result (however it was trained: locally or on a cluster)."""
    info = {"best_iteration": fitted.best_iteration, "n_parameters": fitted.n_parameters, **fitted.extra}
    return Model(family, spec.task, list(classes), list(spec.feature_names), fitted.native,
                 _params_dict(cfg), info, hooks=family_module(family))


def _params_dict(cfg: Any) -> dict[str, Any]:
    import dataclasses

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return list(value)
        if hasattr(value, "items"):
            return dict(value)
        return value

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def save_model(model: Model, directory: str | Path) -> None:
    """Write model.json and the family's weights into `directory`, replacing it atomically."""
    with atomic_dir(directory) as tmp:
        extra = family_module(model.family).save(model.native, tmp)
        meta = {
            "family": model.family,
            "task": model.task,
            "classes": model.classes,
            "feature_names": model.feature_names,
            "params": model.params,
            **model.info,
            **extra,
        }
        write_json(meta, tmp / MODEL_JSON)


def load_model(directory: str | Path) -> Model:
    """Load a model directory written by :func:`save_model`."""
    directory = Path(directory)
    meta = read_json(directory / MODEL_JSON)
    for key in ("family", "task", "classes", "feature_names"):
        if key not in meta:
            raise DataError(f"{directory / MODEL_JSON}: missing key {key!r}")
    hooks = family_module(meta["family"])
    native = hooks.load(directory, meta)
    reserved = {"family", "task", "classes", "feature_names", "params"}
    info = {k: v for k, v in meta.items() if k not in reserved}
    return Model(
        meta["family"],
        meta["task"],
        meta["classes"],
        meta["feature_names"],
        native,
        meta.get("params", {}),
        info,
        hooks=hooks,
    )
