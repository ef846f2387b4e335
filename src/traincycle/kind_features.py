"""Featurizer parts for column kinds beyond numbers and categories: dates and free text.

`DateParts` turns datetime columns into calendar parts (year, month, day of week, day of year,
hour when train has times of day) and days since the earliest train date; `TextTerms` is a
TF-IDF with a bounded vocabulary per text column. Both are fitted on train inside the one
ColumnTransformer (see featurize.build_featurizer); their ONNX converters live in
:mod:`traincycle.kind_onnx` (`TermWeights` is the text part's export-only tail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from traincycle.column_kinds import TOKEN_PATTERN, date_parts
from traincycle.errors import ConfigError

PARTS = ("year", "month", "dayofweek", "dayofyear", "hour", "days")


class DateParts(TransformerMixin, BaseEstimator):
    """Datetime columns -> calendar parts and days since the earliest train date (NaN if missing)."""

    def fit(self, X: Any, y: Any = None) -> DateParts:
        frame = pd.DataFrame(X)
        self.columns_ = [str(c) for c in frame.columns]
        self.n_features_in_ = len(self.columns_)
        earliest = [pd.to_datetime(frame[c], errors="coerce").min() for c in frame.columns]
        found = [e for e in earliest if pd.notna(e)]
        self.reference_ = str(min(found)) if found else "1970-01-01"
        hours = [pd.to_datetime(frame[c], errors="coerce").dt.hour.fillna(0).any() for c in frame.columns]
        self.parts_ = [p for p in PARTS if p != "hour" or any(hours)]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = pd.DataFrame(X)
        reference = np.datetime64(self.reference_)
        blocks = []
        for col in frame.columns:
            parts = date_parts(frame[col], reference)
            blocks.extend(parts[p] for p in self.parts_)
        return np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"{c}_{p}" for c in self.columns_ for p in self.parts_], dtype=object)


def date_pipeline() -> Any:
    """Date parts, then the train median for missing dates."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline([("parts", DateParts()),
                     ("impute", SimpleImputer(strategy="median", keep_empty_features=True))])


class TextTerms(TransformerMixin, BaseEstimator):
    """One text column -> dense TF-IDF of at most `max_features` terms, named ``column_term``."""

    def __init__(self, max_features: int = 200, min_df: int = 2, ngram_max: int = 1,
                 lowercase: bool = True) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.ngram_max = ngram_max
        self.lowercase = lowercase

    def fit(self, X: Any, y: Any = None) -> TextTerms:
        from sklearn.feature_extraction.text import TfidfVectorizer

        values = _texts(X)
        self.column_ = str(getattr(X, "name", None) or "text")
        self.n_features_in_ = 1
        # a tiny train split may hold fewer documents than min_df: keep every term then
        min_df = self.min_df if len(values) >= self.min_df else 1
        # ASCII word runs, as the text modality's vectorizer: the ONNX graph's RE2 tokenizer
        # then splits words alike; float64 weights, as the graph computes them (kind_onnx)
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, min_df=min_df,
                                      ngram_range=(1, self.ngram_max), lowercase=self.lowercase,
                                      token_pattern=TOKEN_PATTERN, dtype=np.float64)
        try:
            self.tfidf_.fit(values)
        except ValueError:  # no term at all (empty notes): one constant-free empty vocabulary
            self.tfidf_ = None
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = _texts(X)
        if self.tfidf_ is None:
            return np.zeros((len(values), 0))
        return self.tfidf_.transform(values).toarray()

    def onnx_estimator(self) -> Any:
        """What ONNX export converts in this part's place (traincycle.export.simplify): term
        counts, then float64 idf weights and L2 norm (`TermWeights`)."""
        if self.tfidf_ is None:
            raise ConfigError(f"optimize: text column {self.column_!r} has no terms in train (too few "
                              "words), so ONNX has nothing to export; drop it (featurize.drop_columns)")
        return term_counts_then_weights(self.tfidf_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        terms = [] if self.tfidf_ is None else self.tfidf_.get_feature_names_out()
        return np.array([f"{self.column_}_{t}" for t in terms], dtype=object)


def _texts(X: Any) -> list[str]:
    """The documents of a 1-D column (a frame's only column, a Series or an array); missing = ''."""
    series = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).ravel())
    return series.astype("string").fillna("").astype(str).tolist()


