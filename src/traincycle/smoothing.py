"""The exponential-smoothing (Holt-Winters) baseline of a time series, scored by evaluate.

Protocol, per series (rolling origin, no refit on test):

1. statsmodels' ``ExponentialSmoothing`` (additive trend; additive season of ``season`` steps when
   train+val hold two whole seasons; initial states estimated) is fitted once on the train and val
   targets, the history a forecaster has when the test period starts. Steps with no value there
   (missing targets, rows left out by ``gap``) are interpolated for this fit only.
2. The fitted smoothing parameters and initial states then stay fixed. The level / trend / season
   recursion runs along the whole series in time order, train, val and test: each new observation
   updates the state as it arrives; a step with no observation advances the state unchanged.
3. The forecast of a test row at step ``t`` is made from the state after step ``t - horizon``:
   what that forecaster, who saw every value up to then but never refitted, says ``horizon``
   steps ahead. No value at or after ``t - horizon + 1`` enters it.

The recursion is the one statsmodels fits (Hyndman & Athanasopoulos' additive Holt-Winters); a
unit test checks it reproduces statsmodels' one-step fitted values on the fitted span.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from traincycle.config import TimeConfig
from traincycle.errors import DataError
from traincycle.timeseries import grid, season_of

#: fewest values a series needs in train+val for a fit (level and trend)
MIN_FIT = 4


@dataclasses.dataclass(frozen=True)
class Smoother:
    """Fitted smoothing parameters and initial states (state before the first step)."""

    alpha: float
    beta: float
    gamma: float
    level: float
    trend: float
    #: initial seasonal states, one per step of the season (empty: no season)
    seasons: np.ndarray

    def describe(self) -> dict[str, float | int]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma, "season": len(self.seasons)}


def fit(y: np.ndarray, season: int) -> Smoother | None:
    """Fit on `y` (consecutive steps, NaN where a step has no value); None when too short."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    values = pd.Series(y).interpolate(limit_direction="both").to_numpy()
    if np.isnan(values).all() or len(values) < MIN_FIT:
        return None
    seasonal = "add" if season >= 2 and len(values) >= 2 * season else None
    model = ExponentialSmoothing(values, trend="add", seasonal=seasonal,
                                 seasonal_periods=season if seasonal else None,
                                 initialization_method="estimated")
    with warnings.catch_warnings():  # ConvergenceWarning: the fit is still the best found
        warnings.simplefilter("ignore")
        params = model.fit().params
    seasons = np.asarray(params["initial_seasons"], dtype=np.float64) if seasonal else np.zeros(0)
    gamma = float(params["smoothing_seasonal"]) if seasonal else 0.0
    return Smoother(float(params["smoothing_level"]), float(params["smoothing_trend"]), gamma,
                    float(params["initial_level"]), float(params["initial_trend"]), seasons)


def run(sm: Smoother, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level and trend after each step, and the seasonal state of each step (offset by the season:
    ``season_state[t + m]`` belongs to step t, the first m entries are the initial ones)."""
    n, m = len(y), len(sm.seasons)
    level, trend = np.empty(n), np.empty(n)
    season_state = np.concatenate([sm.seasons, np.zeros(n)])
    lv, tr = sm.level, sm.trend
    for t in range(n):
        s_old = season_state[t] if m else 0.0
        if np.isnan(y[t]):  # no observation: the state moves on as forecast
            new_lv, new_tr, s_new = lv + tr, tr, s_old
        else:
            new_lv = sm.alpha * (y[t] - s_old) + (1 - sm.alpha) * (lv + tr)
            new_tr = sm.beta * (new_lv - lv) + (1 - sm.beta) * tr
            s_new = sm.gamma * (y[t] - lv - tr) + (1 - sm.gamma) * s_old
        if m:
            season_state[t + m] = s_new
        lv, tr = new_lv, new_tr
        level[t], trend[t] = lv, tr
    return level, trend, season_state


def one_step(sm: Smoother, y: np.ndarray) -> np.ndarray:
    """The forecast of each step from the state before it (statsmodels' `fittedvalues`)."""
    level, trend, season_state = run(sm, y)
    before_level = np.concatenate([[sm.level], level[:-1]])
    before_trend = np.concatenate([[sm.trend], trend[:-1]])
    return before_level + before_trend + (season_state[: len(y)] if len(sm.seasons) else 0.0)


def forecast(sm: Smoother, y: np.ndarray, horizon: int) -> np.ndarray:
    """The forecast of each step t from the state after step t - horizon (NaN for t < horizon)."""
    level, trend, season_state = run(sm, y)
    n, m = len(y), len(sm.seasons)
    out = np.full(n, np.nan)
    if n <= horizon:
        return out
    origin = np.arange(n - horizon)
    out[horizon:] = level[origin] + horizon * trend[origin]
    if m:
        # the season's latest estimate for the target's phase, known at the origin
        back = m * ((horizon - 1) // m + 1)
        out[horizon:] += season_state[origin + horizon - back + m]
    return out


def forecasts(key: np.ndarray, pos: np.ndarray, y: np.ndarray, fitted: np.ndarray, season: int,
              horizon: int) -> tuple[np.ndarray, list[dict[str, float | int]]]:
    """The smoothing forecast of every row (NaN where its series could not be fitted).

    `key`/`pos` place each row on its series' grid, `y` is its target (NaN when unknown) and
    `fitted` marks the train+val rows the parameters are fitted on.
    """
    out = np.full(len(y), np.nan)
    described = []
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        start = int(pos[rows].min())
        dense = np.full(int(pos[rows].max()) - start + 1, np.nan)
        dense[pos[rows] - start] = y[rows]
        train_rows = rows[fitted[rows]]
        if not len(train_rows):
            continue
        sm = fit(dense[: int(pos[train_rows].max()) - start + 1], season)
        if sm is None:
            continue
        described.append(sm.describe())
        out[rows] = forecast(sm, dense, horizon)[pos[rows] - start]
    return out, described


def baseline(history: pd.DataFrame, raw: pd.DataFrame, time: TimeConfig,
             target: str) -> tuple[np.ndarray, dict]:
    """The exponential-smoothing forecast of each `raw` test row, fitted on `history` (the train and
    val rows) per series and run forward without refitting (protocol: traincycle.smoothing)."""
    columns = [c for c in (time.column, time.series, target) if c is not None]
    for name, frame in (("train/val", history), ("test", raw)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"evaluate: the interim {name} rows have no column {missing[0]!r}")
    both = pd.concat([history[columns], raw[columns]], ignore_index=True)
    g = grid(both, dataclasses.replace(time, holiday=None), "evaluate")  # only the steps matter here
    y = pd.to_numeric(both[target], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    fitted = np.arange(len(both)) < len(history)
    season = season_of(time, g)
    values, fits = forecasts(g.key, g.pos, y, fitted, season, time.horizon)
    seasonal = f", additive season of {season} steps" if season else ""
    about = {"model": f"Holt-Winters: additive trend{seasonal}",
             "fitted_on": "train+val", "refit": "never (rolling origin: state updated by each observation)",
             "series_fitted": len(fits)}
    if len(fits) == 1:
        about["params"] = fits[0]
    return values[len(history):], about
