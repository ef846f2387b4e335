"""Test-set metrics, written once as weighted array code so the bootstrap is one matrix product.

Every metric takes a weight matrix ``w`` of shape (B, n) and returns B values: a row of ones is
the plain metric; a row of bootstrap counts (how often each test row was drawn) is one
bootstrap replicate. Scoring 1000 resamples is then a few (B, n) array operations instead of
1000 calls to scikit-learn, and the point estimate and its CI come from the same code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: metrics where lower is better (the problem threshold is then `at_most`)
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mse", "rmse", "mae", "mape"})
CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
    "roc_auc", "pr_auc", "log_loss", "brier", "ece",
)
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2", "mape")
#: metrics that get a bootstrap confidence interval
HEADLINE = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "pr_auc", "log_loss",
                       "brier"),
    "regression": ("rmse", "mae", "r2"),
}
EPS = np.finfo(np.float64).eps
#: bootstrap replicates scored per chunk, to bound memory at (chunk, n) floats
CHUNK = 100


def metric_names(task: str) -> tuple[str, ...]:
    """All metric names for a task (binary, multiclass or regression)."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def ones(n: int) -> np.ndarray:
    """The weight matrix of the plain (unresampled) metric."""
    return np.ones((1, n))


def bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) draw counts: row b says how often each row appears in bootstrap sample b."""
    idx = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


# --- classification: y is the int class index (n,), proba is (n, k), pred is (n,) ---


def accuracy(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Share of rows predicted right."""
    return (w @ (y == pred)) / w.sum(axis=1)


def class_counts(w: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Weighted true positives, predicted and actual counts per class, each (B, k)."""
    eye = np.eye(k, dtype=bool)
    actual, predicted = eye[y], eye[pred]
    return w @ (actual & predicted), w @ predicted, w @ actual


def per_class(w: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class, each (B, k)."""
    tp, predicted, actual = class_counts(w, y, pred, k)
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, actual),
        "f1": _ratio(2 * tp, predicted + actual),
        "support": actual,
    }


def balanced_accuracy(w: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Mean recall over the classes present."""
    tp, _, actual = class_counts(w, y, pred, k)
    present = actual > 0
    return _ratio(tp, actual).sum(axis=1) / present.sum(axis=1)


def macro(name: str) -> Callable[..., np.ndarray]:
    """Macro average of one per-class score (precision, recall or f1)."""

    def score(w: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
        return per_class(w, y, pred, k)[name].mean(axis=1)

    score.__doc__ = f"Macro-averaged {name}."
    return score


def binary_auc(w: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC (Mann-Whitney: chance a positive outranks a negative, ties count half)."""
    order = np.argsort(score, kind="stable")
    s, pos, ws = score[order], positive[order], w[:, order]
    # tied scores form one block: negatives in the same block count half
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    block = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    wneg = ws * ~pos
    neg_block = np.add.reduceat(wneg, starts, axis=1)
    neg_below = np.cumsum(neg_block, axis=1) - neg_block
    credit = neg_below[:, block] + 0.5 * neg_block[:, block]
    wpos = ws * pos
    n_pos, n_neg = wpos.sum(axis=1), wneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), (wpos * credit).sum(axis=1) / (n_pos * n_neg), np.nan)


