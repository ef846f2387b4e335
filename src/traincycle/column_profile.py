"""Per-column profiles: the schema's column checks computed in bulk with pandas/numpy.

One Great Expectations expectation per column per check costs GX's whole metric machinery each
time (minutes for a few thousand columns), so the validate stage computes what those checks
observe here instead: null counts, out-of-range and non-finite counts, values outside an
allowed set and distinct counts. Numeric columns of one dtype are scanned together as one 2-D
block. Each check gets the same `observed` fields GX's SUMMARY result holds (element_count,
unexpected_count, unexpected_percent, the first 20 unexpected values, or observed_value) and a
`violations` count (0 = pass); validate then checks the profile table with one GX expectation
per check kind. A check this module cannot compute the way GX would (a range on a text
column, say) is left to GX itself: see `profiled`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

#: the column check kinds computed here; the dtype check is left to GX (see validate)
PROFILED_KINDS = ("nulls", "range", "finite", "values", "constant")
#: how many unexpected values a result lists (GX's partial_unexpected_count default)
PARTIAL = 20
#: elements per 2-D block scanned at once (bounds memory at ~16M values, 128 MB of float64)
BLOCK_ELEMENTS = 1 << 24


class ColumnCheck(Protocol):
    """What this module needs of a check: validate's `Check` has these fields."""

    name: str
    kind: str
    column: str | None
    kwargs: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Observation:
    """What one column check saw: rows beyond its limit (0 = pass) and GX-style result fields."""

    violations: int
    observed: dict[str, Any]


def gx_native(dtype: Any) -> bool:
    """True for int64/float64 columns, which GX compares in bulk on the values themselves."""
    return dtype in (int, float)


def profiled(check: ColumnCheck, dtypes: Mapping[str, Any]) -> bool:
    """Whether `check` is computed here (same result as GX) rather than by GX.

    `dtypes` maps the data's column names to dtypes (`frame.dtypes.to_dict()`: looking a
    column up in a frame of thousands of columns is slow).
    """
    if check.kind not in PROFILED_KINDS or check.column not in dtypes:
        return False
    if check.kind in ("range", "finite"):
        # GX compares text/objects value by value (and raises on mixed types): left to GX
        return pd.api.types.is_numeric_dtype(dtypes[check.column])
    return True


def observe(checks: Iterable[ColumnCheck], frame: pd.DataFrame) -> dict[str, Observation]:
    """Observations of profiled checks on `frame`, keyed by check name."""
    checks = list(checks)
    dtypes = frame.dtypes.to_dict()
    rows = len(frame)
    nulls = frame.isna().sum().to_dict() if checks else {}
    bounds = {c.name: _bounds(c) for c in checks if c.kind in ("range", "finite")}
    counted = _out_of_bounds(frame, dtypes, checks, bounds)
    distinct = _distinct_counts(frame, dtypes, [c.column for c in checks if c.kind == "constant"])
    out = {}
    for check in checks:
        missing = int(nulls[check.column])
        if check.kind == "nulls":
            out[check.name] = _nulls(missing, rows, check.kwargs.get("mostly", 1.0))
        elif check.kind == "constant":
            count = distinct[check.column]
            low = check.kwargs.get("min_value")
            high = check.kwargs.get("max_value")
            ok = (low is None or count >= low) and (high is None or count <= high)
            out[check.name] = Observation(0 if ok else 1, {"observed_value": count})
        else:
            series = frame[check.column]
            if check.kind == "values":
                present = series.notna()
                mask = present & ~series.isin(check.kwargs["value_set"])
                unexpected = int(mask.sum())
            else:
                unexpected, mask = counted[check.name], None
            out[check.name] = _map_result(series, rows - missing, unexpected, mask, bounds.get(check.name))
    return out


def _nulls(missing: int, rows: int, mostly: float) -> Observation:
    """GX's not-null result: percent of all rows; pass when the non-null share reaches `mostly`."""
    ok = rows == 0 or (float(rows) - float(missing)) / float(rows) >= mostly
    percent = missing / rows * 100 if rows else None
    observed = {"element_count": rows, "unexpected_count": missing, "unexpected_percent": percent}
    return Observation(0 if ok else missing, observed)


def _map_result(
    series: pd.Series, nonnull: int, unexpected: int, mask: pd.Series | None,
    bounds: tuple[Any, Any] | None,
) -> Observation:
    """GX's column-map result: percent of non-null rows, the first unexpected values."""
    rows = len(series)
    percent = unexpected / nonnull * 100 if rows and nonnull else None
    values: list[Any] = []
    if unexpected:
        values = _first_unexpected(series, mask, bounds)
    observed = {"element_count": rows, "unexpected_count": unexpected, "unexpected_percent": percent,
                "partial_unexpected_list": values}
    ok = rows == 0 or nonnull == 0 or unexpected == 0
    return Observation(0 if ok else unexpected, observed)


