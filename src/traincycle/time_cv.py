"""Expanding-window cross-validation of a time series inside train+val (never test).

The distinct time steps of train and val are cut into ``folds + 1`` consecutive blocks. Fold
``i`` fits on every row before block ``i + 1`` and scores block ``i + 1``, leaving out the
``horizon - 1 + gap`` steps just before the block: a row at step t is forecast from step
t - horizon, so a fit that saw targets after that origin would know more than the forecaster
did. Each fit is the configured family with its params, exactly as train fits it (val early
stopping included, on the fold's block). The mean score over the folds is a steadier guide for
`traincycle tune` than one val split (`tune.metric: metrics/train.json:cv.<metric>`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from traincycle.config import TimeConfig
from traincycle.errors import DataError


def folds_of(pos: np.ndarray, folds: int, gap_steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, scored rows) per fold; `pos` is each row's step on the time grid."""
    steps = np.unique(pos)
    size = len(steps) // (folds + 1)
    if size < 1:
        raise DataError(f"train: {len(steps)} time steps in train+val cannot make {folds} expanding "
                        "folds (params train.time_cv_folds); lower it")
    out = []
    for i in range(folds):
        first = steps[(i + 1) * size]
        last = steps[(i + 2) * size - 1] if i < folds - 1 else steps[-1]
        fit = np.flatnonzero(pos < first - gap_steps)
        scored = np.flatnonzero((pos >= first) & (pos <= last))
        if not len(fit):
            raise DataError(f"train: expanding fold {i + 1} has no rows to fit on after leaving "
                            f"{gap_steps} step(s) out before its block; lower params train.time_cv_folds")
        out.append((fit, scored))
    return out


def positions_of(interim: tuple[pd.DataFrame, pd.DataFrame], row_ids: tuple[np.ndarray, np.ndarray],
                 time: TimeConfig) -> np.ndarray:
    """The time step of each processed train row, then each val row (looked up by row_id in the
    interim splits they came from)."""
    import dataclasses

    from traincycle.timeseries import grid

    both = pd.concat(interim, ignore_index=True)
    g = grid(both, dataclasses.replace(time, holiday=None), "train")
    offsets = (0, len(interim[0]))
    return np.concatenate([g.pos[offset + ids] for offset, ids in zip(offsets, row_ids, strict=True)])


def cross_validate(fit_score: Callable[[np.ndarray, np.ndarray], dict[str, float]], pos: np.ndarray,
                   folds: int, gap_steps: int, metric: str) -> dict[str, Any]:
    """Scores of `fit_score(fit_rows, scored_rows)` per fold, and their mean and spread."""
    per_fold = []
    for fit, scored in folds_of(pos, folds, gap_steps):
        scores = fit_score(fit, scored)
        per_fold.append({"fit_rows": len(fit), "scored_rows": len(scored), **scores})
    values = np.array([f[metric] for f in per_fold], dtype=np.float64)
    return {"scheme": "expanding window", "folds": folds, "gap_steps": gap_steps, "metric": metric,
            "mean": float(values.mean()), "std": float(values.std()), "per_fold": per_fold}