def binary_ap(w: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted average precision: sum over thresholds of recall gain times precision."""
    order = np.argsort(-score, kind="stable")
    s, pos, ws = score[order], positive[order], w[:, order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp = np.cumsum(ws * pos, axis=1)[:, ends]
    fp = np.cumsum(ws * ~pos, axis=1)[:, ends]
    total = tp[:, -1:]
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, np.broadcast_to(total, tp.shape))
    gain = np.diff(recall, axis=1, prepend=0.0)
    return np.where(total[:, 0] > 0, (gain * precision).sum(axis=1), np.nan)


def one_vs_rest(binary: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Binary score of the last class, or the macro average over classes (one vs rest)."""

    def score(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
        k = proba.shape[1]
        if k == 2:
            return binary(w, y == 1, proba[:, 1])
        return np.mean([binary(w, y == c, proba[:, c]) for c in range(k)], axis=0)

    return score


roc_auc = one_vs_rest(binary_auc)
pr_auc = one_vs_rest(binary_ap)


def log_loss(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Mean negative log probability of the true class (probabilities clipped to [eps, 1-eps])."""
    p = np.clip(proba[np.arange(len(y)), y], EPS, 1 - EPS)
    return (w @ -np.log(p)) / w.sum(axis=1)


def brier(w: np.ndarray, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Brier score: squared error of the positive-class probability (binary), or summed over classes."""
    if proba.shape[1] == 2:
        err = (proba[:, 1] - (y == 1)) ** 2
    else:
        err = ((proba - np.eye(proba.shape[1])[y]) ** 2).sum(axis=1)
    return (w @ err) / w.sum(axis=1)


def confidence_bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin index in [0, bins) of each confidence in [0, 1]."""
    return np.clip((confidence * bins).astype(int), 0, bins - 1)


def ece(w: np.ndarray, y: np.ndarray, proba: np.ndarray, bins: int = 15) -> np.ndarray:
    """Expected calibration error of the top-label confidence over equal-width bins."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    member = np.eye(bins, dtype=bool)[confidence_bins(confidence, bins)]
    size = w @ member
    gap = w @ (member * (correct - confidence)[:, None])
    return np.abs(gap).sum(axis=1) / size.sum(axis=1)


# --- regression: y and pred are floats ---


def mse(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean squared error."""
    return (w @ (y - pred) ** 2) / w.sum(axis=1)


def rmse(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Root mean squared error."""
    return np.sqrt(mse(w, y, pred))


def mae(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean absolute error."""
    return (w @ np.abs(y - pred)) / w.sum(axis=1)


def r2(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination (1 - residual / total sum of squares)."""
    total = w.sum(axis=1)
    mean = (w @ y) / total
    ss_tot = (w * (y[None, :] - mean[:, None]) ** 2).sum(axis=1)
    ss_res = w @ (y - pred) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def mape(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean absolute percentage error as a fraction (scikit-learn's definition)."""
    return (w @ (np.abs(y - pred) / np.maximum(np.abs(y), EPS))) / w.sum(axis=1)


def score_all(
    w: np.ndarray, y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, task: str,
    names: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """The named metrics (default: all for the task) under weights `w`, each of shape (B,)."""
    names = names or metric_names(task)
    if task == "regression":
        fns = {"mse": mse, "rmse": rmse, "mae": mae, "r2": r2, "mape": mape}
        return {name: fns[name](w, y, pred) for name in names}
    assert proba is not None
    k = proba.shape[1]
    by_pred = {
        "accuracy": lambda: accuracy(w, y, pred),
        "balanced_accuracy": lambda: balanced_accuracy(w, y, pred, k),
        "precision_macro": lambda: macro("precision")(w, y, pred, k),
        "recall_macro": lambda: macro("recall")(w, y, pred, k),
        "f1_macro": lambda: macro("f1")(w, y, pred, k),
        "roc_auc": lambda: roc_auc(w, y, proba),
        "pr_auc": lambda: pr_auc(w, y, proba),
        "log_loss": lambda: log_loss(w, y, proba),
        "brier": lambda: brier(w, y, proba),
        "ece": lambda: ece(w, y, proba),
    }
    return {name: by_pred[name]() for name in names}


def point_metrics(
    y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, task: str
) -> dict[str, float]:
    """Every metric for the task on the test rows as they are."""
    return {k: float(v[0]) for k, v in score_all(ones(len(y)), y, proba, pred, task).items()}


def bootstrap_ci(
    y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, task: str, names: tuple[str, ...],
    resamples: int, level: float, seed: int,
) -> dict[str, dict[str, float]]:
    """Percentile bootstrap interval of each named metric: {name: {low, high}}."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, resamples, CHUNK):
        w = bootstrap_weights(len(y), min(CHUNK, resamples - start), rng)
        for name, values in score_all(w, y, proba, pred, task, names).items():
            draws[name].append(values)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, chunks in draws.items():
        values = np.concatenate(chunks)
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
        out[name] = {"low": float(low), "high": float(high)}
    return out


def class_report(
    y: np.ndarray, pred: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for each class label."""
    scores = per_class(ones(len(y)), y, pred, len(classes))
    return {
        label: {
            name: int(values[0, i]) if name == "support" else float(values[0, i])
            for name, values in scores.items()
        }
        for i, label in enumerate(classes)
    }
