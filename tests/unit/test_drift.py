"""Drift figures (PSI, KS, chi-square, Wasserstein) and `traincycle monitor` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from traincycle.drift import MonitorConfig, categorical_drift, judge, numeric_drift, psi

from conftest import make_frame, write_optimized_model


def test_psi_is_zero_for_equal_counts_and_grows_with_shift() -> None:
    counts = np.array([10.0, 20.0, 30.0, 40.0])
    assert psi(counts, counts * 3) == pytest.approx(0.0, abs=1e-12)
    assert psi(counts, counts[::-1]) > psi(counts, counts + np.array([5.0, 0, 0, -5])) > 0


def test_numeric_drift_separates_noise_from_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(40, 10, 5000)
    same = numeric_drift(ref, rng.normal(40, 10, 3000))
    moved = numeric_drift(ref, rng.normal(48, 10, 3000))
    cfg = MonitorConfig()
    assert same["psi"] < 0.05 and judge(same, cfg) == "ok"
    assert moved["psi"] > 0.2 and moved["ks"] > 0.2 and moved["ks_p"] < 1e-6
    assert moved["wasserstein_std"] == pytest.approx(0.8, abs=0.1) and judge(moved, cfg) == "critical"
    with_missing = numeric_drift(ref, np.where(rng.random(3000) < 0.5, np.nan, rng.normal(40, 10, 3000)))
    assert with_missing["histogram"][-1]["bin"] == "(missing)"
    assert with_missing["histogram"][-1]["current"] == pytest.approx(0.5, abs=0.05)
    assert judge(with_missing, cfg) == "critical"  # half the values gone is drift


def test_categorical_drift_names_new_categories() -> None:
    ref = np.array(["a"] * 500 + ["b"] * 500 + [None] * 50, dtype=object)
    cur = np.array(["a"] * 300 + ["b"] * 500 + ["c"] * 200, dtype=object)
    figures = categorical_drift(ref, cur)
    assert figures["new_categories"] == ["c"]
    assert figures["chi2_p"] < 1e-6 and figures["cramers_v"] > 0.1
    assert judge(figures, MonitorConfig()) == "critical"
    assert judge(categorical_drift(ref, ref.copy()), MonitorConfig()) == "ok"


def test_params_are_checked() -> None:
    from traincycle.config import build
    from traincycle.errors import ConfigError

    with pytest.raises(ConfigError, match=r"monitor\.psi"):
        build(MonitorConfig, {"psi": -1}, "monitor")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory and a reference split from make_frame rows."""
    root = tmp_path_factory.mktemp("monitor")
    write_optimized_model(root / "model")
    make_frame(3000, seed=1).to_parquet(root / "train.parquet")
    return root


def run(project: Path, current: Path, out: Path):
    from traincycle.cli import main

    return CliRunner().invoke(main, ["monitor", str(current), "-o", str(out), "--model",
                                     str(project / "model"), "--reference",
                                     str(project / "train.parquet"), "--params", "none.yaml"])


def test_monitor_passes_unshifted_rows_and_names_drifted_columns(project: Path, tmp_path: Path) -> None:
    fresh = make_frame(1500, seed=2).drop(columns="income")
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    ok = run(project, tmp_path / "fresh.csv", tmp_path / "ok")
    assert ok.exit_code == 0, ok.output
    assert "no drift over the thresholds" in ok.output
    report = json.loads((tmp_path / "ok/drift.json").read_text())
    assert report["drifted"] == [] and set(report["columns"]) == {"age", "hours_per_week", "education",
                                                                 "sex", "race"}
    assert (tmp_path / "ok/drift.html").read_text().count("<svg") == 6  # 5 columns + prediction
    # Great Expectations' KL divergence per column, beside the scipy figures
    assert all(0 <= f["kl"] < report["thresholds"]["kl"] for f in report["columns"].values())
    shifted = fresh.assign(age=fresh["age"] + 15, race=fresh["race"].astype(str).where(
        np.arange(len(fresh)) % 4 != 0, "Martian"))
    shifted.to_parquet(tmp_path / "shifted.parquet")
    bad = run(project, tmp_path / "shifted.parquet", tmp_path / "bad")
    assert bad.exit_code == 3
    line = bad.output.strip().splitlines()[-1]
    assert line.startswith("error: monitor: drift over params monitor thresholds in age (psi ")
    assert "race (psi" in line and "flags (unknown/out of range" in line and "education" not in line
    report = json.loads((tmp_path / "bad/drift.json").read_text())
    assert "Martian" in report["columns"]["race"]["new_categories"]
    assert report["columns"]["age"]["kl"] > report["thresholds"]["kl"] > report["columns"]["education"]["kl"]
    assert report["flags"]["shares"]["unknown_category"] == pytest.approx(0.25, abs=0.01)


def test_monitor_reads_predict_output(project: Path, tmp_path: Path) -> None:
    """Predict's own output (scores and flags) is enough to watch scores and the flagged share."""
    from traincycle.predict import predict_file

    rows = make_frame(1000, seed=3).drop(columns="income")
    rows["race"] = rows["race"].astype(str).where(np.arange(len(rows)) % 5 != 0, "Martian")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predict_file(project / "model", tmp_path / "rows.csv", tmp_path / "scored.csv")
    result = run(project, tmp_path / "scored.csv", tmp_path / "out")
    assert result.exit_code == 3 and "flags (unknown/out of range 20.0%)" in result.output
    report = json.loads((tmp_path / "out/drift.json").read_text())
    assert report["input"].startswith("predict output") and report["columns"] == {}
    assert pd.notna(report["prediction"]["psi"])
