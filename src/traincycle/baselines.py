"""Baselines on val: what any model must beat, scored in every train run.

A *trivial* model (the train class shares, or the train mean) says what the metric gives for
nothing; a *simple* one (logistic regression, or ridge for regression, with the params of
`train.logistic` / `train.linear`) says what a plain linear fit gives. Both are fitted on train
and scored on val, never test. When the simple model is as good as the chosen family, the fit
diagnosis says so: on small or easy data it often is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from traincycle.metrics import LOWER_IS_BETTER

#: the simple family per task (a registered model family, so `-S train.model=<it>` reproduces it)
SIMPLE = {"binary": "logistic", "multiclass": "logistic", "regression": "linear"}
#: val-metric margin within which the simple model counts as "as good"
TIE = 0.002


def trivial_output(task: str, y_train: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    """Constant predictions: train class shares per row, or the train mean."""
    if task == "regression":
        return np.full(n_rows, float(np.mean(y_train)))
    shares = np.bincount(y_train, minlength=n_classes) / len(y_train)
    return np.tile(shares, (n_rows, 1))


def score_baselines(
    task: str, y_train: np.ndarray, y_val: np.ndarray, n_classes: int,
    score: Callable[[str, np.ndarray, np.ndarray], dict[str, float]],
    simple: Callable[[], dict[str, float]] | None,
) -> dict[str, dict[str, float]]:
    """Val scores of the trivial model and (when `simple` is given) of the simple family."""
    trivial = "mean" if task == "regression" else "majority"
    out = {trivial: score(task, y_val, trivial_output(task, y_train, len(y_val), n_classes))}
    if simple is not None:
        out[SIMPLE[task]] = simple()
    return out


def better_or_equal(metric: str, simple: float, model: float, tie: float = TIE) -> bool:
    """Whether the simple model's val `metric` is as good as the model's (within `tie`)."""
    if not (np.isfinite(simple) and np.isfinite(model)):
        return False
    if metric in LOWER_IS_BETTER:
        return simple <= model * (1 + tie)
    return simple >= model - tie


def simpler_model_note(
    task: str, family: str, metric: str, val: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
) -> dict[str, Any] | None:
    """A diagnosis finding when the simple family scores as well as `family` on val."""
    simple = SIMPLE[task]
    if family == simple or simple not in baselines or metric not in val:
        return None
    ours, theirs = val[metric], baselines[simple].get(metric, float("nan"))
    if not better_or_equal(metric, theirs, ours):
        return None
    return {
        "finding": f"a plain {simple} model scores val {metric} {theirs:.4f} vs {ours:.4f} for {family}: "
                   "as good or better, and simpler to ship and explain",
        "next_step": f"dvc exp run -S train.model={simple}",
    }
