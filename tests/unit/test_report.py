"""report: the PR comment built from canned `dvc metrics/params diff --json` output."""

from __future__ import annotations

import json

import pytest

from traincycle.report import (
    build_report,
    changes,
    ci_of,
    delta,
    fairness_section,
    fmt,
    headline,
    metrics_section,
    params_section,
    read_timings,
    timings_section,
)


def d(old, new):
    entry = {"old": old, "new": new}
    if isinstance(old, int | float) and isinstance(new, int | float):
        entry["diff"] = new - old
    return entry


METRICS = {
    "metrics/split.json": {"rows.train": d(34189, 34189)},
    "metrics/evaluate.json": {
        "headline.metric": d("roc_auc", "roc_auc"),
        "headline.value": d(0.9201, 0.9264),
        "headline.low": d(0.915, 0.921),
        "headline.high": d(0.925, 0.931),
        "problem.at_least": d(0.9, 0.9),
        "problem.met": d(True, True),
        "problem.met_at_ci_bound": d(True, True),
        "metrics.roc_auc": d(0.9201, 0.9264),
        "metrics.accuracy": d(0.861, 0.869),
        "ci.level": d(0.95, 0.95),
        "ci.roc_auc.low": d(0.915, 0.921),
        "ci.roc_auc.high": d(0.925, 0.931),
        "per_class.>50K.f1": d(0.70, 0.71),
        "per_group.sex.Female.tpr": d(0.55, 0.60),
        "per_group.sex.Female.count": d(2400, 2400),
        "per_group.sex.Male.tpr": d(0.66, 0.66),
        "fairness.sex.dp_difference": d(0.19, 0.17),
        "fairness.sex.eo_difference": d(0.11, 0.06),
        "fairness.gate": d("warning", "warning"),
    },
    "metrics/train.json": {"roc_auc": d(0.925, 0.931), "best_iteration": d(412, 530)},
    "metrics/data_quality.json": {"rows": d(48842, 48842), "sex.min_group_share": d(0.33, 0.33)},
}
PARAMS = {"params.yaml": {"train.xgboost.max_depth": d(6, 8), "train.model": d("xgboost", "xgboost")}}


def test_number_and_delta_formatting():
    assert fmt(0.92641) == "0.9264" and fmt(None) == "—" and fmt(True) == "true"
    assert fmt(0.00012) == "1.20e-04"
    assert delta(0.9201, 0.9264) == "**+0.0063**"
    assert delta(412, 530) == "**+118 (+28.6%)**"
    assert delta(3, 3) == "=" and delta("a", "a") == "" and delta("a", "b") == "changed"
    assert delta(None, 0.5) == "changed"


def test_ci_is_found_in_each_layout():
    flat = {c.key: c for c in changes(METRICS["metrics/evaluate.json"])}
    assert ci_of("metrics.roc_auc", flat) == (0.921, 0.931)
    assert ci_of("metrics.roc_auc", flat, "old") == (0.915, 0.925)
    assert ci_of("headline.value", flat) == (0.921, 0.931)
    assert ci_of("metrics.accuracy", flat) is None
    sibling = {c.key: c for c in changes({"auc": d(1, 2), "auc_ci.low": d(0, 1), "auc_ci.high": d(2, 3)})}
    assert ci_of("auc", sibling) == (1.0, 3.0)


def test_metrics_section_orders_files_and_splits_out_groups():
    text = metrics_section(METRICS, "main", "workspace")
    order = [text.index(f"`metrics/{n}.json`") for n in ("train", "evaluate", "data_quality", "split")]
    assert order == sorted(order)
    assert "| `metrics.roc_auc` | 0.9201 | 0.9264 | **+0.0063** | [0.921, 0.931] |" in text
    assert "`ci.roc_auc.low`" not in text  # bounds live in the CI column, not as rows
    assert "per_group" not in text and "per-class: 1 changed" in text
    assert "#### `metrics/train.json`" in text
    # unchanged files take one line, unchanged metrics of a changed file fold away
    assert "Unchanged: `metrics/data_quality.json` (2), `metrics/split.json` (1)." in text
    assert "<details><summary>4 unchanged</summary>" in text


