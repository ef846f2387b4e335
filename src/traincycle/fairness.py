"""Per-group metrics (fairlearn MetricFrame), parity differences and the fairness gate.

Classification is judged on the favourable outcome (the positive label): selection rate, TPR
and FPR per group, demographic parity difference (largest gap in selection rate) and
equalized odds difference (the larger of the TPR and FPR gaps), as fairlearn defines them.
Groups smaller than ``min_group_size`` are reported but left out of the gaps, because a rate
over a dozen rows is noise, not evidence.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from traincycle.config import check_range
from traincycle.errors import GateFailed

JOIN = "+"
MISSING = "<NA>"


@dataclasses.dataclass(frozen=True)
class FairnessConfig:
    """evaluate.fairness: parity limits and what happens when one is exceeded."""

    max_dp_difference: float = 0.10
    max_eo_difference: float = 0.10
    #: warning: report and carry on; critical: fail the stage (exit 3)
    severity: Literal["warning", "critical"] = "warning"
    min_group_size: int = 30
    #: also judge the intersection of the first two sensitive columns (e.g. sex+race)
    intersection: bool = True

    def __post_init__(self) -> None:
        check_range("evaluate.fairness.max_dp_difference", self.max_dp_difference, 0.0, 1.0)
        check_range("evaluate.fairness.max_eo_difference", self.max_eo_difference, 0.0, 1.0)
        check_range("evaluate.fairness.min_group_size", self.min_group_size, 1)


def group_columns(raw: pd.DataFrame, sensitive: tuple[str, ...], intersection: bool) -> pd.DataFrame:
    """Sensitive group labels as strings (missing as <NA>), plus the intersection of the first two."""
    out = pd.DataFrame(index=raw.index)
    for col in sensitive:
        out[col] = raw[col].astype("string").fillna(MISSING).astype(str)
    if intersection and len(sensitive) >= 2:
        first, second = sensitive[:2]
        out[f"{first}{JOIN}{second}"] = out[first] + JOIN + out[second]
    return out


def _metric_frame(groups: pd.Series, y: np.ndarray, pred: np.ndarray, task: str) -> pd.DataFrame:
    """fairlearn MetricFrame.by_group as a frame: one row per group, one column per metric."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, mean_absolute_error

    if task == "regression":
        metrics: dict[str, Any] = {"mae": mean_absolute_error, "count": count}
    else:
        metrics = {
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "count": count,
        }
    with warnings.catch_warnings():
        # a group with no positives (or negatives) has an undefined TPR (FPR); it shows as 0
        warnings.simplefilter("ignore")
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=groups.to_numpy())
        by_group = frame.by_group
    by_group.index = by_group.index.astype(str)
    return by_group.sort_index()


def group_report(
    groups: pd.DataFrame, y: np.ndarray, pred: np.ndarray, task: str, favourable: int | None,
    min_group_size: int,
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, Any]]]:
    """Per-group metrics and per-column parity differences.

    Args:
        groups: one column of group labels per sensitive column (see `group_columns`).
        y: true class index (classification) or value (regression).
        pred: predicted class index or value.
        task: binary, multiclass or regression.
        favourable: the class index counted as the favourable outcome (classification).
        min_group_size: smaller groups are reported but not used for the differences.

    Returns:
        ``per_group[column][group][metric]`` and ``differences[column]`` with the gaps and the
        groups at either end of each gap.
    """
    correct = y == pred
    if task != "regression":
        y, pred = (y == favourable).astype(int), (pred == favourable).astype(int)
    per_group: dict[str, dict[str, dict[str, float]]] = {}
    differences: dict[str, dict[str, Any]] = {}
    for col in groups.columns:
        table = _metric_frame(groups[col], y, pred, task)
        if task == "multiclass":
            # accuracy over all classes, not of the favourable-vs-rest view the rates use
            table["accuracy"] = pd.Series(correct).groupby(groups[col].to_numpy()).mean()
        per_group[col] = {
            str(g): {m: (int(v) if m == "count" else float(v)) for m, v in row.items()}
            for g, row in table.iterrows()
        }
        judged = table[table["count"] >= min_group_size]
        differences[col] = gaps(judged, task)
        differences[col]["groups_judged"] = len(judged)
    return per_group, differences


def _gap(table: pd.DataFrame, metric: str) -> dict[str, Any]:
    """Largest minus smallest value of `metric` across groups, with the two groups named."""
    if len(table) < 2:
        return {"value": 0.0, "high": None, "low": None}
    values = table[metric]
    high, low = values.idxmax(), values.idxmin()
    return {
        "value": float(values[high] - values[low]), "high": str(high), "low": str(low),
        "high_value": float(values[high]), "low_value": float(values[low]),
    }


def gaps(table: pd.DataFrame, task: str) -> dict[str, Any]:
    """Parity differences over the groups in `table` (rows: groups, columns: metrics)."""
    if task == "regression":
        mae = _gap(table, "mae")
        return {"mae_difference": mae["value"], "detail": {"mae": mae}}
    rates = {m: _gap(table, m) for m in ("selection_rate", "tpr", "fpr")}
    eo_metric = max(("tpr", "fpr"), key=lambda m: rates[m]["value"])
    return {
        "dp_difference": rates["selection_rate"]["value"],
        "eo_difference": rates[eo_metric]["value"],
        "detail": {"dp": rates["selection_rate"], "eo": {"metric": eo_metric, **rates[eo_metric]}},
    }


def gate_findings(differences: dict[str, dict[str, Any]], cfg: FairnessConfig) -> list[str]:
    """One line per parity difference above its limit, naming column, groups and figures."""
    findings = []
    for col, diff in differences.items():
        for key, label, limit, param in (
            ("dp", "demographic parity difference", cfg.max_dp_difference, "max_dp_difference"),
            ("eo", "equalized odds difference", cfg.max_eo_difference, "max_eo_difference"),
        ):
            if f"{key}_difference" not in diff or diff[f"{key}_difference"] <= limit:
                continue
            d = diff["detail"][key]
            what = "selection rate" if key == "dp" else d["metric"].upper()
            findings.append(
                f"fairness gate: {label} on {col!r} is {diff[f'{key}_difference']:.3f} "
                f"({what} {d['high']} {d['high_value']:.3f} vs {d['low']} {d['low_value']:.3f}), "
                f"above evaluate.fairness.{param} {limit:g}"
            )
    return findings


def judge(differences: dict[str, dict[str, Any]], cfg: FairnessConfig) -> dict[str, Any]:
    """The gate result; raises GateFailed on a finding when severity is critical."""
    findings = gate_findings(differences, cfg)
    status = "pass" if not findings else ("fail" if cfg.severity == "critical" else "warning")
    return {
        "status": status,
        "severity": cfg.severity,
        "max_dp_difference": cfg.max_dp_difference,
        "max_eo_difference": cfg.max_eo_difference,
        "findings": findings,
    }


def enforce(gate: dict[str, Any]) -> None:
    """Raise GateFailed (exit 3) with the first finding when the gate failed."""
    if gate["status"] == "fail":
        more = len(gate["findings"]) - 1
        suffix = f" (and {more} more)" if more else ""
        raise GateFailed(gate["findings"][0] + suffix)
