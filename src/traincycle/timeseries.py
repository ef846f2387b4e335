"""Time series: the time grid, a time-ordered split, leakage-free lag and calendar columns, baselines.

With ``data.time`` set, split parses and orders the time column, puts every row on the series'
time grid (integer steps: fixed seconds to weeks, or calendar months, quarters, years), cuts
train/val/test at time boundaries (with ``gap`` steps left out before val and test) and adds the
derived columns to every split:

* ``<target>_lag<k>``: the target ``k`` steps earlier in the same series (``k >= horizon``);
* ``<target>_mean<w>`` / ``<target>_std<w>``: over the ``w`` steps ending one horizon back;
* ``<time>_hour`` / ``_dayofweek`` / ``_week`` / ``_month``: as fine as the step resolves.

They are columns of the interim splits, not of the fitted featurizer, because they are not
fitted (each is a function of earlier rows of its own series, known at forecast time) and
because the interim rows are what optimize feeds the ONNX graph and what predict/serve take:
featurize then fits imputation (a series' first rows have no lag), clipping and encoding on
train only, as for any table. The leakage gate recomputes every derived column with the target
masked from one horizon before a row onwards and fails the stage (exit 3) when any value of that
row changes: a column that reads the row's own target or a later one cannot pass.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from traincycle.config import TimeConfig
from traincycle.errors import ConfigError, DataError, GateFailed
from traincycle.metrics import LOWER_IS_BETTER

SPLITS = ("train", "val", "test")
DAY = pd.Timedelta(days=1)
#: cut points the leakage gate re-derives every column at (spread evenly over the time grid)
GATE_CUTS = 24


@dataclasses.dataclass(frozen=True)
class Grid:
    """Each row's place on its series' time grid: integer step positions and the step's name."""

    times: pd.DatetimeIndex
    #: series code per row (0 when the table is one series)
    key: np.ndarray
    #: step position per row (consecutive steps differ by 1)
    pos: np.ndarray
    #: "7 days", "1 month", ...
    step: str
    #: the calendar fields the step resolves
    calendar: tuple[str, ...]
    #: season in steps inferred from the step (0: none)
    season: int
    #: 1 where data.time.holiday marks a holiday, else 0 (None: no holiday column named)
    holiday: np.ndarray | None = None


def coerce_times(values: pd.Series) -> pd.DatetimeIndex:
    """Times as naive datetimes (UTC for zoned ones), NaT where missing or not a date/time; text
    and YYYYMMDD numbers parse."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        with warnings.catch_warnings():  # "could not infer format": callers say which value failed
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(values.astype("string"), errors="coerce")
    index = pd.DatetimeIndex(parsed)
    index = index.tz_convert(None) if index.tz is not None else index
    return index.as_unit("ns")  # pandas 3 parses text to microseconds; the grid works in ns


def parse_times(df: pd.DataFrame, column: str, where: str = "split") -> pd.DatetimeIndex:
    """The time column as naive datetimes; a missing or unparseable value is a one-line error."""
    if column not in df.columns:
        raise DataError(f"{where}: time column {column!r} (params data.time.column) is not in the data")
    values = df[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(f"{where}: time column {column!r} is missing at row {int(missing.argmax())}; "
                        "every row needs a time")
    index = coerce_times(values)
    bad = index.isna()
    if bad.any():
        at = int(bad.argmax())
        raise DataError(f"{where}: time column {column!r} has a value that is not a date/time at "
                        f"row {at}: {str(values.iloc[at])!r} (expected e.g. 2024-01-31 13:00)")
    return index


def series_codes(df: pd.DataFrame, column: str | None, where: str = "split") -> np.ndarray:
    """Series code per row (codes follow the sorted ids, so they do not depend on row order)."""
    if column is None:
        return np.zeros(len(df), dtype=np.int64)
    if column not in df.columns:
        raise DataError(f"{where}: series column {column!r} (params data.time.series) is not in the data")
    ids = df[column].astype("string")
    if ids.isna().any():
        at = int(ids.isna().to_numpy().argmax())
        raise DataError(f"{where}: series column {column!r} is missing at row {at}")
    return pd.factorize(ids, sort=True)[0].astype(np.int64)


def _step_kind(diff: pd.Timedelta) -> tuple[str, int, tuple[str, ...], int]:
    """(name, months per step or 0 for a fixed step, calendar fields, inferred season)."""
    for lo, hi, months, name, season in ((28, 31, 1, "1 month", 12), (89, 92, 3, "3 months", 4),
                                         (365, 366, 12, "1 year", 0)):
        if lo * DAY <= diff <= hi * DAY:
            return name, months, ("month",) if months < 12 else (), season
    fields = tuple(f for f, finer in (("hour", DAY), ("dayofweek", 7 * DAY), ("week", 28 * DAY),
                                      ("month", 365 * DAY)) if diff < finer)
    if diff < DAY and DAY % diff == pd.Timedelta(0):
        season = int(DAY / diff)          # hourly: 24 steps a day
    else:
        season = {DAY: 7, 7 * DAY: 52}.get(diff, 0)
    return str(diff), 0, fields, season


def consecutive(times: pd.DatetimeIndex, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row order by series then time, time differences between consecutive rows of one series)."""
    order = np.lexsort((times.asi8, key))
    same_series = key[order][1:] == key[order][:-1]
    return order, np.diff(times.asi8[order])[same_series]


