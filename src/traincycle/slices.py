"""Error analysis: where the model is wrong (slices of the raw features) and on which rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MISSING = "<NA>"


def row_loss(y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, task: str) -> np.ndarray:
    """Per-row loss: -log p(true class) for classification, |error| for regression."""
    if task == "regression":
        return np.abs(y - pred)
    p = np.clip(proba[np.arange(len(y)), y], np.finfo(np.float64).eps, 1.0)
    return -np.log(p)


def slice_labels(values: pd.Series, bins: int) -> pd.Series:
    """Slice label per row: the category, or the quantile bin of a numeric column."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) \
            and values.nunique() > bins:
        binned = pd.qcut(values.astype("float64"), q=bins, duplicates="drop")
        labels = binned.astype("string")
    else:
        labels = values.astype("string")
    return labels.fillna(MISSING).astype(str)


def slice_table(
    raw: pd.DataFrame, columns: list[str], score: np.ndarray, metric: str, higher_is_better: bool,
    bins: int, min_rows: int, worst: int,
) -> dict[str, Any]:
    """The slice metric per value (or quantile bin) of each raw column, worst slices flagged.

    Args:
        raw: raw test rows aligned with `score`.
        columns: raw columns to slice on.
        score: per-row contribution to the metric (1/0 correct for accuracy, |error| for MAE).
        metric: its name, e.g. accuracy or mae.
        higher_is_better: whether a larger slice mean is better.
        bins: quantile bins for numeric columns.
        min_rows: slices with fewer rows are listed but never flagged.
        worst: how many slices to flag.
    """
    overall = float(score.mean())
    rows = []
    for col in columns:
        labels = slice_labels(raw[col], bins)
        stats = pd.DataFrame({"slice": labels.to_numpy(), "score": score}).groupby("slice", sort=True)
        for value, part in stats:
            mean = float(part["score"].mean())
            rows.append({"feature": col, "slice": str(value), "rows": len(part), metric: mean,
                         "gap": mean - overall, "worst": False})
    sign = 1 if higher_is_better else -1
    eligible = sorted(
        (r for r in rows if r["rows"] >= min_rows),
        key=lambda r: (sign * r[metric], r["feature"], r["slice"]),
    )
    for r in eligible[:worst]:
        r["worst"] = True
    return {
        "metric": metric,
        "overall": overall,
        "min_rows": min_rows,
        "worst": [{k: r[k] for k in ("feature", "slice", "rows", metric, "gap")} for r in eligible[:worst]],
        "slices": rows,
    }


def top_columns(columns: list[str], importance: dict[str, float], limit: int) -> list[str]:
    """The `limit` columns to slice on wide data: most important first, then in input order.

    Columns without an importance (not explained, see ``evaluate.max_explain_columns``) come
    after every ranked one; the result keeps the input order so reports read as before.
    """
    position = {c: i for i, c in enumerate(columns)}
    ranked = sorted(columns, key=lambda c: (c not in importance, -importance.get(c, 0.0), position[c]))
    keep = set(ranked[:limit])
    return [c for c in columns if c in keep]


def worst_rows(
    raw: pd.DataFrame, row_id: np.ndarray, y: np.ndarray, proba: np.ndarray | None,
    pred: np.ndarray, task: str, classes: list[str], target: str, limit: int,
) -> pd.DataFrame:
    """The `limit` test rows with the largest loss, with raw features, label and prediction."""
    loss = row_loss(y, proba, pred, task)
    # ties broken by row id so the file is the same on every run
    order = np.lexsort((row_id, -loss))[:limit]
    out = raw.iloc[order].drop(columns=[target]).reset_index(drop=True)
    out.insert(0, "row_id", row_id[order].astype(np.int64))
    if task == "regression":
        out["label"] = y[order].astype(np.float64)
        out["prediction"] = pred[order].astype(np.float64)
    else:
        labels = np.asarray(classes, dtype=object)
        out["label"] = pd.Series(labels[y[order]], dtype="string")
        out["prediction"] = pd.Series(labels[pred[order]], dtype="string")
        out["probability"] = proba[order, pred[order]].astype(np.float64)
        out["probability_of_label"] = proba[order, y[order]].astype(np.float64)
    out["loss"] = loss[order].astype(np.float64)
    return out
