"""Global explanations: seeded permutation importance for any model, SHAP on a small sample.

Both are reported per raw column: the one-hot (and missing-flag) features of a column are
permuted together and their SHAP values summed, so `workclass` is one bar, not nine.
On wide data both are bounded: a cheap first pass (`screen`: one pass over the sample)
ranks the columns, and only the top ones are permuted and explained one by one; SHAP
treats the rest as one player (`with_rest`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from traincycle import metrics as m


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
    shuffled = X.copy()  # one working copy: only the group's columns change, then are restored
    for name, cols in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled[:, cols] = X[np.ix_(rng.permutation(len(X)), cols)]
            drops.append(base - score(shuffled))
        shuffled[:, cols] = X[:, cols]
        out[name] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return out


def screen(output: np.ndarray, X: np.ndarray, groups: dict[str, list[int]]) -> list[str]:
    """Group names ranked by how strongly their features move with the model's output.

    The cheap first pass on wide data: the largest |correlation| of any of a group's features
    with any model output (class probability or prediction), one matrix product over the
    sample. Ties (and constant columns, scored 0) are ordered by name.
    """
    out = np.asarray(output, dtype=np.float64).reshape(len(X), -1)
    xc = X - X.mean(axis=0)
    oc = out - out.mean(axis=0)
    scale = np.outer(xc.std(axis=0), oc.std(axis=0)) * len(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(scale > 0, np.abs(xc.T @ oc) / scale, 0.0)
    feature = corr.max(axis=1) if corr.size else np.zeros(X.shape[1])
    scores = {name: float(feature[cols].max()) for name, cols in groups.items()}
    return sorted(scores, key=lambda n: (-round(scores[n], 12), n))


def with_rest(groups: dict[str, list[int]], keep: list[str]) -> dict[str, list[int]]:
    """The `keep` groups, plus one group of every other column's features (named by its size)."""
    kept = {name: groups[name] for name in keep}
    rest = sorted(i for name, cols in groups.items() if name not in kept for i in cols)
    if rest:
        kept[rest_name(len(groups) - len(keep))] = rest
    return kept


def rest_name(count: int) -> str:
    """How the group of unranked columns is labelled in reports."""
    return f"<{count} other columns>"


def shap_by_column(
    model: Any, X: np.ndarray, background: np.ndarray, groups: dict[str, list[int]], seed: int,
    permutations: int = 2,
) -> tuple[dict[str, float], dict[str, str]]:
    """Mean |SHAP| per raw column, and which explainer and output scale produced it.

    Tree families: exact tree SHAP on the native model (`tree_shap`; xgboost explains the raw
    margin, i.e. log-odds). Others: permutation SHAP over raw columns (`permutation_shap`) on
    the log-odds of the positive class, the class probabilities, or the predicted value.
    """
    k = len(model.classes) if model.task != "regression" else 1
    scale = getattr(model.hooks, "SHAP_OUTPUT", None)  # tree families say on which scale
    if scale is not None:
        try:
            values = tree_shap(model, X)
            return grouped_shap(_one_output(np.asarray(values), k), groups), {
                "explainer": "TreeExplainer", "output": scale}
        except Exception as exc:  # e.g. native categorical splits shap cannot parse
            warnings.warn(f"TreeExplainer failed ({exc}); using permutation SHAP", stacklevel=2)

    def output(rows: np.ndarray) -> np.ndarray:
        if model.task == "regression":
            return np.asarray(model.predict(rows), dtype=np.float64)[:, None]
        proba = model.predict_proba(rows)
        if k == 2:
            p = np.clip(proba[:, -1], 1e-7, 1 - 1e-7)
            return np.log(p / (1 - p))[:, None]
        return proba

    names = list(groups)
    values = permutation_shap(output, X, background, [groups[n] for n in names], permutations,
                              np.random.default_rng(seed))
    mean_abs = np.abs(values).mean(axis=(0, 2))
    scale = "value" if k == 1 else ("log-odds" if k == 2 else "probability (mean over classes)")
    return {n: float(v) for n, v in zip(names, mean_abs, strict=True)}, {
        "explainer": "permutation", "output": scale}


def tree_shap(model: Any, X: np.ndarray) -> np.ndarray:
    """Exact tree SHAP values of the native model: the family's own (`shap_values` hook), else shap's.

    shap is imported only for families without the hook: its import (numba, matplotlib) costs
    about a second of every evaluate process.
    """
    own = getattr(model.hooks, "shap_values", None)
    if own is not None:
        return own(model.native, X)
    import shap

    return np.asarray(shap.TreeExplainer(model.native).shap_values(X, check_additivity=False))


