"""Per-group summaries of the sensitive columns, the input of the validate stage's bias checks.

Each sensitive column gets one small frame, one row per group, which Great Expectations then
checks like any other batch: group row share, positive-label rate relative to the most favoured
group (the four-fifths rule) and the share of rows with a missing value.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from traincycle.config import check_range
from traincycle.schema import Severity

MISSING_GROUP = "<NA>"


@dataclasses.dataclass(frozen=True)
class BiasSeverity:
    """Severity of each bias check."""

    group_share: Severity = "critical"
    #: Adult is skewed (women and some races earn >50K far less often): report, don't stop
    label_rate_ratio: Severity = "warning"
    group_missing: Severity = "warning"


@dataclasses.dataclass(frozen=True)
class BiasConfig:
    """Limits of the bias checks run per sensitive column (params `validate.bias`)."""

    #: each group's share of the rows must be at least this
    min_group_share: float = 0.005
    #: positive-label rate of every group / that of the most favoured group (0.8 = four-fifths rule)
    min_label_rate_ratio: float = 0.8
    #: share of a group's rows with any missing value must be at most this
    max_group_missing_share: float = 0.2
    severity: BiasSeverity = dataclasses.field(default_factory=BiasSeverity)

    def __post_init__(self) -> None:
        check_range("validate.bias.min_group_share", self.min_group_share, 0.0, 1.0)
        check_range("validate.bias.min_label_rate_ratio", self.min_label_rate_ratio, 0.0, 1.0)
        check_range("validate.bias.max_group_missing_share", self.max_group_missing_share, 0.0, 1.0)


def positive_label(labels: pd.Series, configured: str | None) -> str | None:
    """The favourable label: the configured one, else the last sorted label (None if no labels)."""
    if configured is not None:
        return configured
    present = sorted(labels.dropna().astype("string").unique().tolist())
    return present[-1] if present else None


def summarize_groups(
    df: pd.DataFrame, column: str, target: str | None, positive: str | None
) -> pd.DataFrame:
    """One row per group of `column` (missing as '<NA>'), sorted by group name.

    Columns: group, rows, row_share, positive_rate, label_rate_ratio (rate / highest rate),
    missing_share (rows with any missing value, other than in `column` itself).
    """
    groups = df[column].astype("string").fillna(MISSING_GROUP).to_numpy()
    others = [c for c in df.columns if c != column]
    frame = pd.DataFrame({
        "group": groups,
        "missing": df[others].isna().any(axis=1).to_numpy() if others else False,
    })
    has_label = target is not None and positive is not None and target in df.columns
    if has_label:
        labels = df[target].astype("string")
        frame["labelled"] = labels.notna().to_numpy()
        frame["positive"] = (labels == positive).fillna(False).to_numpy()
    grouped = frame.groupby("group", sort=True)
    out = pd.DataFrame({"rows": grouped.size()})
    out["row_share"] = out["rows"] / max(len(df), 1)
    if has_label:
        labelled = grouped["labelled"].sum()
        out["positive_rate"] = (grouped["positive"].sum() / labelled.where(labelled > 0)).fillna(0.0)
        top = out["positive_rate"].max()
        # no group has any positive label: every group is treated alike
        out["label_rate_ratio"] = out["positive_rate"] / top if top > 0 else 1.0
    out["missing_share"] = grouped["missing"].mean()
    return out.reset_index()
