"""The evaluate stage on a tiny trained model: outputs, determinism, gate exit 3, ledger, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traincycle.evaluate import PLOT_FILES

from conftest import ROOT, assert_user_error, make_frame, run_stage, write_params

CLASSES = ["<=50K", ">50K"]
NUMERIC = ["age", "hours_per_week"]
CATEGORICAL = ["education", "sex", "race"]
FAST = {"bootstrap": 100, "explain_rows": 150, "permutation_repeats": 2, "shap_rows": 20,
        "shap_background": 10, "error_rows": 25, "min_slice_rows": 10}


def featurize(raw: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for featurize output: row_id, float32 numeric + one-hot columns, class index."""
    out = pd.DataFrame({"row_id": np.arange(len(raw), dtype=np.int64)})
    for col in NUMERIC:
        out[col] = raw[col].astype(np.float32)
    for col in CATEGORICAL:
        for value in sorted(make_frame(50)[col].astype(str).unique()):
            out[f"{col}_{value}"] = (raw[col].astype(str) == value).astype(np.float32)
    out["income"] = (raw["income"].astype(str) == ">50K").astype(np.int64)
    return out


def build_workspace(root: Path, family: str) -> dict[str, str]:
    """Raw and processed test files, featurizer.json, provenance and a trained model dir."""
    from traincycle.models import FitSpec, fit_model, save_model
    from traincycle.models.boosting import XGBoostConfig
    from traincycle.models.logistic import LogisticConfig

    train, test = featurize(make_frame(400, seed=1)), make_frame(300, seed=2)
    features = [c for c in train.columns if c not in ("row_id", "income")]
    spec = FitSpec(task="binary", n_classes=2, seed=0, feature_names=tuple(features))
    cfg = LogisticConfig() if family == "logistic" else XGBoostConfig(n_estimators=20, n_jobs=1)
    X, y = train[features].to_numpy(np.float32), train["income"].to_numpy()
    model, _ = fit_model(family, cfg, spec, CLASSES, (X, y, X, y))
    paths = {
        "model": root / "models" / "model", "meta": root / "featurizer.json",
        "processed": root / "processed_test.parquet", "raw": root / "interim_test.parquet",
        "provenance": root / "provenance.json",
    }
    save_model(model, paths["model"])
    test.to_parquet(paths["raw"], index=False)
    processed = featurize(test)
    # featurize may drop rows: evaluate must join on row_id, not on position
    processed.iloc[5:].to_parquet(paths["processed"], index=False)
    meta = {"modality": "tabular", "feature_names": features,
            "input_columns": [{"name": c} for c in NUMERIC + CATEGORICAL],
            "classes": CLASSES, "positive_label": ">50K", "task": "binary", "target": "income"}
    paths["meta"].write_text(json.dumps(meta))
    paths["provenance"].write_text(json.dumps({"source": "fixture", "rows": 300, "columns": 6}))
    return {k: str(v) for k, v in paths.items()}


def stage_args(paths: dict[str, str], out: Path, params: Path) -> list[str]:
    return [
        "--params", str(params), "--model", paths["model"], "--featurizer-meta", paths["meta"],
        "--processed", paths["processed"], "--raw", paths["raw"], "--provenance", paths["provenance"],
        "--data-quality", str(out / "missing_quality.json"),
        "--metrics", str(out / "headline.json"), "--details", str(out / "metrics.json"),
        "--plots-dir", str(out / "plots"),
        "--errors", str(out / "errors.parquet"), "--predictions", str(out / "predictions.parquet"),
        "--slices", str(out / "slices.json"),
        "--importance", str(out / "importance.json"), "--card", str(out / "card.md"),
        "--ledger", str(out / "ledger.jsonl"), "--timings", str(out / "timings.json"),
    ]


def params_file(path: Path, **evaluate: object) -> Path:
    problem = {"statement": "Tiny income test.", "metric": "roc_auc", "at_least": 0.6}
    return write_params(path, problem=problem, evaluate={**FAST, **evaluate})