def common_step(gaps: np.ndarray) -> pd.Timedelta:
    """The most common positive difference between consecutive times of a series."""
    steps, counts = np.unique(gaps[gaps > 0], return_counts=True)
    return pd.Timedelta(int(steps[counts.argmax()]), unit="ns")


def positions(times: pd.DatetimeIndex, diff: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """(step position of each time, True where a time is off the grid of `diff` steps)."""
    months = _step_kind(diff)[1]
    if months:
        pos = (times.year.to_numpy() * 12 + times.month.to_numpy() - 1) // months
        return np.asarray(pos, dtype=np.int64), np.zeros(len(times), dtype=bool)
    pos, rest = np.divmod(times.asi8 - times.asi8.min(), diff.value)
    return np.asarray(pos, dtype=np.int64), rest != 0


def step_name(diff: pd.Timedelta) -> str:
    """"7 days", "1 month"...: how the grid names a step."""
    return _step_kind(diff)[0]


def grid(df: pd.DataFrame, time: TimeConfig, where: str = "split") -> Grid:
    """Parse the time column and place every row on its series' grid; one row per time per series."""
    times = parse_times(df, time.column, where)
    key = series_codes(df, time.series, where)
    order, gaps = consecutive(times, key)
    if (gaps == 0).any():
        same_series = key[order][1:] == key[order][:-1]
        at = order[1:][same_series][gaps == 0][0]
        within = f" in series {df[time.series].iloc[at]!r}" if time.series else ""
        raise DataError(f"{where}: duplicate timestamp {times[at]} in time column {time.column!r}{within} "
                        "(expected one row per time per series)")
    if not len(gaps):
        raise DataError(f"{where}: time column {time.column!r}: every series has a single row; "
                        "no time step to forecast over")
    diff = common_step(gaps)
    name, _, fields, season = _step_kind(diff)
    pos, off = positions(times, diff)
    if off.any():
        at = int(np.flatnonzero(off)[0])
        raise DataError(f"{where}: time column {time.column!r} is off its {name} grid at row {at} "
                        f"({times[at]}); resample the data to a regular step")
    dup = pd.DataFrame({"k": key, "p": pos}).duplicated().to_numpy()
    if dup.any():
        raise DataError(f"{where}: two rows of one series fall in the same {name} step of time column "
                        f"{time.column!r} (row {int(dup.argmax())}, {times[int(dup.argmax())]})")
    holiday = holidays(df, time.holiday, where) if time.holiday else None
    return Grid(times, key, pos, name, fields if time.calendar else (), season, holiday)


#: values of a holiday column that say "not a holiday"
NOT_HOLIDAY = ("", "0", "0.0", "false", "no", "none", "n", "f")


def holidays(df: pd.DataFrame, column: str, where: str = "split") -> np.ndarray:
    """1 where `column` marks a holiday (true, a non-zero number or a name), else 0."""
    if column not in df.columns:
        raise DataError(f"{where}: holiday column {column!r} (params data.time.holiday) is not in the data")
    values = df[column]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        flags = values.fillna(0).astype(np.float64).to_numpy() != 0
    else:
        text = values.astype("string").str.strip().str.lower().fillna("")
        flags = ~text.isin(NOT_HOLIDAY).to_numpy(dtype=bool)
    return flags.astype(np.int64)


def season_of(time: TimeConfig, g: Grid) -> int:
    """The season in steps: data.time.season, else the one the step implies (0: none)."""
    return time.season or g.season


def baseline_lags(time: TimeConfig, g: Grid) -> dict[str, int]:
    """naive: one horizon back; seasonal_naive: the same time the fewest whole seasons back."""
    lags = {"naive": time.horizon}
    season = season_of(time, g)
    if season:
        lags["seasonal_naive"] = season * math.ceil(time.horizon / season)
    return lags


def lag_name(target: str, k: int) -> str:
    return f"{target}_lag{k}"


@dataclasses.dataclass(frozen=True)
class History:
    """What a feature builder sees: the target on the grid, and how to look back along it."""

    y: np.ndarray
    grid: Grid
    time: TimeConfig
    target: str

    def lag(self, k: int) -> np.ndarray:
        """The target `k` steps earlier in each row's series (NaN where that step has no row)."""
        g = self.grid
        span = int(g.pos.max() - g.pos.min()) + 1
        code = g.key * span + (g.pos - g.pos.min())
        wanted = g.key * span + (g.pos - k - g.pos.min())
        at = pd.Index(code).get_indexer(np.where(g.pos - k >= g.pos.min(), wanted, -1))
        return np.where(at >= 0, self.y[np.maximum(at, 0)], np.nan)


Builder = Callable[[History], dict[str, np.ndarray]]


def lag_columns(h: History) -> dict[str, np.ndarray]:
    """The lags asked for, plus the naive and seasonal-naive ones evaluate scores."""
    asked = h.time.lags or (h.time.horizon, h.time.horizon + 1)
    wanted = sorted({*asked, *baseline_lags(h.time, h.grid).values()})
    return {lag_name(h.target, k): h.lag(k) for k in wanted}


def window_columns(h: History) -> dict[str, np.ndarray]:
    """Mean and standard deviation of the `w` steps ending one horizon back (missing steps skipped)."""
    out = {}
    for w in h.time.windows:
        past = np.column_stack([h.lag(k) for k in range(h.time.horizon, h.time.horizon + w)])
        with warnings.catch_warnings():  # a window with no value at all is NaN, imputed by featurize
            warnings.simplefilter("ignore", RuntimeWarning)
            out[f"{h.target}_mean{w}"] = np.nanmean(past, axis=1)
            out[f"{h.target}_std{w}"] = np.nanstd(past, axis=1)
    return out


def calendar_columns(h: History) -> dict[str, np.ndarray]:
    """Hour, day of week, ISO week and month of the row's own time (known in advance)."""
    t = h.grid.times
    values = {"hour": t.hour, "dayofweek": t.dayofweek, "week": t.isocalendar().week.to_numpy(),
              "month": t.month}
    return {f"{h.time.column}_{f}": np.asarray(values[f], dtype=np.int64) for f in h.grid.calendar}


def holiday_columns(h: History) -> dict[str, np.ndarray]:
    """The holiday flag, and the steps to the next and since the last holiday of the row's series
    (NaN where there is none): a holiday calendar is known in advance, so both directions are fair."""
    g = h.grid
    if g.holiday is None:
        return {}
    to_next, since = np.full(len(g.pos), np.nan), np.full(len(g.pos), np.nan)
    for k in np.unique(g.key):
        rows = np.flatnonzero(g.key == k)
        marked = np.sort(g.pos[rows][g.holiday[rows] == 1])
        if not len(marked):
            continue
        after = np.searchsorted(marked, g.pos[rows], side="left")
        has_next = after < len(marked)
        to_next[rows[has_next]] = marked[after[has_next]] - g.pos[rows][has_next]
        before = np.searchsorted(marked, g.pos[rows], side="right") - 1
        has_last = before >= 0
        since[rows[has_last]] = g.pos[rows][has_last] - marked[before[has_last]]
    name = h.time.column
    return {f"{name}_holiday": g.holiday.copy(), f"{name}_to_holiday": to_next, f"{name}_from_holiday": since}


BUILDERS: tuple[Builder, ...] = (lag_columns, window_columns, calendar_columns, holiday_columns)


def target_values(df: pd.DataFrame, target: str) -> np.ndarray:
    """The target as float64 (missing stays NaN)."""
    try:
        return pd.to_numeric(df[target], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"split: target {target!r} is not numeric; data.time forecasts a number") from None


def derive(y: np.ndarray, g: Grid, time: TimeConfig, target: str,
           builders: tuple[Builder, ...] = BUILDERS) -> dict[str, np.ndarray]:
    """Every derived column, by name."""
    history = History(y, g, time, target)
    out: dict[str, np.ndarray] = {}
    for build in builders:
        out.update(build(history))
    return out


def check_leakage(y: np.ndarray, g: Grid, time: TimeConfig, target: str, columns: dict[str, np.ndarray],
                  builders: tuple[Builder, ...] = BUILDERS) -> int:
    """Raise GateFailed when a derived column of a row reads a target less than a horizon before it.

    At each of up to GATE_CUTS evenly spaced grid positions c, the target is masked at every
    position > c - horizon and the columns are derived again: the rows at c must not change.
    Returns the number of cut points checked.
    """
    positions = np.unique(g.pos)
    picked = np.linspace(0, len(positions) - 1, min(GATE_CUTS, len(positions))).astype(int)
    cuts = positions[np.unique(picked)]
    for c in cuts:
        masked = np.where(g.pos > c - time.horizon, np.nan, y)
        again = derive(masked, g, time, target, builders)
        rows = g.pos == c
        for name, values in columns.items():
            if not np.array_equal(values[rows], again[name][rows], equal_nan=True):
                raise GateFailed(
                    f"split: leakage gate: derived column {name!r} uses the target at or after "
                    f"{time.horizon} step(s) before its row (rows at {g.times[rows][0]} change when "
                    "later targets are hidden)"
                )
    return len(cuts)


def time_split(df: pd.DataFrame, time: TimeConfig, target: str, fractions: tuple[float, float],
               builders: tuple[Builder, ...] = BUILDERS) -> tuple[dict[str, pd.DataFrame], dict]:
    """Order by time, add the derived columns, cut train/val/test at time boundaries (with the gap)."""
    g = grid(df, time)
    y = target_values(df, target)
    columns = derive(y, g, time, target, builders)
    clash = sorted(set(columns) & set(df.columns))
    if clash:
        raise DataError(f"split: the data already has a column {clash[0]!r}, which data.time derives; "
                        "rename it")
    cuts_checked = check_leakage(y, g, time, target, columns, builders)
    order = np.lexsort((g.key, g.pos))
    frame = pd.concat([df, pd.DataFrame(columns, index=df.index)], axis=1).iloc[order]
    pos = g.pos[order]
    positions = np.unique(pos)
    rank = np.searchsorted(positions, pos)
    which = np.searchsorted(np.cumsum(fractions), (rank + 0.5) / len(positions), side="right")
    starts = [positions[rank[which == i].min()] if (which == i).any() else None for i in (1, 2)]
    dropped = np.zeros(len(pos), dtype=bool)
    for i, start in zip((1, 2), starts, strict=True):
        if start is not None:
            dropped |= (which == i) & (pos < start + time.gap)
    parts = {name: frame[(which == i) & ~dropped].reset_index(drop=True) for i, name in enumerate(SPLITS)}
    test_pos = pos[(which == 2) & ~dropped]
    span = int(test_pos.max() - test_pos.min()) + 1 if len(test_pos) else 0
    if time.horizon >= span:
        raise ConfigError(f"params data.time.horizon: {time.horizon} steps is not shorter than the test "
                          f"span ({span} steps of {g.step}); lower it or give test a larger share")
    bounds = {name: [str(g.times[order][(which == i) & ~dropped].min()),
                     str(g.times[order][(which == i) & ~dropped].max())]
              for i, name in enumerate(SPLITS) if ((which == i) & ~dropped).any()}
    by_series = np.lexsort((g.pos, g.key))
    same = np.diff(g.key[by_series]) == 0
    missing_steps = int((np.diff(g.pos[by_series])[same] - 1).sum())
    report = {
        "column": time.column, "series": time.series, "n_series": int(g.key.max()) + 1,
        "step": g.step, "horizon": time.horizon, "season": season_of(time, g), "gap": time.gap,
        "rows_in_gap": int(dropped.sum()), "missing_steps": missing_steps,
        "was_sorted": bool((np.diff(order) > 0).all()), "span": bounds,
        "derived_columns": sorted(columns),
        "leakage_gate": {"cuts_checked": cuts_checked, "status": "passed"},
    }
    return parts, report


def relative_gain(metric: str, model: float, best: float) -> float:
    """How much better the model is than the best baseline: error removed, or score gained, as a share."""
    if metric in LOWER_IS_BETTER:
        return float((best - model) / best) if best else float("nan")
    return float((model - best) / abs(best)) if best else float("nan")


def baseline_report(raw: pd.DataFrame, y: np.ndarray, pred: np.ndarray, time: TimeConfig, target: str,
                    metric: str, smoothing: tuple[np.ndarray, dict] | None = None) -> dict:
    """The naive, seasonal-naive and (when given) exponential-smoothing forecasts and the model,
    scored on the same test rows.

    `raw` holds the interim test rows aligned with `y`/`pred`; the naive baselines are their lag
    columns. Rows where a baseline has no value (the first steps of a series) are left out for all.
    """
    from traincycle.metrics import point_metrics

    g = grid(raw, time, "evaluate")
    forecasts = {}
    for name, k in baseline_lags(time, g).items():
        column = lag_name(target, k)
        if column not in raw.columns:
            raise DataError(f"evaluate: raw test split has no column {column!r} "
                            "(split writes it when data.time is set)")
        forecasts[name] = raw[column].to_numpy(dtype=np.float64)
    if smoothing is not None:  # (forecast per row, how it was made): traincycle.smoothing.baseline
        forecasts["exp_smoothing"] = smoothing[0]
    rows = np.logical_and.reduce([np.isfinite(f) for f in forecasts.values()])
    if not rows.any():
        raise DataError("evaluate: no test row has a value for every baseline (is the test span shorter "
                        "than the season?)")
    scores = {"model": point_metrics(y[rows], None, pred[rows], "regression")}
    for name, forecast in forecasts.items():
        scores[name] = point_metrics(y[rows], None, forecast[rows], "regression")
    lower = metric in LOWER_IS_BETTER
    names = list(forecasts)
    best = sorted(names, key=lambda n: scores[n][metric] if lower else -scores[n][metric])[0]
    report = {
        "metric": metric, "rows": int(rows.sum()), "horizon": time.horizon, "lags": baseline_lags(time, g),
        "scores": scores, "best_baseline": best,
        "vs_best_baseline": relative_gain(metric, scores["model"][metric], scores[best][metric]),
    }
    if smoothing is not None:
        report["exp_smoothing"] = smoothing[1]
    return report


#: most recent test rows drawn in plots/evaluate/forecast.json
FORECAST_POINTS = 2000


def forecast_plots(raw: pd.DataFrame, y: np.ndarray, pred: np.ndarray, time: TimeConfig, target: str,
                   others: dict[str, np.ndarray] | None = None) -> dict[str, list[dict]]:
    """plots/evaluate files of a forecast: actual, model, naive (and `others`, e.g. the smoothing
    baseline) over the test span; mean residual by hour and by day of week where the time step
    resolves them (dvc.yaml declares all three; a file with nothing to show holds no records)."""
    g = grid(raw, time, "evaluate")
    naive = raw[lag_name(target, time.horizon)].to_numpy(dtype=np.float64)
    order = np.lexsort((g.key, g.pos))[-FORECAST_POINTS:]
    series = raw[time.series].astype("string").to_numpy() if time.series else None
    start = int(g.pos.min())
    over_time = []
    for i in order:
        record = {"step": int(g.pos[i]) - start, "time": g.times[i].isoformat(), "actual": float(y[i]),
                  "predicted": float(pred[i]), "naive": None if np.isnan(naive[i]) else float(naive[i])}
        for name, values in (others or {}).items():
            record[name] = None if np.isnan(values[i]) else float(values[i])
        if series is not None:
            record["series"] = str(series[i])
        over_time.append(record)
    out: dict[str, list[dict]] = {"forecast.json": over_time}
    residual = pd.Series(y - pred)
    for field in ("hour", "dayofweek"):
        out[f"residuals_by_{field}.json"] = []
        if field in g.calendar:
            groups = residual.groupby(np.asarray(getattr(g.times, field)))
            out[f"residuals_by_{field}.json"] = [
                {field: int(k), "mean_residual": float(v), "rows": int(n)}
                for (k, v), n in zip(groups.mean().items(), groups.size(), strict=True)
            ]
    return out
