"""A time series through `dvc repro` in a temporary git+DVC repo, from examples/params-timeseries.yaml.

Mauna Loa weekly CO2 (builtin:co2, 2,284 weeks), forecast four weeks ahead by ridge regression on
the lag, rolling and calendar columns split derives; evaluate scores the naive and seasonal-naive
forecasts on the same test rows. Bad time input is rejected by the split stage in one line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_pipeline import copy_project, reproduced, sh, shrink

from conftest import ROOT

SMALL = {"evaluate.bootstrap": 50, "evaluate.explain_rows": 200}


def read(repo: Path, path: str) -> dict:
    return json.loads((repo / path).read_text())


@pytest.fixture(scope="module")
def ts_repo(tmp_path_factory) -> Path:
    params = shrink(yaml.safe_load((ROOT / "examples/params-timeseries.yaml").read_text()), SMALL)
    repo = copy_project(tmp_path_factory.mktemp("timeseries") / "repo", params, commit=False)
    shutil.copy2(ROOT / "examples/schema-timeseries.yaml", repo / "schema.yaml")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "-c", "user.email=e2e@test", "-c", "user.name=e2e", "commit", "-qm", "init"]):
        assert sh(*cmd, cwd=repo).returncode == 0
    return reproduced(repo)


def test_forecast_runs_end_to_end_with_baselines_beside_the_model(ts_repo):
    split = read(ts_repo, "reports/split.json")
    assert split["time"]["step"] == "7 days 00:00:00" and split["time"]["season"] == 52
    assert split["time"]["leakage_gate"]["status"] == "passed"
    span = split["time"]["span"]
    assert span["train"][1] < span["val"][0] < span["test"][0]
    meta = read(ts_repo, "models/featurizer.json")
    inputs = {c["name"] for c in meta["input_columns"]}
    assert "week" not in inputs and {"co2_lag4", "co2_lag52", "co2_mean13", "week_month"} <= inputs
    evaluate = read(ts_repo, "reports/evaluate.json")
    baselines = evaluate["baselines"]
    assert baselines["lags"] == {"naive": 4, "seasonal_naive": 52}
    assert baselines["rows"] == evaluate["rows"] == split["rows"]["test"]
    assert baselines["scores"]["model"]["mae"] == pytest.approx(evaluate["metrics"]["mae"])
    scores = baselines["scores"]
    assert set(scores) == {"model", "naive", "seasonal_naive", "exp_smoothing"}
    assert baselines["exp_smoothing"]["fitted_on"] == "train+val"
    assert baselines["exp_smoothing"]["params"]["season"] == 52
    # trend and season both tracked: smoothing beats one horizon back and one season back
    assert scores["exp_smoothing"]["mae"] < min(scores["naive"]["mae"], scores["seasonal_naive"]["mae"])
    head = read(ts_repo, "metrics/evaluate.json")
    assert head["vs_best_baseline"] == baselines["vs_best_baseline"]
    problem = evaluate["problem"]
    assert problem["beat_baseline_by"] == 0.05
    assert head["problem_met"] == (baselines["vs_best_baseline"] >= 0.05 and scores["model"]["mae"] <= 1.2)
    assert read(ts_repo, "reports/optimize.json")["variants"]["onnx_float"]["accepted"]
    over_time = json.loads((ts_repo / "plots/evaluate/forecast.json").read_text())
    assert len(over_time) == evaluate["rows"] and over_time[0]["time"].startswith("1995-06-10")
    assert over_time[0]["exp_smoothing"] > 300 and over_time[0]["naive"] > 300  # ppmv
    # weekly: no hours to group by; the declared file is there, with no records
    assert json.loads((ts_repo / "plots/evaluate/residuals_by_hour.json").read_text()) == []


def test_dvc_plots_show_draws_the_forecast_over_a_date_axis(ts_repo, tmp_path):
    result = sh("dvc", "plots", "show", "--json", cwd=ts_repo)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["data"]
    spec = shown["Forecast over time (test, data.time)"][0]["content"]
    assert spec["encoding"]["x"]["type"] == "temporal" and spec["encoding"]["x"]["field"] == "time"
    drawn = {row["field"] for row in spec["data"]["values"]}
    assert drawn == {"actual", "predicted", "naive", "exp_smoothing"}


def test_the_exported_model_scores_raw_interim_rows_as_evaluate_did(ts_repo, tmp_path):
    test = pd.read_parquet(ts_repo / "data/interim/test.parquet")
    scored_rows = test[test["co2"].notna()].iloc[100:140]  # rows without a target are not scored
    rows = scored_rows.drop(columns=["co2"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = subprocess.run([str(Path(sys.executable).parent / "traincycle"), "predict", "models/optimized",
                             str(tmp_path / "rows.csv"), "-o", str(tmp_path / "scored.csv")],
                            cwd=ts_repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    scored = pd.read_csv(tmp_path / "scored.csv")
    ours = pd.read_parquet(ts_repo / "reports/predictions.parquet").set_index("row_id")
    assert scored["prediction"].to_numpy() == pytest.approx(
        ours.loc[scored_rows.index, "pred"].to_numpy(), abs=1e-3)


def test_second_repro_is_a_noop(ts_repo):
    before = (ts_repo / "dvc.lock").read_text()
    result = sh("dvc", "repro", cwd=ts_repo)
    assert result.returncode == 0, result.stderr
    assert "Running stage" not in result.stdout
    assert (ts_repo / "dvc.lock").read_text() == before


def split_with(repo: Path, raw: pd.DataFrame, out: Path, **time: object) -> subprocess.CompletedProcess:
    """The split stage script on `raw`, with data.time overridden, writing under `out`."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["time"].update(time)
    (out / "params.yaml").write_text(yaml.safe_dump(params))
    raw.to_parquet(out / "raw.parquet")
    return subprocess.run(
        [sys.executable, str(repo / "stages/split.py"), "--params", str(out / "params.yaml"),
         "--data", str(out / "raw.parquet"), "--out-dir", str(out / "interim"),
         "--metrics", str(out / "split.json"), "--details", str(out / "split_report.json")],
        cwd=repo, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(repo / "src")})


@pytest.mark.parametrize("case, edit, time, message", [
    ("unparseable", lambda df: df.assign(week=df["week"].astype("string").where(df.index != 7, "week 8")), {},
     "split: time column 'week' has a value that is not a date/time at row 7: 'week 8'"),
    ("duplicate", lambda df: pd.concat([df, df.iloc[[10]]], ignore_index=True), {},
     "split: duplicate timestamp 1958-06-07 00:00:00 in time column 'week'"),
    ("horizon", lambda df: df, {"horizon": 400, "lags": [400]},
     "params data.time.horizon: 400 steps is not shorter than the test span"),
])
def test_bad_time_input_is_one_line_exit_2_and_writes_nothing(ts_repo, tmp_path, case, edit, time, message):
    raw = edit(pd.read_parquet(ts_repo / "data/raw/dataset.parquet"))
    result = split_with(ts_repo, raw, tmp_path, **time)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "interim").exists() and not (tmp_path / "split.json").exists()
