"""comparison: paired bootstrap of a metric difference between two models on the same test rows."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.comparison import paired_difference, predictions_frame, verdict
from traincycle.errors import DataError


def frame(y, p1, ids=None):
    proba = np.column_stack([1 - p1, p1])
    return predictions_frame(np.arange(len(y)) if ids is None else ids, y, proba, proba.argmax(axis=1))


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    signal = y + rng.normal(0, 0.8, 2000)
    return y, 1 / (1 + np.exp(-signal)), rng


def test_a_clearly_better_model_is_better_and_the_reverse_worse(rows):
    y, p, rng = rows
    noisy = 1 / (1 + np.exp(-(y + rng.normal(0, 2.0, len(y)))))
    up = paired_difference(frame(y, noisy), frame(y, p), "binary", "roc_auc", 300)
    assert up["verdict"] == "better" and up["low"] > 0 and up["low"] <= up["difference"] <= up["high"]
    assert paired_difference(frame(y, p), frame(y, noisy), "binary", "roc_auc", 300)["verdict"] == "worse"
    # lower is better for log loss: the better model's difference is negative, still "better"
    assert paired_difference(frame(y, noisy), frame(y, p), "binary", "log_loss", 300)["verdict"] == "better"


def test_a_tiny_perturbation_is_within_noise_and_rows_join_on_row_id(rows):
    y, p, rng = rows
    nudged = np.clip(p + rng.normal(0, 0.01, len(y)), 0, 1)
    shuffled = rng.permutation(len(y))
    head = frame(y[shuffled], nudged[shuffled], ids=shuffled)  # same rows, another order
    out = paired_difference(frame(y, p), head, "binary", "roc_auc", 300)
    assert out["verdict"] == "within noise" and out["rows"] == len(y)
    assert out == paired_difference(frame(y, p), head, "binary", "roc_auc", 300)  # seeded


def test_changed_labels_are_refused(rows):
    y, p, _ = rows
    with pytest.raises(DataError, match="different labels"):
        paired_difference(frame(y, p), frame(1 - y, p), "binary", "roc_auc", 10)


def test_verdict_edges():
    assert verdict("rmse", -0.2, -0.1) == "better" and verdict("r2", -0.2, -0.1) == "worse"
    assert verdict("accuracy", -0.01, 0.02) == "within noise"
    assert verdict("accuracy", float("nan"), 0.1) == "within noise"


def test_per_group_verdicts_find_a_change_that_helps_one_group_only(rows):
    import pandas as pd

    from traincycle.comparison import paired_by_group

    y, p, rng = rows
    group = np.where(np.arange(len(y)) % 2, "a", "b")
    noisy = 1 / (1 + np.exp(-(y + rng.normal(0, 2.0, len(y)))))
    helped = np.where(group == "a", p, noisy)  # head is the better model on group a only
    groups = pd.DataFrame({"sex": group, "tiny": np.where(np.arange(len(y)) < 5, "x", "y")})
    base = frame(y, noisy)
    head = predictions_frame(np.arange(len(y)), y, np.column_stack([1 - helped, helped]),
                             (helped > 0.5).astype(int), groups)
    out = {(g["attribute"], g["group"]): g for g in paired_by_group(base, head, "binary", "roc_auc", 30, 300)}
    assert out["sex", "a"]["verdict"] == "better" and out["sex", "a"]["rows"] == len(y) // 2
    assert out["sex", "b"]["verdict"] == "within noise" and out["sex", "b"]["difference"] == 0
    assert ("tiny", "x") not in out and ("tiny", "y") in out  # 5 rows: below min_rows, not judged
