"""What the image and text modalities share: classification-only slices and native scoring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def class_frame(processed: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """The true class of every test row, as a column to slice on."""
    labels = np.asarray(meta["classes"], dtype=object)
    return pd.DataFrame({"true_class": pd.Series(labels[processed[meta["target"]].to_numpy()],
                                                 dtype="string")})


def fit_inputs(featurizer_meta: str) -> dict[str, Any]:
    """Families fit on the feature columns alone."""
    return {}


def model_scores(model: Any, processed: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
    """Native scores of processed rows at given positions (the features are computed already)."""
    X = model.as_matrix(processed[model.feature_names])
    return lambda at: model.scores(X[at])
