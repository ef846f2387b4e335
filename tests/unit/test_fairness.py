"""Per-group metrics and parity gaps against fairlearn; the gate passes, warns and fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from traincycle import fairness
from traincycle.errors import GateFailed


def biased_case(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    raw = pd.DataFrame({
        "sex": rng.choice(["Female", "Male"], n),
        "race": rng.choice(["Black", "White"], n, p=[0.3, 0.7]),
    })
    y = rng.integers(0, 2, n)
    # the model says yes far more often for men: a clear parity gap
    p_yes = np.where(raw["sex"] == "Male", 0.6, 0.2)
    pred = (rng.random(n) < np.where(y == 1, p_yes + 0.3, p_yes)).astype(int)
    return raw, y, pred


def test_gaps_match_fairlearn():
    raw, y, pred = biased_case()
    groups = fairness.group_columns(raw, ("sex", "race"), intersection=True)
    per_group, diffs = fairness.group_report(groups, y, pred, "binary", 1, min_group_size=1)
    for col in ("sex", "race", "sex+race"):
        assert diffs[col]["dp_difference"] == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=groups[col]))
        assert diffs[col]["eo_difference"] == pytest.approx(
            equalized_odds_difference(y, pred, sensitive_features=groups[col]))
    female = raw["sex"] == "Female"
    assert per_group["sex"]["Female"]["selection_rate"] == pytest.approx(pred[female].mean())
    assert per_group["sex"]["Female"]["count"] == int(female.sum())
    assert set(per_group["sex+race"]) == {"Female+Black", "Female+White", "Male+Black", "Male+White"}


def test_small_groups_are_reported_but_not_judged():
    raw, y, pred = biased_case()
    raw.loc[:4, "race"] = "Tiny"
    groups = fairness.group_columns(raw, ("race",), intersection=True)
    per_group, diffs = fairness.group_report(groups, y, pred, "binary", 1, min_group_size=30)
    assert "Tiny" in per_group["race"]
    assert diffs["race"]["groups_judged"] == 2
    assert "Tiny" not in (diffs["race"]["detail"]["dp"]["high"], diffs["race"]["detail"]["dp"]["low"])


def test_gate_warns_or_fails_naming_column_groups_and_figure():
    raw, y, pred = biased_case()
    groups = fairness.group_columns(raw, ("sex",), intersection=False)
    _, diffs = fairness.group_report(groups, y, pred, "binary", 1, min_group_size=1)
    gap = diffs["sex"]["dp_difference"]
    assert gap > 0.2

    relaxed = fairness.judge(diffs, fairness.FairnessConfig(max_dp_difference=0.9, max_eo_difference=0.9))
    assert relaxed["status"] == "pass" and relaxed["findings"] == []
    fairness.enforce(relaxed)

    warned = fairness.judge(diffs, fairness.FairnessConfig(max_dp_difference=0.1, max_eo_difference=0.9))
    assert warned["status"] == "warning"
    fairness.enforce(warned)  # a warning never stops the stage

    strict = fairness.FairnessConfig(max_dp_difference=0.1, max_eo_difference=0.9, severity="critical")
    failed = fairness.judge(diffs, strict)
    assert failed["status"] == "fail"
    with pytest.raises(GateFailed) as info:
        fairness.enforce(failed)
    message = str(info.value)
    assert "'sex'" in message and "Male" in message and "Female" in message
    assert f"{gap:.3f}" in message and "max_dp_difference 0.1" in message


def test_regression_reports_mae_per_group():
    raw = pd.DataFrame({"sex": ["F", "F", "M", "M"]})
    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 3.0, 7.0])
    groups = fairness.group_columns(raw, ("sex",), intersection=True)
    per_group, diffs = fairness.group_report(groups, y, pred, "regression", None, min_group_size=1)
    assert per_group["sex"]["F"]["mae"] == pytest.approx(0.5)
    assert per_group["sex"]["M"]["mae"] == pytest.approx(1.5)
    assert diffs["sex"]["mae_difference"] == pytest.approx(1.0)


def test_missing_group_values_form_their_own_group():
    raw = pd.DataFrame({"sex": pd.Series(["F", None, "M"], dtype="category")})
    groups = fairness.group_columns(raw, ("sex",), intersection=True)
    assert groups["sex"].tolist() == ["F", "<NA>", "M"]


def test_multiclass_rates_use_the_favourable_class_and_accuracy_all_classes():
    raw = pd.DataFrame({"g": ["a", "a", "a", "b", "b", "b"]})
    y = np.array([0, 1, 2, 2, 2, 0])
    pred = np.array([0, 2, 2, 2, 1, 1])
    groups = fairness.group_columns(raw, ("g",), intersection=True)
    per_group, diffs = fairness.group_report(groups, y, pred, "multiclass", 2, min_group_size=1)
    assert per_group["g"]["a"]["accuracy"] == pytest.approx(2 / 3)
    assert per_group["g"]["b"]["accuracy"] == pytest.approx(1 / 3)
    assert per_group["g"]["a"]["selection_rate"] == pytest.approx(2 / 3)  # class 2 predicted twice
    assert per_group["g"]["b"]["tpr"] == pytest.approx(1 / 2)
    assert diffs["g"]["dp_difference"] == pytest.approx(1 / 3)
