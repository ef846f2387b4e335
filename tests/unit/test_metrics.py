"""Each weighted metric against scikit-learn, and the bootstrap's intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from traincycle import metrics as m


def classification_case(k: int, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    logits[:20] = np.round(logits[:20])  # ties in the scores
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba, proba.argmax(axis=1)


@pytest.mark.parametrize("k", [2, 3])
def test_classification_metrics_match_sklearn(k):
    y, proba, pred = classification_case(k)
    got = m.point_metrics(y, proba, pred, "binary" if k == 2 else "multiclass")
    onehot = np.eye(k)[y]
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1]) if k == 2
        else skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"),
        "pr_auc": skm.average_precision_score(y, proba[:, 1]) if k == 2
        else skm.average_precision_score(onehot, proba, average="macro"),
        "log_loss": skm.log_loss(y, proba),
        "brier": skm.brier_score_loss(y, proba[:, 1]) if k == 2
        else ((proba - onehot) ** 2).sum(axis=1).mean(),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_weights_equal_repeated_rows():
    """A bootstrap weight of 2 must score exactly like the row appearing twice."""
    y, proba, pred = classification_case(2, n=120, seed=3)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(y), len(y))
    w = np.bincount(idx, minlength=len(y))[None, :].astype(float)
    for name in ("roc_auc", "pr_auc", "f1_macro", "log_loss", "balanced_accuracy"):
        weighted = m.score_all(w, y, proba, pred, "binary", (name,))[name][0]
        resampled = m.point_metrics(y[idx], proba[idx], pred[idx], "binary")[name]
        assert weighted == pytest.approx(resampled, abs=1e-9), name


def test_ece_matches_a_direct_loop():
    y, proba, pred = classification_case(3, seed=5)
    conf, correct = proba.max(axis=1), pred == y
    bins = np.minimum((conf * 15).astype(int), 14)
    direct = sum(
        abs(correct[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
        for b in np.unique(bins)
    )
    assert m.point_metrics(y, proba, pred, "multiclass")["ece"] == pytest.approx(direct)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(10, 3, 200)
    pred = y + rng.normal(0, 1, 200)
    got = m.point_metrics(y, None, pred, "regression")
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred))


def test_per_class_report_matches_sklearn():
    y, _, pred = classification_case(3, seed=7)
    report = m.class_report(y, pred, ["a", "b", "c"])
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    assert [report[c]["precision"] for c in "abc"] == pytest.approx(p)
    assert [report[c]["recall"] for c in "abc"] == pytest.approx(r)
    assert [report[c]["f1"] for c in "abc"] == pytest.approx(f)
    assert [report[c]["support"] for c in "abc"] == pytest.approx(s)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    y, proba, pred = classification_case(2, n=500, seed=9)
    names = ("roc_auc", "accuracy")
    first = m.bootstrap_ci(y, proba, pred, "binary", names, 300, 0.95, seed=4)
    again = m.bootstrap_ci(y, proba, pred, "binary", names, 300, 0.95, seed=4)
    other = m.bootstrap_ci(y, proba, pred, "binary", names, 300, 0.95, seed=5)
    assert first == again
    assert first != other
    point = m.point_metrics(y, proba, pred, "binary")
    for name in names:
        assert first[name]["low"] < point[name] < first[name]["high"]
        assert first[name]["high"] - first[name]["low"] < 0.15


def test_bootstrap_weights_sum_to_n():
    w = m.bootstrap_weights(50, 7, np.random.default_rng(0))
    assert w.shape == (7, 50)
    assert (w.sum(axis=1) == 50).all()