class TermWeights(TransformerMixin, BaseEstimator):
    """Term counts -> TF-IDF (counts x idf, rows L2-normalised) in float64: the export-only tail
    of a fitted TfidfVectorizer (sklearn's own transform is what featurize runs)."""

    def __init__(self, idf: Any = None, norm: str | None = "l2") -> None:
        self.idf = idf
        self.norm = norm

    def fit(self, X: Any, y: Any = None) -> TermWeights:
        return self

    def transform(self, X: Any) -> np.ndarray:
        weighted = np.asarray(X, dtype=np.float64) * np.asarray(self.idf, dtype=np.float64)
        if self.norm != "l2":
            return weighted
        norms = np.sqrt((weighted**2).sum(axis=1, keepdims=True))
        return np.divide(weighted, norms, out=np.zeros_like(weighted), where=norms > 0)


def term_counts_then_weights(tfidf: Any) -> Any:
    """A fitted TfidfVectorizer as (term counts, `TermWeights`) for export."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import Pipeline

    if tfidf.sublinear_tf or tfidf.norm not in ("l2", None):
        raise ConfigError("optimize: a text column's TF-IDF uses sublinear_tf or an l1 norm, which "
                          "ONNX export does not cover; keep the defaults")
    counts = CountVectorizer(lowercase=tfidf.lowercase, token_pattern=tfidf.token_pattern,
                             ngram_range=tfidf.ngram_range, vocabulary=tfidf.vocabulary_,
                             dtype=np.float32)  # whole counts: exact in float32
    counts.fit([""])
    idf = tfidf.idf_ if tfidf.use_idf else np.ones(len(tfidf.vocabulary_))
    return Pipeline([("counts", counts), ("weights", TermWeights(idf, tfidf.norm))])


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Category columns -> the share of train rows holding each value (0 for unseen values).

    For high-cardinality categories (featurize.high_cardinality.encoding: frequency): one number
    per column however many values, and nothing learned from the label, so no leakage.
    """

    def fit(self, X: Any, y: Any = None) -> FrequencyEncoder:
        frame = pd.DataFrame(X)
        self.n_features_in_ = frame.shape[1]
        self.categories_, self.shares_ = [], []
        for col in frame.columns:
            shares = frame[col].astype(str).value_counts(normalize=True, sort=False).sort_index()
            self.categories_.append(np.array(shares.index.tolist(), dtype=object))
            self.shares_.append(shares.to_numpy(dtype=np.float64))
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = pd.DataFrame(X)
        out = np.zeros(frame.shape, dtype=np.float64)
        for j, col in enumerate(frame.columns):
            lookup = pd.Series(self.shares_[j], index=self.categories_[j])
            out[:, j] = frame[col].astype(str).map(lookup).fillna(0.0).to_numpy(dtype=np.float64)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        from sklearn.utils.validation import _check_feature_names_in

        names = _check_feature_names_in(self, input_features)
        return np.array([f"{c}_frequency" for c in names], dtype=object)


def high_cardinality_encoder(encoding: str, task: str, folds: int, seed: int) -> Any:
    """The encoder of high-cardinality category columns: train-row shares, or the mean target
    fitted out of fold (sklearn's TargetEncoder cross-fits in fit_transform: each train row's
    value comes from the other folds, so the label never leaks into its own features)."""
    if encoding == "frequency":
        return FrequencyEncoder()
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.preprocessing import TargetEncoder

    if task == "regression":
        return TargetEncoder(target_type="continuous", cv=KFold(folds, shuffle=True, random_state=seed))
    return TargetEncoder(target_type=task, cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
