"""Text: a table with one text column and a label (csv/parquet or the built-in reviews).

Validate checks empty, garbled and over-long texts and classes; split keeps identical texts
together; the featurizer cleans texts, fits TF-IDF on train and optionally adds cached
sentence embeddings; evaluate slices by true class and text length and shows the cleaned
text of the worst rows; the ONNX graph takes the documents (TF-IDF + logistic), the
embeddings (the encoder stays in Python) or token ids (finetune: the tokenizer stays in
Python). Helpers live in :mod:`traincycle.text`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from traincycle.config import DataConfig
from traincycle.modalities.shared import class_frame, model_scores
from traincycle.text import check_texts, featurize_text, ingest_text
from traincycle.validate import require_rows

NAME = "text"
#: whether train also scores the simple family (logistic / ridge) as a baseline
SIMPLE_BASELINE = False
FAIRNESS = False
#: the module under traincycle.intake that reads new text inputs (predict, serve)
INTAKE = "text"

__all__ = ["FAIRNESS", "INTAKE", "NAME", "check", "evaluation_files", "evaluation_inputs",
           "explain", "export_onnx", "featurize", "fit_inputs", "identity_columns", "ingest",
           "manifest_fields", "requests"]

ingest = ingest_text
featurize = featurize_text


def check(df: pd.DataFrame, schema: Any, data: DataConfig,
          cfg: Any) -> tuple[list[Any], dict[str, pd.DataFrame]]:
    """The text gate (the schema applies to tables only)."""
    require_rows(df)
    return check_texts(df, data, cfg.text), {}


def identity_columns(df: pd.DataFrame, data: DataConfig) -> list[str]:
    """A text is its words, whatever its id."""
    return [data.text_column]


def fit_inputs(featurizer_meta: str) -> dict[str, Any]:
    """The TF-IDF vectorizer featurize fitted on train (saved next to its meta), for tfidf_logistic."""
    from traincycle.featurize import load_featurizer

    return {"vectorizer": load_featurizer(featurizer_meta).pipeline}


def evaluation_inputs(raw: pd.DataFrame, processed: pd.DataFrame, meta: dict[str, Any],
                      data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Slices by true class and text length; the error table shows the cleaned text."""
    column = meta["text_column"]
    sliced = class_frame(processed, meta)
    sliced["length_chars"] = processed[column].astype("string").str.len().to_numpy()
    shown = raw
    if column in processed.columns:
        shown = raw.assign(**{column: processed[column].to_numpy()})
    return sliced, shown


def explain(model: Any, X: np.ndarray, y: np.ndarray, meta: dict[str, Any], metric: str, cfg: Any,
            seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    """The family's readable weights (TF-IDF terms); sentence-embedding dimensions have none."""
    family_explain = getattr(model.hooks, "explain", None)
    if family_explain is None:
        report: dict[str, Any] = {"method": "none", "importance": {},
                                  "reason": "sentence-embedding dimensions have no readable meaning"}
    else:
        report = family_explain(model.native, model.classes)
    return report, report["importance"]


def evaluation_files(raw: pd.DataFrame, y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray,
                     classes: list[str]) -> dict[str, bytes]:
    """None: every chart is drawn by `dvc plots`."""
    return {}


def _input_name(model: Any) -> str:
    """The graph's input: what the family's graph says (token ids), the documents (the family
    takes text) or their embeddings."""
    graph_input = getattr(model.hooks, "GRAPH_INPUT", None)
    if graph_input:
        return graph_input
    return "text" if getattr(model.hooks, "INPUT", "features") == "text" else "embeddings"


def export_onnx(featurizer: Any, model: Any, native: Any = None) -> bytes:
    """The family's graph alone: it takes the documents or the embeddings as they are."""
    from traincycle import export

    head = model.hooks.export_onnx(model.native if native is None else native, model.task,
                                   len(model.feature_names))
    return export.export_model_only(head, _input_name(model))


def requests(featurizer: Any, model: Any, processed: pd.DataFrame, raw: pd.DataFrame) -> tuple[
        Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], dict[str, np.ndarray]]]:
    """Requests are documents ``[N, 1]`` or their embeddings, as the graph takes them."""
    name = _input_name(model)
    texts = processed[featurizer.meta["text_column"]].astype("string").fillna("").to_numpy(dtype=object)
    if hasattr(model.hooks, "tokenize"):  # the graph takes token ids: tokenization stays in Python
        values = model.hooks.tokenize(model.native, texts.astype(str))
    elif name == "text":
        values = texts.astype(str).reshape(-1, 1)
    else:
        values = processed[model.feature_names].to_numpy(np.float32)
    return model_scores(model, processed), lambda at: {name: values[at]}


def manifest_fields(featurizer: Any, model: Any) -> dict[str, Any]:
    """One input: the documents, their token ids with the tokenizer that makes them, or the
    embeddings with the encoder that makes them."""
    if hasattr(model.hooks, "tokenize"):  # the tokenizer the encoder was fine-tuned with (unchanged)
        arch = model.info["architecture"]
        spec: dict[str, Any] = {"name": _input_name(model), "kind": "tokens", "dtype": "int64",
                                "shape": [arch["max_length"]], "tokenizer": arch["encoder"],
                                "pad_id": arch["pad_id"]}
    elif _input_name(model) == "text":
        spec = {"name": "text", "kind": "text", "dtype": "string", "shape": [1]}
    else:
        spec = {"name": "embeddings", "kind": "embedding", "dtype": "float32",
                "shape": [len(model.feature_names)],
                "encoder": (featurizer.meta.get("embedding") or {}).get("model")}
    return {"modality": NAME, "text_column": featurizer.meta["text_column"], "inputs": [spec]}
