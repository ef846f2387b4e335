"""Time series: the grid, the time-ordered split, leakage-free derived columns and the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, TimeConfig, build
from traincycle.errors import EXIT_GATE, ConfigError, DataError, GateFailed
from traincycle.headline import count_leaves, pick
from traincycle.timeseries import (
    BUILDERS,
    History,
    baseline_report,
    derive,
    forecast_plots,
    grid,
    parse_times,
    time_split,
)


def hourly(n: int = 24 * 40, series: int = 1, seed: int = 0) -> pd.DataFrame:
    """`series` hourly series with a daily cycle and noise; times as text."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(series):
        t = pd.date_range("2024-01-01", periods=n, freq="h")
        y = 10 * s + np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 0.1, n)
        frames.append(pd.DataFrame({"ts": t.strftime("%Y-%m-%d %H:%M"), "shop": f"s{s}", "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_grid_reads_the_step_and_infers_the_season():
    g = grid(hourly(), TimeConfig(column="ts"))
    assert g.step == "0 days 01:00:00" and g.season == 24
    assert g.calendar == ("hour", "dayofweek", "week", "month")
    weekly = pd.DataFrame({"w": pd.date_range("2000-01-01", periods=60, freq="7D"), "y": 1.0})
    gw = grid(weekly, TimeConfig(column="w"))
    assert gw.season == 52 and gw.calendar == ("week", "month")
    monthly = pd.DataFrame({"m": pd.date_range("2000-01-31", periods=30, freq="ME").strftime("%Y-%m-%d"),
                            "y": 1.0})
    gm = grid(monthly, TimeConfig(column="m"))
    assert gm.step == "1 month" and gm.season == 12
    assert np.array_equal(gm.pos - gm.pos.min(), np.arange(30))  # 28..31-day months are one step each


@pytest.mark.parametrize("value, message", [
    ("not a date", "time column 'ts' has a value that is not a date/time at row 5: 'not a date'"),
    (None, "time column 'ts' is missing at row 5"),
])
def test_bad_time_values_are_one_line_errors_naming_the_column(value, message):
    df = hourly(50)
    df.loc[5, "ts"] = value
    with pytest.raises(DataError, match=message):
        parse_times(df, "ts")


def test_duplicate_timestamps_per_series_are_an_error_but_not_across_series():
    df = hourly(50, series=2)
    grid(df, TimeConfig(column="ts", series="shop"))  # the same hours in two shops: fine
    with pytest.raises(DataError, match=r"duplicate timestamp 2024-01-01 03:00:00 in time column 'ts' "
                                        r"in series 's1'"):
        grid(pd.concat([df, df.iloc[[53]]], ignore_index=True), TimeConfig(column="ts", series="shop"))
    with pytest.raises(DataError, match="duplicate timestamp"):
        grid(df, TimeConfig(column="ts"))  # without the series column the shops collide


def test_lags_look_back_per_series_by_time_not_by_row():
    df = hourly(100, series=2).sample(frac=1.0, random_state=1).reset_index(drop=True)  # shuffled rows
    df = df.drop(index=df.index[(df["shop"] == "s0") & (df["ts"] == "2024-01-02 00:00")])  # a missing hour
    time = TimeConfig(column="ts", series="shop", horizon=3)
    g = grid(df, time)
    lag3 = History(df["y"].to_numpy(), g, time, "y").lag(3)
    t = pd.to_datetime(df["ts"])
    for i in range(0, len(df), 7):
        earlier = df[(df["shop"] == df["shop"].iloc[i]) & (t == t.iloc[i] - pd.Timedelta(hours=3))]
        expected = earlier["y"].iloc[0] if len(earlier) else np.nan
        assert np.isnan(lag3[i]) if np.isnan(expected) else lag3[i] == expected


def test_time_split_is_ordered_leaves_the_gap_out_and_adds_derived_columns():
    df = hourly(24 * 40)
    time = TimeConfig(column="ts", horizon=2, gap=5, windows=(3,))
    parts, report = time_split(df, time, "y", (0.7, 0.15))
    last = {name: pd.to_datetime(p["ts"]) for name, p in parts.items()}
    assert last["train"].max() < last["val"].min() and last["val"].max() < last["test"].min()
    # five hours left out before val and before test
    assert last["val"].min() - last["train"].max() == pd.Timedelta(hours=6)
    assert last["test"].min() - last["val"].max() == pd.Timedelta(hours=6)
    assert report["rows_in_gap"] == 10 and sum(map(len, parts.values())) == len(df) - 10
    assert {"y_lag2", "y_lag3", "y_lag24", "y_mean3", "y_std3", "ts_hour", "ts_dayofweek"} <= set(
        parts["train"].columns)
    assert report["season"] == 24 and report["leakage_gate"]["status"] == "passed"
    test = parts["test"]
    assert np.allclose(test["y_lag2"].iloc[2:].to_numpy(), test["y"].iloc[:-2].to_numpy())


def test_a_horizon_longer_than_the_test_span_names_the_param():
    with pytest.raises(ConfigError, match=r"params data.time.horizon: 200 steps is not shorter than the "
                                          r"test span \(144 steps of 0 days 01:00:00\)"):
        time_split(hourly(24 * 40), TimeConfig(column="ts", horizon=200, lags=(200,)), "y", (0.7, 0.15))


def peek_at_own_target(h: History) -> dict[str, np.ndarray]:
    """A planted leak: the row's own target."""
    return {"y_now": h.y.copy()}


def centred_mean(h: History) -> dict[str, np.ndarray]:
    """A planted leak: a rolling mean centred on the row (half of it from the future)."""
    window = np.column_stack([h.lag(k) for k in (-1, 0, 1)])
    return {"y_centred": np.nansum(window, axis=1) / np.maximum(np.isfinite(window).sum(axis=1), 1)}


def one_horizon_too_recent(h: History) -> dict[str, np.ndarray]:
    """A planted leak: a lag one step shorter than the horizon."""
    return {"y_lag_short": h.lag(h.time.horizon - 1)}


@pytest.mark.parametrize("planted", [peek_at_own_target, centred_mean, one_horizon_too_recent])
def test_the_leakage_gate_fails_the_stage_on_a_planted_leak(planted):
    with pytest.raises(GateFailed, match="leakage gate: derived column 'y_") as failed:
        time_split(hourly(24 * 20), TimeConfig(column="ts", horizon=3), "y", (0.7, 0.15),
                   (*BUILDERS, planted))
    assert failed.value.exit_code == EXIT_GATE


def test_every_built_in_column_passes_the_gate_with_several_series_and_holes():
    df = hourly(24 * 15, series=3)
    df.loc[df.sample(frac=0.1, random_state=0).index, "y"] = np.nan
    df["holiday"] = np.where(df["ts"].str.endswith("-07 00:00"), "feast", None)
    time = TimeConfig(column="ts", series="shop", horizon=5, windows=(4, 24), holiday="holiday")
    _, report = time_split(df, time, "y", (0.7, 0.15))
    assert report["leakage_gate"] == {"cuts_checked": 24, "status": "passed"}
    assert report["n_series"] == 3
    assert {"ts_holiday", "ts_to_holiday", "ts_from_holiday"} <= set(report["derived_columns"])


def test_a_named_holiday_column_gives_the_flag_and_the_steps_to_and_from_holidays():
    df = hourly(24 * 4, series=2)
    df["off"] = (df["ts"].str.startswith("2024-01-02") & df["ts"].str.endswith("12:00")).astype(int)
    df.loc[(df["shop"] == "s1"), "off"] = 0  # the second series has no holiday at all
    parts, _ = time_split(df, TimeConfig(column="ts", series="shop", holiday="off"), "y", (0.7, 0.15))
    s0 = parts["train"][parts["train"]["shop"] == "s0"].set_index("ts")
    assert s0.loc["2024-01-02 12:00", "ts_holiday"] == 1 and s0["ts_holiday"].sum() == 1
    before, after = s0.loc["2024-01-02 09:00"], s0.loc["2024-01-02 14:00"]
    assert before["ts_to_holiday"] == 3 and np.isnan(before["ts_from_holiday"])
    assert after["ts_from_holiday"] == 2 and np.isnan(after["ts_to_holiday"])
    s1 = parts["train"][parts["train"]["shop"] == "s1"]
    assert s1["ts_to_holiday"].isna().all() and s1["ts_holiday"].eq(0).all()
    with pytest.raises(DataError, match=r"^split: holiday column 'feast' \(params data\.time\.holiday\)"):
        time_split(df, TimeConfig(column="ts", holiday="feast", series="shop"), "y", (0.7, 0.15))
    with pytest.raises(ConfigError, match=r"params data\.time\.holiday: 'ts' is the time or series column"):
        TimeConfig(column="ts", holiday="ts")


def test_time_config_rejects_lags_inside_the_horizon_and_non_regression_tasks():
    with pytest.raises(ConfigError, match=r"params data\.time\.lags: lag 2 is shorter than the horizon 3"):
        TimeConfig(column="ts", horizon=3, lags=(2,))
    with pytest.raises(ConfigError, match=r"params data\.time: unknown key 'colum'"):
        build(DataConfig, {"target": "y", "task": "regression", "time": {"colum": "ts"}}, "data")
    with pytest.raises(ConfigError, match=r"forecasting needs data\.task: regression"):
        build(DataConfig, {"target": "y", "task": "binary", "time": {"column": "ts"}}, "data")
    data = build(DataConfig, {"target": "y", "task": "regression", "time": {"column": "ts"}}, "data")
    assert data.time_columns == ("ts",) and DataConfig().time_columns == ()


def test_baselines_score_on_the_same_rows_and_the_headline_gains_one_leaf():
    df = hourly(24 * 30)
    time = TimeConfig(column="ts", horizon=1)
    parts, _ = time_split(df, time, "y", (0.7, 0.15))
    test = parts["test"]
    y = test["y"].to_numpy()
    report = baseline_report(test, y, y + 0.01, time, "y", "mae")
    assert report["lags"] == {"naive": 1, "seasonal_naive": 24}
    assert report["scores"]["naive"]["mae"] == pytest.approx(np.abs(y - test["y_lag1"]).mean())
    # a daily cycle plus small noise: one day back beats one hour back
    assert report["best_baseline"] == "seasonal_naive"
    best = report["scores"]["seasonal_naive"]["mae"]
    assert report["vs_best_baseline"] == pytest.approx((best - 0.01) / best)
    head = pick("evaluate", {"headline": {"metric": "mae", "value": 0.01}, "problem": {"met": None},
                             "baselines": report})
    assert head["vs_best_baseline"] == report["vs_best_baseline"] and count_leaves(head) == 2


def test_derived_columns_depend_only_on_the_past_by_construction():
    df = hourly(24 * 5)
    time = TimeConfig(column="ts", horizon=2)
    g = grid(df, time)
    y = df["y"].to_numpy()
    full = derive(y, g, time, "y")
    cut = y.copy()
    cut[60:] = np.nan  # hide everything from hour 60 on: rows up to hour 61 keep every column
    early = derive(cut, g, time, "y")
    for name, values in full.items():
        assert np.array_equal(values[:62], early[name][:62], equal_nan=True), name


def test_forecast_plots_follow_time_and_group_residuals_by_hour_and_day():
    parts, _ = time_split(hourly(24 * 30), TimeConfig(column="ts", horizon=1), "y", (0.7, 0.15))
    test = parts["test"]
    y = test["y"].to_numpy()
    plots = forecast_plots(test, y, y - 0.5, TimeConfig(column="ts", horizon=1), "y")
    over_time = plots["forecast.json"]
    assert [r["step"] for r in over_time] == list(range(len(test)))
    assert over_time[1]["naive"] == pytest.approx(y[0]) and over_time[0]["time"] == "2024-01-26T12:00:00"
    assert {r["hour"] for r in plots["residuals_by_hour.json"]} == set(range(24))
    assert all(r["mean_residual"] == pytest.approx(0.5) for r in plots["residuals_by_dayofweek.json"])


def test_smoothing_recursion_is_the_one_statsmodels_fits():
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from traincycle.smoothing import fit, forecast, one_step

    rng = np.random.default_rng(1)
    t = np.arange(150)
    y = np.cumsum(rng.normal(0.2, 1, 150)) + 3 * np.sin(2 * np.pi * t / 7)
    sm = fit(y, 7)
    fitted = ExponentialSmoothing(y, trend="add", seasonal="add", seasonal_periods=7,
                                  initialization_method="estimated").fit()
    np.testing.assert_allclose(one_step(sm, y), fitted.fittedvalues, rtol=0, atol=1e-9)
    for h in (1, 3, 8):  # statsmodels' own forecast from the end of the fitted span
        ahead = forecast(sm, np.concatenate([y, np.zeros(h)]), h)[-1]
        assert ahead == pytest.approx(fitted.forecast(h)[-1], abs=1e-9)


def test_smoothing_baseline_fits_on_history_and_reads_no_value_inside_the_horizon():
    from traincycle.smoothing import baseline as smoothing_baseline

    time = TimeConfig(column="ts", series="shop", horizon=3)
    parts, _ = time_split(hourly(24 * 7, series=2), time, "y", (0.7, 0.15))
    history = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    test = parts["test"]
    base, about = smoothing_baseline(history, test, time, "y")
    assert about["series_fitted"] == 2 and about["fitted_on"] == "train+val" and np.isfinite(base).all()
    # hide every test value from one horizon before row i on: row i's forecast does not move
    i = len(test) // 2
    at, shop = test["ts"].iloc[i], test["shop"].iloc[i]
    hidden = test.copy()
    late = pd.to_datetime(hidden["ts"]) > pd.Timestamp(at) - pd.Timedelta(hours=3)
    hidden.loc[late, "y"] = 1e6
    again, _ = smoothing_baseline(history, hidden, time, "y")
    row = (test["ts"] == at) & (test["shop"] == shop)
    assert again[row.to_numpy()] == pytest.approx(base[row.to_numpy()])
    assert not np.allclose(again, base)  # later rows do see the values before them


def test_beat_baseline_by_decides_problem_met_and_bad_values_are_one_line_errors():
    from traincycle.evaluate import ProblemConfig, check_problem, judge_baselines

    with pytest.raises(ConfigError, match=r"^params problem\.beat_baseline_by: expected a share from 0"):
        build(ProblemConfig, {"metric": "mae", "beat_baseline_by": 5}, "problem")
    with pytest.raises(ConfigError, match=r"problem\.beat_baseline_by: expected a number, got '5%'"):
        build(ProblemConfig, {"metric": "mae", "beat_baseline_by": "5%"}, "problem")
    problem = build(ProblemConfig, {"metric": "mae", "beat_baseline_by": 0.05}, "problem")
    with pytest.raises(ConfigError, match=r"exist only for a time series; set data\.time"):
        check_problem(problem, "regression")
    check_problem(problem, "regression", forecasting=True)

    def report(gain: float, high: float) -> dict:
        baselines = {"metric": "mae", "best_baseline": "naive", "vs_best_baseline": gain,
                     "scores": {"naive": {"mae": 1.0}}}
        return {"headline": {"metric": "mae", "value": 1 - gain, "high": high}, "baselines": baselines,
                "problem": {"met": None, "met_at_ci_bound": None}}

    beaten, close = report(0.10, 0.97), report(0.01, 0.9)
    judge_baselines(beaten, problem)
    judge_baselines(close, problem)
    assert beaten["problem"] == {"met": True, "met_at_ci_bound": False, "beat_baseline_by": 0.05}
    assert close["problem"]["met"] is False
    assert pick("evaluate", beaten)["problem_met"] is True


def test_expanding_folds_fit_only_on_steps_before_each_block_minus_the_horizon():
    from traincycle.time_cv import cross_validate, folds_of

    pos = np.repeat(np.arange(40), 2)  # two series on one grid
    folds = folds_of(pos, 3, gap_steps=2)
    assert len(folds) == 3
    blocks = [np.unique(pos[scored]) for _, scored in folds]
    assert [b.tolist() for b in blocks] == [list(range(10, 20)), list(range(20, 30)), list(range(30, 40))]
    for (fit, _), block in zip(folds, blocks, strict=True):
        assert pos[fit].max() == block.min() - 3  # the horizon's steps before the block are left out
        assert pos[fit].min() == 0  # expanding: always from the start
    with pytest.raises(DataError, match=r"train: 3 time steps in train\+val cannot make 5 expanding folds"):
        folds_of(np.arange(3), 5, 0)
    seen = []
    cv = cross_validate(lambda fit, scored: seen.append(len(fit)) or {"mae": float(len(scored))}, pos, 3, 2,
                        "mae")
    assert seen == sorted(seen) and cv["mean"] == pytest.approx(20.0) and cv["folds"] == 3


def test_train_scores_expanding_folds_of_train_val_for_tune():
    from traincycle.headline import pick
    from traincycle.train import TrainConfig, train

    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 2)).astype(np.float32)
    df = pd.DataFrame(X, columns=["a", "b"]).assign(y=X @ np.array([2.0, -1.0]) + rng.normal(0, 0.1, n))
    meta = {"feature_names": ["a", "b"], "target": "y", "task": "regression", "classes": []}
    data = build(DataConfig, {"source": "x.csv", "target": "y", "task": "regression",
                              "time": {"column": "ts", "horizon": 3}}, "data")
    cfg = build(TrainConfig, {"model": "linear", "time_cv_folds": 4}, "train")
    _, _, report = train(df.iloc[:200], df.iloc[200:], meta, data, cfg, 0, positions=np.arange(n))
    cv = report["cv"]
    assert cv["folds"] == 4 and cv["gap_steps"] == 2 and len(cv["per_fold"]) == 4
    assert cv["per_fold"][0]["fit_rows"] == 60 - 2 and cv["mean"] < 0.2  # a linear truth: small error
    assert pick("train", report)["cv"] == {"rmse": cv["mean"]}
    with pytest.raises(ConfigError, match=r"params train\.time_cv_folds: expanding-window folds need a time"):
        plain = build(DataConfig, {"target": "y", "task": "regression"}, "data")
        train(df.iloc[:200], df.iloc[200:], meta, plain, cfg, 0)