def invoke(*args: str) -> subprocess.CompletedProcess:
    """Run the stage's click command in this process (imports stay warm between tests).

    Returns what `run_stage` returns, so assertions read the same; the byte-identical test
    still runs the script as a subprocess, the way DVC does.
    """
    import importlib.util
    import os

    from click.testing import CliRunner

    spec = importlib.util.spec_from_file_location("evaluate_stage", ROOT / "stages" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    env = {"TRACEBACK": ""} if os.environ.get("TRACEBACK") else {}
    result = CliRunner().invoke(module.main, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


OUTPUTS = ("metrics.json", "headline.json", "predictions.parquet", "errors.parquet", "slices.json",
           "importance.json", "card.md")


@pytest.fixture(scope="module", params=["logistic", "xgboost"])
def workspace(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"evaluate_{request.param}")
    return root, build_workspace(root, request.param), request.param


@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_logistic")
    return root, build_workspace(root, "logistic"), "logistic"


def test_outputs_and_byte_identical_rerun(workspace):
    root, paths, family = workspace
    params = params_file(root / "params.yaml")
    first, second = root / "run1", root / "run2"
    for out in (first, second):
        result = run_stage("evaluate", *stage_args(paths, out, params))
        assert result.returncode == 0, result.stderr
    assert "test roc_auc" in result.stdout
    for name in OUTPUTS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for name in sorted(p.name for p in (first / "plots").iterdir()):
        assert (first / "plots" / name).read_bytes() == (second / "plots" / name).read_bytes(), name

    metrics = json.loads((first / "metrics.json").read_text())
    assert list(metrics)[:2] == ["headline", "problem"]
    head = metrics["headline"]
    assert head["metric"] == "roc_auc" and head["low"] <= head["value"] <= head["high"]
    assert metrics["rows"] == 295
    assert metrics["problem"]["met"] is (head["value"] >= 0.6)
    assert set(metrics["per_group"]) == {"sex", "race", "sex+race"}
    assert set(metrics["per_group"]["sex"]["Female"]) == {"accuracy", "selection_rate", "tpr", "fpr", "count"}
    assert metrics["fairness"]["gate"] in ("pass", "warning")

    plots = {p.name for p in (first / "plots").iterdir()}
    assert plots == set(PLOT_FILES)
    # regression charts are declared in dvc.yaml too; for a classifier they hold no records
    assert json.loads((first / "plots" / "residuals.json").read_text()) == []
    confusion = pd.read_csv(first / "plots" / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 295
    roc = json.loads((first / "plots" / "roc.json").read_text())
    assert roc[0] == {"fpr": 0.0, "tpr": 0.0} and roc[-1] == {"fpr": 1.0, "tpr": 1.0}

    errors = pd.read_parquet(first / "errors.parquet")
    assert len(errors) == 25 and errors["loss"].is_monotonic_decreasing
    assert {"row_id", "age", "sex", "label", "prediction", "probability"} <= set(errors.columns)
    assert errors["row_id"].min() >= 5  # rows featurize dropped never come back

    importance = json.loads((first / "importance.json").read_text())
    assert set(importance["permutation"]["importance"]) == set(NUMERIC + CATEGORICAL)
    expected = "TreeExplainer" if family == "xgboost" else "permutation"
    assert importance["shap"]["explainer"] == expected

    slices = json.loads((first / "slices.json").read_text())
    assert {s["feature"] for s in slices["slices"]} == {*NUMERIC, *CATEGORICAL}
    assert 0 < len(slices["worst"]) <= 5

    card = (first / "card.md").read_text()
    assert "Tiny income test." in card and "## Groups and fairness" in card
    assert str(root) not in card  # no absolute paths in outputs

    entries = [json.loads(line) for line in (first / "ledger.jsonl").read_text().splitlines()]
    assert len(entries) == 1 and entries[0]["metric"] == "roc_auc"
    assert json.loads((first / "timings.json").read_text())["bootstrap"] >= 0


def test_critical_fairness_gate_exits_3_without_outputs(logistic):
    root, paths, _ = logistic
    params = params_file(root / "strict.yaml", fairness={
        "max_dp_difference": 0.0, "max_eo_difference": 0.0, "severity": "critical",
        "min_group_size": 1})
    out = root / "strict"
    result = invoke(*stage_args(paths, out, params))
    assert_user_error(result, "fairness gate", "difference on", code=3)
    assert not any((out / name).exists() for name in OUTPUTS)
    # the look at test still counts
    assert (out / "ledger.jsonl").exists()


def test_ledger_budget_warning(logistic):
    root, paths, _ = logistic
    out = root / "budget"
    params = params_file(root / "budget.yaml", test_budget=1)
    ledger = out / "ledger.jsonl"
    ledger.parent.mkdir()
    earlier = {"test_hash": "", "model_hash": "other", "problem_metric": "roc_auc"}
    ledger.write_text(json.dumps(earlier) + "\n")
    first = invoke(*stage_args(paths, out, params))
    assert first.returncode == 0 and "test budget" not in first.stderr  # a different test hash
    test_hash = json.loads(ledger.read_text().splitlines()[-1])["test_hash"]
    with ledger.open("a") as fh:
        later = {"test_hash": test_hash, "model_hash": "another", "problem_metric": "pr_auc"}
        fh.write(json.dumps(later) + "\n")
    second = invoke(*stage_args(paths, out, params))
    assert second.returncode == 0
    assert "test budget exceeded: 2 distinct models" in second.stderr
    assert "headline metric changed" not in second.stderr  # the first metric was roc_auc


@pytest.mark.parametrize(
    ("problem", "needle"),
    [({"metric": "rmse", "at_most": 1.0}, "problem.metric"),
     ({"metric": "log_loss", "at_least": 0.5}, "problem.at_least"),
     ({"metric": "auc"}, "unknown metric 'auc'")],
)
def test_bad_problem_is_a_one_line_config_error(tmp_path, problem, needle):
    params = write_params(tmp_path / "params.yaml", problem=problem, evaluate=FAST)
    paths = {k: str(tmp_path / k) for k in ("model", "meta", "processed", "raw", "provenance")}
    result = invoke(*stage_args(paths, tmp_path / "out", params))
    assert_user_error(result, needle)


def test_processed_from_another_split_is_a_data_error(logistic, tmp_path):
    _, paths, _ = logistic
    bad = pd.read_parquet(paths["processed"])
    bad["row_id"] += 1000
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    params = params_file(tmp_path / "params.yaml")
    result = invoke(*stage_args({**paths, "processed": str(tmp_path / "bad.parquet")},
                                               tmp_path / "out", params))
    assert_user_error(result, "row_id", "bad.parquet")
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_every_plot_file_is_declared_in_dvc_yaml():
    import yaml

    declared = set()
    for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]:
        (name, props), = entry.items()
        files = props["y"] if isinstance(props.get("y"), dict) else {name: None}
        declared |= {Path(f).name for f in files if f.startswith("plots/evaluate/")}
    assert declared == set(PLOT_FILES)


def test_regression_model(tmp_path):
    """A regressor: regression metrics with CIs, MAE per group, scatter plots, worst rows."""
    from traincycle.models import FitSpec, fit_model, save_model
    from traincycle.models.linear import LinearConfig

    def regress(raw: pd.DataFrame) -> pd.DataFrame:
        out = featurize(raw).drop(columns=["hours_per_week", "income"])
        out["hours_per_week"] = raw["hours_per_week"].astype(np.float64)
        return out

    train, test = regress(make_frame(400, seed=1)), make_frame(200, seed=2)
    features = [c for c in train.columns if c not in ("row_id", "hours_per_week")]
    spec = FitSpec(task="regression", n_classes=0, seed=0, feature_names=tuple(features))
    X, y = train[features].to_numpy(np.float32), train["hours_per_week"].to_numpy()
    model, _ = fit_model("linear", LinearConfig(), spec, [], (X, y, X, y))
    paths = {"model": tmp_path / "model", "meta": tmp_path / "featurizer.json",
             "processed": tmp_path / "test.parquet", "raw": tmp_path / "raw.parquet",
             "provenance": tmp_path / "provenance.json"}
    save_model(model, paths["model"])
    test.to_parquet(paths["raw"], index=False)
    regress(test).to_parquet(paths["processed"], index=False)
    paths["meta"].write_text(json.dumps({"modality": "tabular",
                                         "input_columns": [{"name": c} for c in ("age", *CATEGORICAL)]}))
    paths["provenance"].write_text("{}")
    params = write_params(
        tmp_path / "params.yaml",
        data={"source": "builtin:adult", "target": "hours_per_week", "task": "regression",
              "sensitive": ["sex", "race"]},
        problem={"statement": "Hours.", "metric": "rmse", "at_most": 100.0}, evaluate=FAST)
    out = tmp_path / "out"
    result = invoke(*stage_args({k: str(v) for k, v in paths.items()}, out, params))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"mse", "rmse", "mae", "r2", "mape"}
    assert metrics["problem"] == {"metric": "rmse", "at_most": 100.0, "met": True, "met_at_ci_bound": True}
    assert metrics["headline"]["low"] <= metrics["headline"]["value"] <= metrics["headline"]["high"]
    assert set(metrics["per_group"]["sex"]["Female"]) == {"mae", "count"}
    assert "mae_difference" in metrics["fairness"]["sex"]
    assert metrics["fairness"]["gate"] == "not applicable"
    scatter = json.loads((out / "plots" / "predicted_vs_actual.json").read_text())
    assert len(scatter) == 200 and set(scatter[0]) == {"actual", "predicted"}
    assert json.loads((out / "plots" / "roc.json").read_text()) == []
    errors = pd.read_parquet(out / "errors.parquet")
    assert (errors["loss"] == (errors["label"] - errors["prediction"]).abs()).all()
    assert json.loads((out / "importance.json").read_text())["shap"]["output"] == "value"
    assert "## Groups and fairness" in (out / "card.md").read_text()


def test_multiclass_model(tmp_path):
    """Three classes: macro OvR AUC headline, per-class table, favourable-class group rates."""
    from traincycle.models import FitSpec, fit_model, save_model
    from traincycle.models.logistic import LogisticConfig

    labels = ["Bachelors", "HS", "Masters"]

    def encode(raw: pd.DataFrame) -> pd.DataFrame:
        out = featurize(raw).drop(columns=[c for c in featurize(raw) if c.startswith("education_")])
        out = out.drop(columns=["income"])
        out["education"] = raw["education"].astype(str).map(labels.index).astype(np.int64)
        return out

    train, test = encode(make_frame(400, seed=1)), make_frame(300, seed=2)
    features = [c for c in train.columns if c not in ("row_id", "education")]
    spec = FitSpec(task="multiclass", n_classes=3, seed=0, feature_names=tuple(features))
    X, y = train[features].to_numpy(np.float32), train["education"].to_numpy()
    model, _ = fit_model("logistic", LogisticConfig(), spec, labels, (X, y, X, y))
    paths = {"model": tmp_path / "model", "meta": tmp_path / "featurizer.json",
             "processed": tmp_path / "test.parquet", "raw": tmp_path / "raw.parquet",
             "provenance": tmp_path / "provenance.json"}
    save_model(model, paths["model"])
    test.to_parquet(paths["raw"], index=False)
    encode(test).to_parquet(paths["processed"], index=False)
    paths["meta"].write_text(json.dumps({"modality": "tabular", "input_columns": []}))
    paths["provenance"].write_text("{}")
    params = write_params(
        tmp_path / "params.yaml",
        data={"source": "builtin:adult", "target": "education", "task": "multiclass",
              "positive_label": "Masters", "sensitive": ["sex"]},
        problem={"metric": "roc_auc", "at_least": 0.99}, evaluate=FAST)
    out = tmp_path / "out"
    result = invoke(*stage_args({k: str(v) for k, v in paths.items()}, out, params))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["problem"]["met"] is False  # an honest miss is reported, not an error
    assert list(metrics["per_class"]) == labels
    assert set(metrics["per_group"]) == {"sex"}  # one sensitive column: no intersection
    masters = (test["education"].astype(str) == "Masters").to_numpy()
    female = (test["sex"].astype(str) == "Female").to_numpy()
    preds = pd.read_csv(out / "plots" / "confusion.csv")["predicted"].to_numpy()
    rate = (preds[female] == "Masters").mean()
    assert metrics["per_group"]["sex"]["Female"]["selection_rate"] == pytest.approx(rate, abs=1e-6)
    assert masters.sum() == metrics["per_class"]["Masters"]["support"]
    assert len(json.loads((out / "plots" / "roc.json").read_text())) == FAST.get("curve_points", 200)
