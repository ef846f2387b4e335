"""Parity gate: figures, critical vs warning, and the scaler-in-front-of-trees pitfall."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.errors import GateFailed
from traincycle.parity import ParityConfig, compare, failure, judge

from conftest import tiny_pipeline


def test_compare_reports_diff_agreement_and_metric_drop() -> None:
    y = np.array([0, 1, 0, 1])
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    cand = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7]])
    figures = compare(ref, cand, y, "binary")
    assert figures["max_prob_diff"] == pytest.approx(0.5)
    assert figures["agreement"] == pytest.approx(0.75)
    assert figures["metric_drop"] == pytest.approx(0.5)  # roc_auc 1.0 -> 0.5


def test_critical_failure_raises_naming_variant_and_figure() -> None:
    figures = {"max_prob_diff": 0.3, "agreement": 1.0, "metric_drop": 0.0}
    with pytest.raises(GateFailed, match=r"'onnx_float'.*max prob diff 0.3"):
        judge("onnx_float", figures, ParityConfig(), lossless=True)


def test_warning_drops_the_variant_and_reports_why() -> None:
    figures = {"max_prob_diff": 0.01, "agreement": 0.9, "metric_drop": 0.0}
    verdict = judge("int8_dynamic", figures, ParityConfig(lossy_severity="warning"), lossless=False)
    assert verdict == {"accepted": False, "reason": "label agreement 0.9000 < 0.97"}
    assert failure({"max_prob_diff": 0.01, "agreement": 1.0, "metric_drop": 0.0},
                   ParityConfig(), lossless=False) is None


def test_scaler_in_front_of_trees_is_caught_by_the_gate() -> None:
    """DESIGN pitfall: float32 rounding of scaled values lands on split points."""
    from traincycle.optimize import Inputs, OptimizeConfig, build_variants, score_variants

    fz, model, processed, raw = tiny_pipeline("random_forest", scaling="standard", n=600)
    inp = Inputs(fz, model, processed["val"], raw["val"])
    cfg = OptimizeConfig(parity=ParityConfig(severity="warning"))
    variants = build_variants(inp, cfg, 0)
    score_variants(variants, inp, cfg)
    float_variant = variants[0]
    if float_variant.figures["max_prob_diff"] <= cfg.parity.exact_prob_diff:
        pytest.skip("no val row fell near a split point on this tiny sample")
    assert not float_variant.verdict["accepted"]
    with pytest.raises(GateFailed, match="onnx_float"):
        score_variants(variants, inp, OptimizeConfig())
