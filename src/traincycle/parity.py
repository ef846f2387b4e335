"""The parity gate: how far an optimised variant strays from the native model, on validation.

Every variant is scored on the validation rows and compared with the native model's scores:
the largest absolute probability difference, the share of rows given the same label, and the
change of the validation metric. The lossless ONNX export has its own, tight probability
tolerance: a scaler in front of trees, for instance, moves float32 values across split points
and shows up here as a large difference (DESIGN pitfalls).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.errors import GateFailed

Severity = Literal["critical", "warning"]


@dataclasses.dataclass(frozen=True)
class ParityConfig:
    """Tolerances of an optimised variant against the native model (validation rows only)."""

    #: largest |p_variant - p_native| a lossy variant (pruned, int8, fewer trees) may show
    max_prob_diff: float = 0.25
    #: the same for the lossless float ONNX export of the native model
    exact_prob_diff: float = 1e-4
    #: smallest share of validation rows whose predicted label must agree with native
    min_agreement: float = 0.97
    #: largest drop of the validation metric (roc_auc/accuracy: points as a fraction; rmse: units)
    max_metric_drop: float = 0.005
    #: a failing float export: critical (GateFailed, exit 3) or warning (dropped, reported)
    severity: Severity = "critical"
    #: the same for lossy variants
    lossy_severity: Severity = "warning"

    def __post_init__(self) -> None:
        check_range("optimize.parity.max_prob_diff", self.max_prob_diff, 0.0, 1.0, low_open=True)
        check_range("optimize.parity.exact_prob_diff", self.exact_prob_diff, 0.0, 1.0, low_open=True)
        check_range("optimize.parity.min_agreement", self.min_agreement, 0.0, 1.0)
        check_range("optimize.parity.max_metric_drop", self.max_metric_drop, 0.0)


def metric_name(task: str) -> str:
    """The validation metric the gate tracks: roc_auc, accuracy or rmse."""
    from traincycle.models.base import main_metric

    return main_metric(task)


def metric_value(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    """The tracked metric of `scores` (probabilities, or values for regression)."""
    from traincycle.models.base import score

    values = scores.reshape(-1) if task == "regression" else scores
    return float(score(task, y, values)[metric_name(task)])


def compare(reference: np.ndarray, candidate: np.ndarray, y: np.ndarray, task: str) -> dict[str, float]:
    """Parity figures of `candidate` against `reference` scores on the same rows.

    For regression the difference is relative to the spread of the reference predictions
    (max |diff| / max(std, 1e-12)) and agreement is the share of rows within max_prob_diff of it.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"score shapes differ: {reference.shape} vs {candidate.shape}")
    diff = np.abs(candidate - reference)
    if task == "regression":
        scale = max(float(np.std(reference)), 1e-12)
        rel = diff.reshape(-1) / scale
        max_diff, agreement = float(rel.max(initial=0.0)), float(np.mean(rel <= 0.05))
    else:
        max_diff = float(diff.max(initial=0.0))
        agreement = float(np.mean(candidate.argmax(axis=1) == reference.argmax(axis=1)))
    ref_metric = metric_value(task, y, reference)
    cand_metric = metric_value(task, y, candidate)
    lower_is_better = task == "regression"
    drop = cand_metric - ref_metric if lower_is_better else ref_metric - cand_metric
    return {
        "max_prob_diff": max_diff,
        "agreement": agreement,
        "metric": cand_metric,
        "metric_delta": cand_metric - ref_metric,
        "metric_drop": drop,
    }


def failure(figures: dict[str, float], cfg: ParityConfig, lossless: bool) -> str | None:
    """Why `figures` break the tolerances (the first broken one), or None when they hold."""
    limit = cfg.exact_prob_diff if lossless else cfg.max_prob_diff
    if figures["max_prob_diff"] > limit:
        return f"max prob diff {figures['max_prob_diff']:.3g} > {limit:g}"
    if figures["agreement"] < cfg.min_agreement:
        return f"label agreement {figures['agreement']:.4f} < {cfg.min_agreement:g}"
    if figures["metric_drop"] > cfg.max_metric_drop:
        return f"val metric drop {figures['metric_drop']:.4f} > {cfg.max_metric_drop:g}"
    return None


def judge(name: str, figures: dict[str, float], cfg: ParityConfig, lossless: bool) -> dict[str, Any]:
    """Accept or drop a variant; a critical failure raises GateFailed naming variant and figure."""
    reason = failure(figures, cfg, lossless)
    severity = cfg.severity if lossless else cfg.lossy_severity
    if reason and severity == "critical":
        raise GateFailed(f"optimize: parity gate failed for variant {name!r} on val: {reason}")
    return {"accepted": reason is None, "reason": reason or ""}
