"""Tables: typed columns read from csv/parquet/URLs or the built-in data sets.

Validation is the schema + bias suite in Great Expectations, split keeps identical feature rows
together, the featurizer is one scikit-learn ColumnTransformer, evaluate explains by
permutation importance and SHAP per raw column, and the ONNX graph takes one input per raw
column (see :mod:`traincycle.export`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from traincycle.config import DataConfig
from traincycle.errors import ConfigError
from traincycle.ingest import ingest
from traincycle.modalities.shared import fit_inputs
from traincycle.validate import validate_frame

NAME = "tabular"
#: whether train also scores the simple family (logistic / ridge) as a baseline
SIMPLE_BASELINE = True
FAIRNESS = True
#: the module under traincycle.intake that reads new tabular inputs (predict, serve)
INTAKE = "table"

__all__ = ["FAIRNESS", "INTAKE", "NAME", "check", "check_exportable", "evaluation_files",
           "evaluation_inputs", "explain", "export_onnx", "featurize", "fit_inputs", "identity_columns",
           "ingest", "manifest_fields", "requests"]


def featurize(parts: dict[str, pd.DataFrame], data: DataConfig, cfg: Any,
              seed: int) -> tuple[Any, dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """One ColumnTransformer fitted on train (imported here: scikit-learn is slow to import)."""
    from traincycle.featurize import featurize as fit_and_apply

    return fit_and_apply(parts, data, cfg, seed)


def check(df: pd.DataFrame, schema: Any, data: DataConfig,
          cfg: Any) -> tuple[list[Any], dict[str, pd.DataFrame]]:
    """The schema and bias expectations."""
    return validate_frame(df, schema, data, cfg)


def identity_columns(df: pd.DataFrame, data: DataConfig) -> list[str]:
    """Every column but the target and id columns."""
    drop = {data.target, *data.id_columns}
    return [c for c in df.columns if c not in drop]


def evaluation_inputs(raw: pd.DataFrame, processed: pd.DataFrame, meta: dict[str, Any],
                      data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Slices over every raw feature column; the error table shows the raw rows."""
    features = [c for c in raw.columns if c not in (data.target, *data.id_columns, *data.time_columns)]
    return raw[features], raw


def explain(model: Any, X: np.ndarray, y: np.ndarray, meta: dict[str, Any], metric: str, cfg: Any,
            seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Permutation importance (headline metric) and mean |SHAP| per raw column."""
    from traincycle.explain import explain_model

    inputs = [c["name"] for c in meta.get("input_columns", [])]
    report = explain_model(model, X, y, model.task, metric, inputs, cfg, seed)
    return report, {k: v["mean"] for k, v in report["permutation"]["importance"].items()}


def evaluation_files(raw: pd.DataFrame, y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray,
                     classes: list[str]) -> dict[str, bytes]:
    """None: every chart of a table is drawn by `dvc plots`."""
    return {}


def _columns(featurizer: Any) -> list[Any]:
    from traincycle.export import columns_from_meta

    return columns_from_meta(featurizer.meta["input_columns"])


def check_exportable(meta: dict[str, Any]) -> None:
    """skl2onnx's TargetEncoder covers binary and numeric targets only: refuse the rest in one line."""
    high = meta.get("high_cardinality") or {}
    if high.get("encoding") == "target" and meta["task"] == "multiclass":
        raise ConfigError(
            f"optimize: column {high['columns'][0]!r} is target-encoded for a multiclass target, which "
            "ONNX export does not cover; set featurize.high_cardinality.encoding: frequency to ship one"
        )


def export_onnx(featurizer: Any, model: Any, native: Any = None) -> bytes:
    """The featurizer's graph over raw columns merged with the family's (or `native`'s) graph."""
    from traincycle import export

    head = model.hooks.export_onnx(model.native if native is None else native, model.task,
                                   len(model.feature_names))
    front = export.export_featurizer(featurizer.pipeline, _columns(featurizer))
    return export.export_pipeline(front, head, model.task)


def requests(featurizer: Any, model: Any, processed: pd.DataFrame, raw: pd.DataFrame) -> tuple[
        Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], dict[str, np.ndarray]]]:
    """Requests are raw rows: native featurizes then scores them; ONNX takes one tensor per column."""
    from traincycle.export import to_feeds
    from traincycle.featurize import raw_rows, transform

    rows, columns = raw_rows(processed, raw), _columns(featurizer)
    return (lambda at: model.scores(transform(featurizer, rows.iloc[at])),
            lambda at: to_feeds(rows.iloc[at], columns))


def manifest_fields(featurizer: Any, model: Any) -> dict[str, Any]:
    """One input per raw column (categories listed), and how a missing value is written."""
    from traincycle.export import MISSING_STRING

    specs, columns = featurizer.meta["input_columns"], _columns(featurizer)
    kinds = {c.kind for c in columns}
    return {
        "inputs": [
            {"name": c.name, "kind": c.kind, "dtype": c.dtype,
             **({"categories": list(c.categories)} if c.is_categorical else {}),
             **({"format": spec["format"]} if spec.get("format") else {})}
            for c, spec in zip(columns, specs, strict=True)
        ],
        "missing": {"categorical": MISSING_STRING, "numeric": "NaN",
                    **({"text": MISSING_STRING} if "text" in kinds else {}),
                    **({"datetime": "NaN"} if "datetime" in kinds else {})},
        # for graph consumers other than traincycle predict/serve, which convert dates themselves
        **({"feeds": {"datetime": "float64 seconds since 1970-01-01 UTC"}} if "datetime" in kinds else {}),
    }