def test_added_and_removed_metrics_are_listed_not_tabled():
    diff = {"metrics/optimize.json": {"variants.a.bytes": d(10, None), "variants.b.bytes": d(None, 8),
                                      "chosen_bytes": d(10, 8)}}
    text = metrics_section(diff, "main", "ws")
    assert "New in ws: `variants.b.bytes`." in text and "Gone from ws: `variants.a.bytes`." in text
    assert "| `chosen_bytes` | 10 | 8 | **-2 (-20.0%)** |" in text
    assert "| `variants." not in text


def test_fairness_section_has_group_rows_and_gaps():
    text = fairness_section(METRICS, "main", "workspace")
    assert "| sex | Female | 2400 | tpr | 0.55 | 0.6 | **+0.05** |" in text
    assert "| sex | dp_difference | 0.19 | 0.17 | **-0.02** |" in text
    assert "| (all) | gate | warning | warning |  |" in text
    assert "no confidence intervals" in text
    assert "1 per-group figures changed" in text
    assert "<details><summary>1 per-group figures unchanged</summary>" in text
    assert "| count |" not in text  # group size is the n column, not a metric row
    assert fairness_section({"metrics/train.json": {"auc": d(1, 1)}}, "a", "b") == ""


def test_params_and_headline():
    text = params_section(PARAMS, "main", "workspace")
    assert "| `train.xgboost.max_depth` | 6 | 8 |" in text
    assert params_section({}, "main", "ws").endswith("No params changed.")
    line = headline(METRICS["metrics/evaluate.json"], "main", "workspace")
    assert line.startswith("**Headline (test):** `roc_auc` 0.9201 (main) → 0.9264 (workspace)")
    assert "95% CI [0.921, 0.931]" in line and "target ≥ 0.9: met (at the CI bound: met)" in line


def test_timings_section_and_reader(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps({"seconds": 12.5, "rows": 34000}))
    (tmp_path / "evaluate.json").write_text(json.dumps({"metrics": 1.0, "shap": 2.5}))
    (tmp_path / "optimize.json").write_text(json.dumps({"latency": {"native": {"batch1_ms": 7.5}}}))
    (tmp_path / "broken.json").write_text("{")
    timings = read_timings(tmp_path)
    assert set(timings) == {"train", "evaluate", "optimize"}
    text = timings_section(timings)
    assert "| train | 12.50 | rows 34000 |" in text
    assert "| evaluate | 3.50 | metrics 1, shap 2.5 |" in text
    assert "| optimize | — | latency.native.batch1_ms 7.5 |" in text
    assert "| fit | 4.00 | fit_seconds 4 |" in timings_section({"fit": {"fit_seconds": 4}})
    assert timings_section({}) == ""


def test_whole_report_reads_as_one_comment():
    text = build_report(rev="main", rev_sha="0123456789abcdef", metrics_diff=METRICS,
                        params_diff=PARAMS, plots_index=".traincycle/plots-diff/index.html",
                        timings={"train": {"seconds": 3.0}})
    assert text.startswith("## traincycle report: workspace vs `main` (`0123456`)\n")
    for heading in ("### Metrics", "### Fairness", "### Params changed", "### Plots", "### Timings"):
        assert heading in text
    assert "`.traincycle/plots-diff/index.html`" in text
    # every <details> is closed and every table row has as many cells as its header
    assert text.count("<details") == text.count("</details>")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| ---"):
            width = line.count(" | ")
            j = i + 2
            while j < len(lines) and lines[j].startswith("| "):
                assert lines[j].count(" | ") == width, lines[j]
                j += 1
    failed = build_report(rev="main", rev_sha="0" * 40, metrics_diff={}, params_diff={},
                          plots_index=None, plots_error="no plots")
    assert "`dvc plots diff main` failed: no plots" in failed and "### Timings" not in failed


