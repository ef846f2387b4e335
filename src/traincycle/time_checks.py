"""What validate checks in the time column of a time series (data.time), before split relies on it.

Each finding counts the rows that break one rule; validate turns it into a check with a severity
and its details into reports/validation.json:

* ``parse`` (critical): a missing time or a value that is not a date/time;
* ``duplicates`` (critical): two rows of one series at the same time;
* ``grid`` (critical): a time off the regular step grid (split needs integer steps);
* ``order`` (warning): a row earlier than the row before it in its series (split sorts by time);
* ``gaps`` (warning): steps with no row between a series' first and last time (lags there are
  missing, imputed by featurize).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from traincycle.config import TimeConfig
from traincycle.schema import Severity
from traincycle.timeseries import coerce_times, common_step, consecutive, positions, series_codes, step_name

#: example values listed per finding
EXAMPLES = 5


@dataclasses.dataclass(frozen=True)
class Finding:
    """Rows breaking one rule of the time column, and what a reader needs to find them."""

    kind: str
    severity: Severity
    violations: int
    observed: dict[str, Any]


def inspect(df: pd.DataFrame, time: TimeConfig) -> list[Finding]:
    """Every rule checked on `df` (the series column must exist: split's error names it otherwise)."""
    column = time.column
    if column not in df.columns:
        return [Finding("parse", "critical", len(df),
                        {"error": f"time column {column!r} (params data.time.column) is not in the data"})]
    values = df[column]
    times = coerce_times(values)
    bad = np.asarray(times.isna())
    findings = [Finding("parse", "critical", int(bad.sum()), {
        "rows": np.flatnonzero(bad)[:EXAMPLES].tolist(),
        "partial_unexpected_list": [None if pd.isna(v) else str(v) for v in values[bad][:EXAMPLES]],
    })]
    ok = ~bad
    key = series_codes(df, time.series, "validate")[ok]
    times = times[ok]
    order, gaps = consecutive(times, key)
    same = key[order][1:] == key[order][:-1]
    twins = order[1:][same][gaps == 0]
    findings.append(Finding("duplicates", "critical", len(twins),
                            {"partial_unexpected_list": [str(t) for t in times[twins][:EXAMPLES]]}))
    earlier = pd.Series(times.asi8) < pd.Series(times.asi8).groupby(key).shift()
    findings.append(Finding("order", "warning", int(earlier.sum()),
                            {"sorted": not earlier.any(),
                             "rows": np.flatnonzero(ok)[earlier.to_numpy()][:EXAMPLES].tolist()}))
    if not (gaps > 0).any():
        findings.append(Finding("grid", "critical", len(times), {"error": "no series has two times"}))
        return findings
    diff = common_step(gaps)
    pos, off = positions(times, diff)
    findings.append(Finding("grid", "critical", int(off.sum()), {
        "step": step_name(diff), "partial_unexpected_list": [str(t) for t in times[off][:EXAMPLES]]}))
    steps = np.diff(pos[order])[same]
    holes = steps[steps > 1] - 1
    findings.append(Finding("gaps", "warning", int(holes.sum()), {
        "step": step_name(diff), "missing_steps": int(holes.sum()), "holes": len(holes),
        "largest_hole_steps": int(holes.max()) if len(holes) else 0}))
    return findings