def _first_unexpected(series: pd.Series, mask: pd.Series | None, bounds: tuple[Any, Any] | None) -> list:
    """The first unexpected values in row order, typed as GX lists them."""
    if mask is None:  # a range check: recompute this one column's mask (only failing columns)
        values = series if gx_native(series.dtype) else _as_float(series)
        low, high = bounds
        inside = pd.Series(True, index=series.index)
        if low is not None:
            inside &= low <= values
        if high is not None:
            inside &= values <= high
        mask = values.notna() & ~inside
        series = values
    return list(series[mask.to_numpy()][:PARTIAL])


def _as_float(series: pd.Series) -> pd.Series:
    """A float64 copy (missing as NaN): how the validate gate has compared narrow numerics."""
    return pd.Series(series.to_numpy(dtype=np.float64, na_value=np.nan), index=series.index)


def _bounds(check: ColumnCheck) -> tuple[Any, Any]:
    low, high = check.kwargs.get("min_value"), check.kwargs.get("max_value")
    if low is not None and high is not None and low > high:
        raise ValueError(f"{check.name}: min_value cannot be greater than max_value")
    return low, high


def _blocks(
    frame: pd.DataFrame, dtypes: Mapping[str, Any], columns: list[str]
) -> Iterable[tuple[list[str], np.ndarray]]:
    """(column names, 2-D values) for numeric columns, a bounded number of columns at a time.

    int64/float64 columns keep their values (GX compares them directly); other numeric dtypes
    (int32, float32, nullable Int64, bool) become float64 with NaN for missing.
    """
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(columns):
        key = str(dtypes[name]) if gx_native(dtypes[name]) else "float64-copy"
        groups.setdefault(key, []).append(name)
    width = max(1, BLOCK_ELEMENTS // max(len(frame), 1))
    for key, names in groups.items():
        for start in range(0, len(names), width):
            part = names[start:start + width]
            if key == "float64-copy":
                values = np.column_stack([_as_float(frame[n]).to_numpy() for n in part])
            else:
                values = frame[part].to_numpy()
            yield part, values


def _out_of_bounds(
    frame: pd.DataFrame, dtypes: Mapping[str, Any], checks: list[ColumnCheck],
    bounds: Mapping[str, tuple[Any, Any]],
) -> dict[str, int]:
    """Unexpected counts of range/finite checks: non-missing values outside [min, max]."""
    by_column: dict[str, list[ColumnCheck]] = {}
    for check in checks:
        if check.kind in ("range", "finite"):
            by_column.setdefault(check.column, []).append(check)
    counts: dict[str, int] = {}
    for names, values in _blocks(frame, dtypes, list(by_column)):
        present = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, dtype=bool)
        # a column may carry two bound checks (range and finite): one pass per check slot
        depth = max(len(by_column[n]) for n in names)
        for slot in range(depth):
            sel = [i for i, n in enumerate(names) if len(by_column[n]) > slot]
            block = values[:, sel]
            lows, highs = _bound_arrays([bounds[by_column[names[i]][slot].name] for i in sel], block.dtype)
            with np.errstate(invalid="ignore"):
                outside = present[:, sel] & ~((lows <= block) & (block <= highs))
            for i, count in zip(sel, outside.sum(axis=0).tolist(), strict=True):
                counts[by_column[names[i]][slot].name] = int(count)
    return counts


def _bound_arrays(pairs: list[tuple[Any, Any]], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-column lower and upper bounds; integer bounds on integer data stay exact integers."""
    whole = dtype.kind in "iu" and all(isinstance(v, int | None) for pair in pairs for v in pair)
    if whole:
        info = np.iinfo(np.int64)
        lows = np.array([info.min if lo is None else lo for lo, _ in pairs], dtype=np.int64)
        highs = np.array([info.max if hi is None else hi for _, hi in pairs], dtype=np.int64)
        return lows, highs
    lows = np.array([-np.inf if lo is None else lo for lo, _ in pairs], dtype=np.float64)
    highs = np.array([np.inf if hi is None else hi for _, hi in pairs], dtype=np.float64)
    return lows, highs


def _distinct_counts(frame: pd.DataFrame, dtypes: Mapping[str, Any], columns: list[str]) -> dict[str, int]:
    """Distinct non-missing values per column (pandas nunique), numeric columns in bulk by sorting."""
    numeric = [c for c in dict.fromkeys(columns) if gx_native(dtypes[c])]
    counts: dict[str, int] = {}
    for names, values in _blocks(frame, dtypes, numeric):
        ordered = np.sort(values, axis=0)  # NaN sorts last
        changes = ordered[1:] != ordered[:-1]
        if ordered.dtype.kind == "f":
            changes &= ~np.isnan(ordered[1:])
            any_present = ~np.isnan(ordered[:1])
        else:
            any_present = np.ones((1, ordered.shape[1]), dtype=bool)
        found = changes.sum(axis=0) + any_present.sum(axis=0) if len(ordered) else np.zeros(len(names))
        counts.update(zip(names, (int(v) for v in found), strict=True))
    for name in dict.fromkeys(columns):
        if name not in counts:
            counts[name] = int(frame[name].nunique())
    return counts
