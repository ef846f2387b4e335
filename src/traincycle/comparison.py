"""Is a change real? A paired bootstrap of the metric difference between two models on the same rows.

Two revisions' test scores each carry a CI, but overlapping CIs say little: both models are
scored on the *same* rows, so most of the row-to-row noise cancels in their difference. Drawing
one bootstrap sample of rows and scoring both models on it, many times, gives a CI of the
difference itself; the verdict is "better" or "worse" when that CI excludes zero and "within
noise" when it does not. Predictions come from evaluate's per-row output
(reports/predictions.parquet), joined on row_id; its `group:<attribute>` columns (the sensitive
attributes) give the same verdict within each group, since a change can help overall and hurt
one group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincycle import metrics as m
from traincycle.errors import DataError

ROW_ID = "row_id"
TARGET = "y"
PRED = "pred"
#: prefix of the per-row sensitive-group columns
GROUP = "group:"


def predictions_frame(row_ids: np.ndarray, y: np.ndarray, proba: np.ndarray | None,
                      pred: np.ndarray, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-row test predictions: row_id, encoded target, prediction, (classes) probabilities and
    each row's sensitive group per attribute (`groups`, as strings)."""
    frame = pd.DataFrame({ROW_ID: row_ids, TARGET: y, PRED: pred})
    if proba is not None:
        for k in range(proba.shape[1]):
            frame[f"p{k}"] = proba[:, k].astype(np.float64)
    for name in groups.columns if groups is not None else ():
        frame[f"{GROUP}{name}"] = groups[name].astype(str).to_numpy()
    return frame.sort_values(ROW_ID, kind="stable").reset_index(drop=True)


def _arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    cols = sorted((c for c in frame.columns if c.startswith("p") and c[1:].isdigit()),
                  key=lambda c: int(c[1:]))
    proba = frame[cols].to_numpy(np.float64) if cols else None
    return frame[TARGET].to_numpy(), proba, frame[PRED].to_numpy()


def paired_difference(
    base: pd.DataFrame, head: pd.DataFrame, task: str, metric: str, resamples: int = 1000,
    level: float = 0.95, seed: int = 0,
) -> dict[str, Any]:
    """Head minus base on the rows both scored: the difference, its paired-bootstrap CI, a verdict."""
    joined = base.merge(head, on=ROW_ID, suffixes=("_base", "_head"), validate="one_to_one")
    if joined.empty:
        raise DataError("paired comparison: the two revisions share no test rows (row_id)")
    if not np.array_equal(joined[f"{TARGET}_base"].to_numpy(), joined[f"{TARGET}_head"].to_numpy()):
        raise DataError("paired comparison: the same row_id has different labels; the test split changed")

    def side(suffix: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        part = joined[[c for c in joined.columns if c.endswith(suffix)]]
        return _arrays(part.rename(columns=lambda c: c[: -len(suffix)]))

    y, proba_a, pred_a = side("_base")
    _, proba_b, pred_b = side("_head")
    n = len(y)
    point = (m.score_all(m.ones(n), y, proba_b, pred_b, task, (metric,))[metric]
             - m.score_all(m.ones(n), y, proba_a, pred_a, task, (metric,))[metric])[0]
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, resamples, m.CHUNK):
        w = m.bootstrap_weights(n, min(m.CHUNK, resamples - start), rng)  # one draw scores both
        draws.append(m.score_all(w, y, proba_b, pred_b, task, (metric,))[metric]
                     - m.score_all(w, y, proba_a, pred_a, task, (metric,))[metric])
    values = np.concatenate(draws) if draws else np.array([])
    values = values[np.isfinite(values)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
    return {"metric": metric, "rows": n, "difference": float(point), "low": float(low),
            "high": float(high), "level": level, "resamples": resamples,
            "verdict": verdict(metric, float(low), float(high))}


def paired_by_group(
    base: pd.DataFrame, head: pd.DataFrame, task: str, metric: str, min_rows: int,
    resamples: int = 1000, level: float = 0.95, seed: int = 0,
) -> list[dict[str, Any]]:
    """`paired_difference` within every sensitive group of at least `min_rows` rows.

    Groups are read from head's `group:` columns (the rows and labels are the same in both).
    """
    groups = [c for c in head.columns if c.startswith(GROUP)]
    plain_base = base.drop(columns=[c for c in base.columns if c.startswith(GROUP)])
    out = []
    for column in groups:
        for value, part in head.groupby(column, sort=True):
            if len(part) < min_rows:
                continue
            rows = plain_base[plain_base[ROW_ID].isin(part[ROW_ID])]
            diff = paired_difference(rows, part.drop(columns=groups), task, metric, resamples, level, seed)
            out.append({"attribute": column[len(GROUP):], "group": str(value), **diff})
    return out


def verdict(metric: str, low: float, high: float) -> str:
    """better / worse when the CI of (head - base) excludes zero, else within noise."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 <= high:
        return "within noise"
    up = low > 0
    return "better" if up != (metric in m.LOWER_IS_BETTER) else "worse"
