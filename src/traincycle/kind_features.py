"""Featurizer parts for column kinds beyond numbers and categories: dates and free text.

`DateParts` turns datetime columns into calendar parts (year, month, day of week, day of year,
hour when train has times of day) and days since the earliest train date; `text_encoder` is a
TF-IDF with a bounded vocabulary per text column. Both are fitted on train inside the one
ColumnTransformer (see featurize.build_featurizer).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from traincycle.column_kinds import date_parts

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
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, min_df=min_df,
                                      ngram_range=(1, self.ngram_max), lowercase=self.lowercase,
                                      dtype=np.float64)
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

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        terms = [] if self.tfidf_ is None else self.tfidf_.get_feature_names_out()
        return np.array([f"{self.column_}_{t}" for t in terms], dtype=object)


def _texts(X: Any) -> list[str]:
    """The documents of a 1-D column (a frame's only column, a Series or an array); missing = ''."""
    series = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).ravel())
    return series.astype("string").fillna("").astype(str).tolist()
