"""Global explanations: seeded permutation importance for any model, SHAP on a small sample.

Both are reported per raw column: the one-hot (and missing-flag) features of a column are
permuted together and their SHAP values summed, so `workclass` is one bar, not nine.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

#: families whose native object shap.TreeExplainer reads exactly
TREE_FAMILIES = frozenset({"xgboost", "random_forest", "forest", "decision_tree"})


def raw_column(feature: str, inputs: list[str]) -> str:
    """The raw input column a feature was made from (longest matching name), else the feature."""
    bare = re.sub(r"^missingindicator_", "", feature)
    matches = [c for c in inputs if bare == c or bare.startswith(c + "_")]
    return max(matches, key=len) if matches else feature


def feature_groups(features: list[str], inputs: list[str]) -> dict[str, list[int]]:
    """Feature indices per raw column, in the order the raw columns first appear."""
    groups: dict[str, list[int]] = {}
    for i, feature in enumerate(features):
        groups.setdefault(raw_column(feature, inputs), []).append(i)
    return groups


def sample_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a seeded sample of at most `cap` of `n` rows."""
    return np.sort(rng.permutation(n)[:cap]) if n > cap else np.arange(n)


def permutation_importance(
    score: Callable[[np.ndarray], float], X: np.ndarray, groups: dict[str, list[int]],
    repeats: int, seed: int,
) -> dict[str, dict[str, float]]:
    """Mean and std drop in `score` (higher is better) when each group's columns are shuffled.

    The columns of one group are shuffled with one shared permutation, so a one-hot block
    stays a valid one-hot row.
    """
    rng = np.random.default_rng(seed)
    base = score(X)
    out = {}
    for name, cols in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, cols] = X[rng.permutation(len(X))][:, cols]
            drops.append(base - score(shuffled))
        out[name] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return out


def shap_matrix(model: Any, X: np.ndarray, background: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """SHAP values (rows x features) of the model output explained, and the explainer used.

    Tree families: TreeExplainer on the native model (exact, fast). Others: the model-agnostic
    PermutationExplainer on the probability of the positive class (or the prediction).
    """
    import shap

    k = len(model.classes) if model.task != "regression" else 1
    if model.family in TREE_FAMILIES:
        try:
            values = shap.TreeExplainer(model.native).shap_values(X, check_additivity=False)
            return _one_output(np.asarray(values), k), "TreeExplainer"
        except Exception as exc:  # e.g. native categorical splits shap cannot parse
            warnings.warn(f"TreeExplainer failed ({exc}); using PermutationExplainer", stacklevel=2)

    def output(rows: np.ndarray) -> np.ndarray:
        if model.task == "regression":
            return model.predict(rows)
        proba = model.predict_proba(rows)
        return proba[:, -1] if k == 2 else proba

    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.PermutationExplainer(output, masker, seed=seed)
    values = explainer(X, max_evals=2 * X.shape[1] + 1, silent=True).values
    return _one_output(np.asarray(values), k), "PermutationExplainer"


def _one_output(values: np.ndarray, k: int) -> np.ndarray:
    """Reduce SHAP output to (rows, features): the positive class, or mean |value| over classes."""
    if values.ndim == 2:
        return values
    # shap returns (rows, features, outputs); for a binary model with two outputs, take class 1
    if values.shape[-1] == 2 and k == 2:
        return values[..., 1]
    return np.abs(values).mean(axis=-1)


def grouped_shap(values: np.ndarray, groups: dict[str, list[int]]) -> dict[str, float]:
    """Mean |SHAP| per raw column (a column's features summed per row first: SHAP is additive)."""
    return {name: float(np.abs(values[:, cols].sum(axis=1)).mean()) for name, cols in groups.items()}