def permutation_shap(
    output: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
    groups: list[list[int]], permutations: int, rng: np.random.Generator, budget: int = 4_000_000,
) -> np.ndarray:
    """Shapley values of column groups by antithetic permutation sampling (rows, groups, outputs).

    The estimator shap's PermutationExplainer uses, in plain numpy: along a random order of the
    groups (and its reverse), switch each group from background to the row's values and credit
    it with the change in the mean output over the background rows. Exact for additive models.
    Done here rather than through shap, whose numba kernels take seconds to compile per process.
    """
    n, n_features = X.shape
    n_groups, k = len(groups), len(background)
    member = np.zeros((n_groups, n_features), dtype=bool)
    for g, cols in enumerate(groups):
        member[g, cols] = True
    chunk = max(1, budget // ((n_groups + 1) * k * n_features))
    values: np.ndarray | None = None
    for _ in range(permutations):
        order = rng.permutation(n_groups)
        for path in (order, order[::-1]):
            # step j: the first j groups of `path` take the row's values
            steps = np.vstack([np.zeros(n_features, bool), np.cumsum(member[path], axis=0) > 0])
            for start in range(0, n, chunk):
                rows = X[start:start + chunk]
                mixed = np.where(steps[None, :, None, :], rows[:, None, None, :], background[None, None])
                out = output(mixed.reshape(-1, n_features).astype(np.float32))
                out = out.reshape(len(rows), n_groups + 1, k, -1).mean(axis=2)
                if values is None:
                    values = np.zeros((n, n_groups, out.shape[-1]))
                values[start:start + len(rows), path] += np.diff(out, axis=1)
    assert values is not None
    return values / (2 * permutations)


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


def score_function(
    metric: str, task: str, y: np.ndarray, model: Any
) -> Callable[[np.ndarray], float]:
    """Higher-is-better score of the model on feature rows for `metric` (errors negated)."""
    sign = -1.0 if metric in m.LOWER_IS_BETTER else 1.0

    def score(X: np.ndarray) -> float:
        if task == "regression":
            proba, pred = None, model.predict(X)
        else:
            proba = model.predict_proba(X)
            pred = proba.argmax(axis=1)
        return sign * float(m.score_all(m.ones(len(y)), y, proba, pred, task, (metric,))[metric][0])

    return score


def explain_model(
    model: Any, X: np.ndarray, y: np.ndarray, task: str, metric: str,
    input_columns: list[str] | None, cfg: Any, seed: int,
) -> dict[str, Any]:
    """Permutation importance (headline metric) and mean |SHAP| per raw column.

    Beyond `cfg.max_explain_columns` raw columns only the top ones by `screen` are permuted;
    SHAP explains them one by one and the rest as one player.
    """
    rng = np.random.default_rng(seed)
    groups = feature_groups(list(model.feature_names), input_columns or [])
    rows = sample_rows(len(X), cfg.explain_rows, rng)
    explained, screened = groups, {}
    if cfg.max_explain_columns and len(groups) > cfg.max_explain_columns:
        sample = X[rows]
        output = model.predict(sample) if task == "regression" else model.predict_proba(sample)
        ranking = screen(output, sample, groups)
        explained = {n: groups[n] for n in ranking[:cfg.max_explain_columns]}
        method = "largest |correlation| of a column's features with the model output"
        screened = {"screened": {"method": method, "columns": len(groups), "explained": len(explained)}}
    perm = permutation_importance(
        score_function(metric, task, y[rows], model), X[rows], explained, cfg.permutation_repeats, seed
    )
    out: dict[str, Any] = {
        **screened,
        "permutation": {
            "metric": metric, "rows": len(rows), "repeats": cfg.permutation_repeats,
            "importance": dict(sorted(perm.items(), key=lambda kv: (-kv[1]["mean"], kv[0]))),
        },
    }
    if cfg.shap_rows:
        shap_rows = sample_rows(len(X), cfg.shap_rows, rng)
        background = X[sample_rows(len(X), cfg.shap_background, rng)]
        players = with_rest(groups, list(explained)) if screened else groups
        shap_mean, how = shap_by_column(model, X[shap_rows], background, players, seed)
        out["shap"] = {
            **how, "rows": len(shap_rows),
            "mean_abs": dict(sorted(shap_mean.items(), key=lambda kv: (-kv[1], kv[0]))),
        }
    return out
