"""Chart data: thinned curves keep their ends, multiclass curves average, records are plain."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc

from traincycle import plots


def case(k: int, n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2 * np.eye(k)[y]
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_thin_keeps_first_and_last():
    idx = plots.thin(1000, 50)
    assert len(idx) == 50 and idx[0] == 0 and idx[-1] == 999
    assert plots.thin(10, 50).tolist() == list(range(10))


@pytest.mark.parametrize("k", [2, 3])
def test_roc_curve_is_thinned_and_keeps_its_area(k):
    from sklearn.metrics import roc_auc_score

    y, proba = case(k)
    records = plots.roc_records(y, proba, 100)
    assert len(records) <= 100
    fpr, tpr = [r["fpr"] for r in records], [r["tpr"] for r in records]
    assert fpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    exact = roc_auc_score(y, proba[:, 1]) if k == 2 else roc_auc_score(y, proba, multi_class="ovr")
    assert auc(fpr, tpr) == pytest.approx(exact, abs=0.01)


def test_calibration_bins_cover_every_row():
    y, proba = case(2)
    records = plots.calibration_records(y, proba, 10)
    assert sum(r["rows"] for r in records) == len(y)
    assert all(0 <= r["predicted"] <= 1 and 0 <= r["observed"] <= 1 for r in records)


def test_confusion_and_bars_use_labels():
    records = plots.confusion_records(np.array([0, 1, 1]), np.array([0, 0, 1]), ["no", "yes"])
    assert records == [{"actual": "no", "predicted": "no"}, {"actual": "yes", "predicted": "no"},
                       {"actual": "yes", "predicted": "yes"}]
    bars = plots.group_bar_records({"sex": {"F": {"accuracy": 0.9, "count": 10}}})
    assert bars == [{"name": "sex=F accuracy", "value": 0.9}]
    top = plots.importance_records({"a": 0.1, "b": 0.3, "c": 0.3}, top=2)
    assert [r["feature"] for r in top] == ["b", "c"]


def test_group_bars_leave_intersections_to_the_card():
    bars = plots.group_bar_records({
        "sex": {"F": {"accuracy": 0.9, "count": 10}},
        "sex+race": {"F+Black": {"accuracy": 0.8, "count": 3}},
    })
    assert bars == [{"name": "sex=F accuracy", "value": 0.9}]
