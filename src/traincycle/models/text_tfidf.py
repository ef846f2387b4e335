"""TF-IDF + logistic regression over raw text: the text baseline (ONNX-exportable via skl2onnx).

The TF-IDF vectorizer is fitted by featurize on train texts (``models/featurizer.skops``) and
arrives through ``FitSpec.vectorizer``; this family fits the logistic regression on its output
and saves both as one scikit-learn ``Pipeline``, so the model takes documents as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from traincycle.config import check_range
from traincycle.errors import ConfigError
from traincycle.models.base import Fit, FitSpec, load_sklearn, save_sklearn, sklearn_proba

TASKS = ("binary", "multiclass")
#: the data modality this family needs
MODALITY = "text"
#: the model takes one text column, not float features
INPUT = "text"


@dataclasses.dataclass(frozen=True)
class TfidfLogisticConfig:
    """train.tfidf_logistic: regularisation of the logistic head."""

    C: float = 4.0
    max_iter: int = 2000

    def __post_init__(self) -> None:
        check_range("train.tfidf_logistic.C", self.C, 0.0, low_open=True)
        check_range("train.tfidf_logistic.max_iter", self.max_iter, 1)


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: TfidfLogisticConfig,
    spec: FitSpec,
) -> Fit:
    """Fit the logistic head on the featurizer's TF-IDF of train texts; val is unused."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if spec.vectorizer is None:
        raise ConfigError("params train.model: tfidf_logistic needs text data (data.modality: text)")
    clf = LogisticRegression(
        C=cfg.C,
        max_iter=cfg.max_iter,
        class_weight="balanced" if spec.class_weight == "balanced" else None,
        random_state=spec.seed,
    )
    clf.fit(spec.vectorizer.transform(X), y)
    native = Pipeline([("tfidf", spec.vectorizer), ("clf", clf)])
    return Fit(native, n_parameters=int(clf.coef_.size + clf.intercept_.size),
               extra={"vocabulary": len(spec.vectorizer.vocabulary_)})


def top_terms(native: Any, classes: list[str], top: int = 20) -> dict[str, float]:
    """The terms with the largest weights (binary: towards the positive class, signed)."""
    vocab = native.named_steps["tfidf"].get_feature_names_out()
    coef = native.named_steps["clf"].coef_
    if coef.shape[0] == 1:
        order = np.argsort(-np.abs(coef[0]), kind="stable")[:top]
        return {f"{vocab[i]} ({classes[1] if coef[0, i] > 0 else classes[0]})": float(coef[0, i])
                for i in order}
    best = np.abs(coef).max(axis=0)
    order = np.argsort(-best, kind="stable")[:top]
    return {f"{vocab[i]} ({classes[int(np.abs(coef[:, i]).argmax())]})": float(best[i]) for i in order}


def explain(native: Any, classes: list[str]) -> dict[str, Any]:
    """The readable importance evaluate reports: the heaviest TF-IDF terms."""
    return {"method": "tfidf_logistic_weights", "importance": top_terms(native, classes)}


def export_onnx(native: Any, task: str, n_features: int) -> Any:
    """TF-IDF + logistic through skl2onnx: documents in (string ``[N, 1]``), scores out."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    from traincycle.export import FEATURES, ML_OPSET, OPSET, keep_score_output, tfidf_options

    vectorizer = native.named_steps["tfidf"]
    options = {id(vectorizer): tfidf_options(vectorizer), id(native.named_steps["clf"]): {"zipmap": False}}
    onx = convert_sklearn(native, initial_types=[(FEATURES, StringTensorType([None, 1]))],
                          target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET}, options=options, name="model")
    return keep_score_output(onx, task)


save = save_sklearn
load = load_sklearn
predict_proba = sklearn_proba


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Classification only: the most likely class index."""
    return native.predict(X)
