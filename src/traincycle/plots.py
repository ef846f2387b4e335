"""Plot data for `dvc plots`: small, deterministic tables (lists of records) per chart.

Curves are thinned to a few hundred points so the files stay small and diffs stay readable;
the exact metric values live in reports/evaluate.json, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Records = list[dict[str, Any]]


def thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most `max_points` evenly spaced items out of `n`, keeping first and last."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(int))


def roc_records(y: np.ndarray, proba: np.ndarray, max_points: int) -> Records:
    """ROC curve (fpr, tpr): the positive class, or the macro average over classes."""
    from sklearn.metrics import roc_curve

    k = proba.shape[1]
    if k == 2:
        fpr, tpr, _ = roc_curve(y == 1, proba[:, 1])
    else:
        # macro average on a shared fpr grid, as in scikit-learn's multiclass ROC example
        fpr = np.linspace(0.0, 1.0, max_points)
        tpr = np.zeros_like(fpr)
        for c in range(k):
            f, t, _ = roc_curve(y == c, proba[:, c])
            tpr += np.interp(fpr, f, t)
        tpr /= k
    keep = thin(len(fpr), max_points)
    return [{"fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in keep]


def pr_records(y: np.ndarray, proba: np.ndarray, max_points: int) -> Records:
    """Precision-recall curve: the positive class, or micro-averaged over classes."""
    from sklearn.metrics import precision_recall_curve

    if proba.shape[1] == 2:
        precision, recall, _ = precision_recall_curve(y == 1, proba[:, 1])
    else:
        onehot = np.eye(proba.shape[1], dtype=bool)[y]
        precision, recall, _ = precision_recall_curve(onehot.ravel(), proba.ravel())
    keep = thin(len(recall), max_points)
    return [{"recall": float(recall[i]), "precision": float(precision[i])} for i in keep]


def calibration_records(y: np.ndarray, proba: np.ndarray, bins: int) -> Records:
    """Reliability diagram: mean predicted vs observed rate per equal-width probability bin.

    Binary: the positive-class probability; multiclass: the top-label confidence vs accuracy.
    """
    if proba.shape[1] == 2:
        score, hit = proba[:, 1], (y == 1)
    else:
        score, hit = proba.max(axis=1), proba.argmax(axis=1) == y
    which = np.clip((score * bins).astype(int), 0, bins - 1)
    out = []
    for b in range(bins):
        member = which == b
        if member.any():
            out.append({
                "predicted": float(score[member].mean()),
                "observed": float(hit[member].mean()),
                "rows": int(member.sum()),
            })
    return out


def confusion_records(y: np.ndarray, pred: np.ndarray, classes: list[str]) -> Records:
    """One (actual, predicted) record per test row, as dvc's confusion template expects."""
    labels = np.asarray(classes, dtype=object)
    return [{"actual": a, "predicted": p} for a, p in zip(labels[y], labels[pred], strict=True)]


def class_bar_records(report: dict[str, dict[str, float]]) -> Records:
    """Per-class precision/recall/F1 as bars named '<class> <metric>'."""
    return [
        {"name": f"{label} {metric}", "value": float(scores[metric])}
        for label, scores in report.items()
        for metric in ("precision", "recall", "f1")
    ]


def group_bar_records(per_group: dict[str, dict[str, dict[str, float]]]) -> Records:
    """Per-group metrics as bars named '<column>=<group> <metric>' (counts left out).

    Intersections (``sex+race``) stay in the metrics and the card but not in the chart: their
    dozens of bars would bury the single-column groups a reader looks for first.
    """
    return [
        {"name": f"{column}={group} {metric}", "value": float(value)}
        for column, groups in per_group.items()
        if "+" not in column
        for group, scores in groups.items()
        for metric, value in scores.items()
        if metric != "count" and value is not None and np.isfinite(value)
    ]


def importance_records(importance: dict[str, float], top: int = 20) -> Records:
    """The `top` features by importance, largest first."""
    ranked = sorted(importance.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [{"feature": name, "importance": float(value)} for name, value in ranked]


def scatter_records(
    y: np.ndarray, pred: np.ndarray, max_points: int, seed: int
) -> tuple[Records, Records]:
    """Predicted-vs-actual and residual points on a seeded sample of at most `max_points` rows."""
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.permutation(len(y))[:max_points])
    actual = [{"actual": float(y[i]), "predicted": float(pred[i])} for i in keep]
    residual = [{"predicted": float(pred[i]), "residual": float(y[i] - pred[i])} for i in keep]
    return actual, residual