def test_sibling_keys_collapse_and_integer_deltas_stay_integers():
    diff = {"metrics/optimize.json": {f"variants.t.{k}": d(None, 1) for k in ("a", "b", "c")}
            | {"bytes": d(107280, 26447)}}
    text = metrics_section(diff, "main", "ws")
    assert "New in ws: `variants.t.*` (3)." in text
    assert "**-80833 (-75.3%)**" in text


def test_reports_diff_reads_reports_and_falls_back_to_old_metrics(tmp_path, monkeypatch):
    """A base revision from before the headline split kept the full report in metrics/."""
    import subprocess

    from traincycle.report import read_reports, reports_diff

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    monkeypatch.chdir(tmp_path)
    git("init", "-q")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "train.json").write_text(json.dumps({"val": {"roc_auc": 0.9}, "n_trees": 5}))
    git("add", "-A")
    git("commit", "-qm", "old layout")
    (tmp_path / "metrics" / "train.json").write_text(json.dumps({"val": {"roc_auc": 0.91}}))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "train.json").write_text(json.dumps({"val": {"roc_auc": 0.91}, "n_trees": 7}))
    diff = reports_diff(read_reports("HEAD"), read_reports(None))
    assert diff == {"reports/train.json": {
        "val.roc_auc": {"old": 0.9, "new": 0.91, "diff": pytest.approx(0.01)},
        "n_trees": {"old": 5, "new": 7, "diff": 2},
    }}


def test_change_is_judged_on_val_rows_and_on_test_rows_per_group(tmp_path, monkeypatch):
    """Val from train's per-row predictions (experiments compared without a look at test), test
    from evaluate's, with the per-group table only for test (val rows carry no groups)."""
    import numpy as np
    import pandas as pd

    from traincycle import report
    from traincycle.comparison import predictions_frame

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    good = 1 / (1 + np.exp(-(3 * y - 1.5 + rng.normal(0, 1, 600))))
    poor = 1 / (1 + np.exp(-(3 * y - 1.5 + rng.normal(0, 3, 600))))
    groups = pd.DataFrame({"sex": np.where(np.arange(600) % 2, "a", "b")})

    def rows(p, with_groups):
        proba = np.column_stack([1 - p, p])
        return predictions_frame(np.arange(600), y, proba, proba.argmax(axis=1),
                                 groups if with_groups else None)

    val, test = report.VAL_PREDICTIONS, report.PREDICTIONS
    frames = {(val, None): rows(good, False), (val, "abc"): rows(poor, False),
              (test, None): rows(good, True), (test, "abc"): rows(good, True)}
    monkeypatch.setattr(report, "read_rows", lambda path, sha: frames[path, sha])
    (tmp_path / "params.yaml").write_text("seed: 0\ndata: {task: binary}\nproblem: {metric: roc_auc}\n"
                                          "evaluate: {bootstrap: 200, fairness: {min_group_size: 30}}\n")
    text = report.judge_change("exp-a", "abc", str(tmp_path / "params.yaml"))
    val, test = text.split("\n\n", 1)
    assert val.startswith("**Is it real (val)?** Paired bootstrap on the same 600 val rows")
    assert val.endswith("→ **better**.")  # the workspace's val predictions beat the experiment's
    assert test.startswith("**Is it real (test)?**") and "→ **within noise**." in test  # identical
    assert "Per group (≥ 30 rows): every group within noise" in test and "Per group" not in val


def test_a_revision_without_val_predictions_says_so(tmp_path, monkeypatch):
    from traincycle import report

    def absent(path, sha):
        raise FileNotFoundError(path)

    monkeypatch.setattr(report, "read_rows", absent)
    text = report.judge_rows("val", report.VAL_PREDICTIONS, "main", "abc", "binary", "roc_auc",
                             (100, 0.95, 0))
    assert text.startswith("_No paired val comparison: reports/val_predictions.parquet is not readable")
