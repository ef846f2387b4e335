"""The one look at test: metrics with CIs, plots, fairness gate, error analysis, explanations.

`evaluate` is pure: it takes the loaded model, the processed and raw test frames and the
configs, and returns an :class:`Evaluation`; the stage script writes it out (after the gate)
and appends the look to the test-set ledger.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle import metrics as m
from traincycle.comparison import predictions_frame
from traincycle.config import DataConfig, check_range
from traincycle.errors import ConfigError, DataError
from traincycle.fairness import FairnessConfig
from traincycle.io import atomic_dir, dump_json, sha256_bytes, sha256_file, sha256_frame

ROW_ID = "row_id"
#: chart data files of both task kinds (dvc.yaml's top-level `plots:` declares each)
PLOT_FILES = ("confusion.csv", "roc.json", "precision_recall.json", "calibration.json",
              "per_class.json", "predicted_vs_actual.json", "residuals.json", "per_group.json",
              "importance.json", "forecast.json", "residuals_by_hour.json", "residuals_by_dayofweek.json")


@dataclasses.dataclass(frozen=True)
class ProblemConfig:
    """problem: what success means, decided before anyone looks at test."""

    statement: str = ""
    #: the headline metric (see traincycle.metrics for names)
    metric: str = "roc_auc"
    #: success threshold: at_least for higher-is-better metrics, at_most for error metrics
    at_least: float | None = None
    at_most: float | None = None
    #: time series: success also needs the model to beat the best baseline forecast by this share
    #: of its error (0.05: 5% lower MAE; for a higher-is-better metric, 5% higher)
    beat_baseline_by: float | None = None

    def __post_init__(self) -> None:
        share = self.beat_baseline_by
        if share is not None and not 0 <= share < 1:
            raise ConfigError(f"params problem.beat_baseline_by: expected a share from 0 to below 1 "
                              f"(0.05: beat the best baseline by 5%), got {share!r}")
        known = (*m.CLASSIFICATION_METRICS, *m.REGRESSION_METRICS)
        if self.metric not in known:
            raise ConfigError(
                f"params problem.metric: unknown metric {self.metric!r}; expected one of {', '.join(known)}"
            )
        if self.at_least is not None and self.at_most is not None:
            raise ConfigError("params problem: set at_least or at_most, not both")
        lower = self.metric in m.LOWER_IS_BETTER
        if lower and self.at_least is not None:
            raise ConfigError(
                f"params problem.at_least: {self.metric} is an error metric (lower is better); "
                "expected problem.at_most"
            )
        if not lower and self.at_most is not None:
            raise ConfigError(
                f"params problem.at_most: {self.metric} is higher-is-better; expected problem.at_least"
            )

    def beats_baselines(self, gain: float) -> bool:
        """Whether `gain` (the share of the best baseline's error removed) meets beat_baseline_by."""
        return bool(np.isfinite(gain) and self.beat_baseline_by is not None
                    and gain >= self.beat_baseline_by)

    def met(self, value: float) -> bool | None:
        """Whether `value` meets the threshold (None when no threshold is set)."""
        if not np.isfinite(value):
            return False if (self.at_least is not None or self.at_most is not None) else None
        if self.at_least is not None:
            return bool(value >= self.at_least)
        if self.at_most is not None:
            return bool(value <= self.at_most)
        return None


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """evaluate: resampling, sample caps for explanations, error analysis and the test budget."""

    #: bootstrap resamples for the CIs (0: no CIs)
    bootstrap: int = 1000
    ci_level: float = 0.95
    #: rows for permutation importance (a seeded sample of test)
    explain_rows: int = 2000
    permutation_repeats: int = 3
    #: rows explained with SHAP, and the background rows the model-agnostic explainer masks with
    shap_rows: int = 200
    shap_background: int = 50
    #: worst-predicted rows kept in reports/errors.parquet
    error_rows: int = 200
    #: quantile bins for numeric columns in the slice table
    slice_bins: int = 4
    min_slice_rows: int = 30
    worst_slices: int = 5
    #: wide data: at most this many raw columns get permutation importance and their own SHAP
    #: value (the top ones by a cheap first pass; 0 = all)
    max_explain_columns: int = 50
    #: at most this many columns are sliced (the most important ones; 0 = all)
    max_slice_columns: int = 50
    curve_points: int = 200
    calibration_bins: int = 10
    #: distinct models scored on one test split before the ledger warns
    test_budget: int = 5
    fairness: FairnessConfig = dataclasses.field(default_factory=FairnessConfig)

    def __post_init__(self) -> None:
        check_range("evaluate.bootstrap", self.bootstrap, 0, 100_000)
        check_range("evaluate.ci_level", self.ci_level, 0.0, 1.0, low_open=True, high_open=True)
        for name in ("explain_rows", "permutation_repeats", "shap_background", "error_rows",
                     "min_slice_rows", "test_budget"):
            check_range(f"evaluate.{name}", getattr(self, name), 1)
        check_range("evaluate.shap_rows", self.shap_rows, 0)
        check_range("evaluate.worst_slices", self.worst_slices, 0)
        check_range("evaluate.max_explain_columns", self.max_explain_columns, 0)
        check_range("evaluate.max_slice_columns", self.max_slice_columns, 0)
        check_range("evaluate.slice_bins", self.slice_bins, 2, 100)
        check_range("evaluate.curve_points", self.curve_points, 10, 10_000)
        check_range("evaluate.calibration_bins", self.calibration_bins, 2, 100)


@dataclasses.dataclass
class Evaluation:
    """Everything evaluate produces; the stage writes each part to its declared path."""

    metrics: dict[str, Any]
    plots: dict[str, list[dict[str, Any]]]
    errors: pd.DataFrame
    slices: dict[str, Any]
    importance: dict[str, Any]
    gate: dict[str, Any]
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    #: per-row test predictions (reports/predictions.parquet), for paired comparisons
    predictions: pd.DataFrame | None = None
    #: extra files for the plots directory (name -> bytes), e.g. the worst-images grid
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)


def check_problem(problem: ProblemConfig, task: str, forecasting: bool = False) -> None:
    """Raise ConfigError when the headline metric does not fit the task, or the success criterion
    names baselines that only a time series (data.time) has."""
    if problem.beat_baseline_by is not None and not forecasting:
        raise ConfigError("params problem.beat_baseline_by: the baseline forecasts exist only for a time "
                          "series; set data.time or remove the key")
    if problem.metric not in m.metric_names(task):
        raise ConfigError(
            f"params problem.metric: {problem.metric!r} does not apply to a {task} task; "
            f"expected one of {', '.join(m.metric_names(task))}"
        )


def align(
    processed: pd.DataFrame, raw: pd.DataFrame, feature_names: list[str], target: str,
    processed_path: str = "processed test", raw_path: str = "raw test",
) -> pd.DataFrame:
    """Raw test rows matching the processed rows (joined on row_id); checks both frames."""
    for col in (ROW_ID, target, *feature_names):
        if col not in processed.columns:
            raise DataError(f"{processed_path}: column {col!r} is missing (expected featurize output)")
    if processed.empty:
        raise DataError(f"{processed_path}: no rows to evaluate")
    if target not in raw.columns:
        raise DataError(f"{raw_path}: target column {target!r} is missing")
    row_id = processed[ROW_ID].to_numpy()
    if row_id.min() < 0 or row_id.max() >= len(raw) or pd.Series(row_id).duplicated().any():
        raise DataError(
            f"{processed_path}: row_id must be distinct positions in {raw_path} "
            f"(0..{len(raw) - 1}); was the processed file made from another split?"
        )
    return raw.iloc[row_id].reset_index(drop=True)


def targets(processed: pd.DataFrame, target: str, task: str, n_classes: int, where: str) -> np.ndarray:
    """The encoded target: class indices in range, or finite floats."""
    y = processed[target]
    if y.isna().any():
        raise DataError(f"{where}: target {target!r} has missing values")
    if task == "regression":
        values = y.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"{where}: target {target!r} has non-finite values")
        return values
    values = y.to_numpy()
    if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() >= n_classes:
        raise DataError(
            f"{where}: target {target!r} must hold class indices 0..{n_classes - 1} "
            "(featurize's encoding)"
        )
    return values.astype(np.int64)


def favourable_class(data: DataConfig, classes: list[str]) -> int:
    """Index of the favourable outcome: data.positive_label, else the last class."""
    if data.positive_label is not None and data.positive_label in classes:
        return classes.index(data.positive_label)
    return len(classes) - 1


def evaluate(
    model: Any, processed: pd.DataFrame, raw: pd.DataFrame, data: DataConfig,
    problem: ProblemConfig, cfg: EvaluateConfig, seed: int, meta: dict[str, Any],
    processed_path: str = "processed test", raw_path: str = "raw test",
    history: pd.DataFrame | None = None,
) -> Evaluation:
    """Score `model` on the test split and gather everything the stage writes.

    Args:
        model: a ``traincycle.models.Model`` (or anything with its interface).
        processed: featurize output for test: row_id, features, encoded target.
        raw: the interim test split (raw columns, for groups, slices and error rows).
        data, problem, cfg, seed: the params sections evaluate reads.
        meta: featurizer.json; its modality says how to slice, explain and show the rows.
        history: the interim train and val rows of a time series (the exponential-smoothing
            baseline is fitted on them); None: that baseline is left out.
    """
    from traincycle import fairness, slices
    from traincycle.modalities import of_featurizer

    modality = of_featurizer(meta)
    task = data.task
    check_problem(problem, task, data.time is not None)
    if model.task != task:
        raise DataError(f"model: trained for a {model.task} task but data.task is {task}")
    clock = Timer()
    raw = align(processed, raw, model.feature_names, data.target, processed_path, raw_path)
    classes = list(model.classes)
    y = targets(processed, data.target, task, len(classes), processed_path)
    X = model.as_matrix(processed[model.feature_names])
    if task == "regression":
        proba, pred = None, model.predict(X)
    else:
        proba = model.predict_proba(X)
        pred = proba.argmax(axis=1)
    clock.lap("predict")

    point = m.point_metrics(y, proba, pred, task)
    family = "regression" if task == "regression" else "classification"
    ci_names = tuple(dict.fromkeys((problem.metric, *m.HEADLINE[family])))
    ci = m.bootstrap_ci(y, proba, pred, task, ci_names, cfg.bootstrap, cfg.ci_level, seed) \
        if cfg.bootstrap else {}
    clock.lap("bootstrap")

    per_group: dict[str, Any] = {}
    differences: dict[str, Any] = {}
    groups = None
    gate = {"status": "not applicable", "severity": cfg.fairness.severity, "findings": []}
    if modality.FAIRNESS:
        sensitive = tuple(c for c in data.sensitive if c in raw.columns)
        groups = fairness.group_columns(raw, sensitive, cfg.fairness.intersection)
        favourable = None if task == "regression" else favourable_class(data, classes)
        per_group, differences = fairness.group_report(
            groups, y, pred, task, favourable, cfg.fairness.min_group_size
        )
        if task != "regression":
            gate = fairness.judge(differences, cfg.fairness)
    clock.lap("fairness")

    importance, chart = modality.explain(model, X, y, meta, problem.metric, cfg, seed)
    clock.lap("explain")

    sliced, shown = modality.evaluation_inputs(raw, processed, meta, data)
    if cfg.max_slice_columns and sliced.shape[1] > cfg.max_slice_columns:
        sliced = sliced[slices.top_columns(list(sliced.columns), chart, cfg.max_slice_columns)]
    if task == "regression":
        slice_score, slice_metric, higher = np.abs(y - pred), "mae", False
    else:
        slice_score, slice_metric, higher = (y == pred).astype(np.float64), "accuracy", True
    slice_report = slices.slice_table(
        sliced, list(sliced.columns), slice_score, slice_metric, higher, cfg.slice_bins,
        cfg.min_slice_rows, cfg.worst_slices,
    )
    errors = slices.worst_rows(
        shown, processed[ROW_ID].to_numpy(), y, proba, pred, task, classes, data.target, cfg.error_rows
    )
    clock.lap("slices")

    metrics = metrics_report(
        task, len(y), point, ci, problem, cfg, per_group, differences, gate,
        m.class_report(y, pred, classes) if task != "regression" else None,
    )
    if data.time is not None:  # the forecasts any model must beat, scored on the same test rows
        from traincycle import smoothing
        from traincycle.timeseries import baseline_report

        fitted = smoothing.baseline(history, raw, data.time, data.target) if history is not None else None
        metrics["baselines"] = baseline_report(raw, y, pred, data.time, data.target, problem.metric, fitted)
        judge_baselines(metrics, problem)
    plot_data = plot_records(y, proba, pred, task, classes, metrics, chart, cfg, seed)
    if data.time is not None:  # actual vs predicted over time, residuals by hour / day of week
        from traincycle.timeseries import forecast_plots

        others = {"exp_smoothing": fitted[0]} if fitted is not None else {}
        plot_data.update(forecast_plots(raw, y, pred, data.time, data.target, others))
    rows = predictions_frame(processed[ROW_ID].to_numpy(), y, proba, pred, groups)
    files = modality.evaluation_files(raw, y, proba, pred, classes)
    return Evaluation(metrics, plot_data, errors, slice_report, importance, gate, clock.laps, rows, files)


def metrics_report(
    task: str, rows: int, point: dict[str, float], ci: dict[str, dict[str, float]],
    problem: ProblemConfig, cfg: EvaluateConfig, per_group: dict[str, Any],
    differences: dict[str, Any], gate: dict[str, Any], per_class: dict[str, Any] | None,
) -> dict[str, Any]:
    """reports/evaluate.json: headline first, then all metrics, CIs, per class, per group."""
    value = point[problem.metric]
    headline_ci = ci.get(problem.metric, {})
    threshold = (
        {"at_least": problem.at_least} if problem.at_least is not None
        else {"at_most": problem.at_most} if problem.at_most is not None else {}
    )
    report: dict[str, Any] = {
        "headline": {"metric": problem.metric, "value": value, **headline_ci},
        "problem": {
            "metric": problem.metric, **threshold, "met": problem.met(value),
            # the stricter reading: does the bad end of the CI still meet the threshold?
            "met_at_ci_bound": problem.met(
                headline_ci.get("high" if problem.metric in m.LOWER_IS_BETTER else "low", np.nan)
            ) if headline_ci else None,
        },
        "task": task,
        "rows": rows,
        "metrics": point,
        "ci": {"level": cfg.ci_level, "resamples": cfg.bootstrap, **ci},
    }
    if per_class is not None:
        report["per_class"] = per_class
    report["per_group"] = per_group
    report["fairness"] = {
        col: {k: v for k, v in diff.items() if k != "detail"} for col, diff in differences.items()
    }
    report["fairness"]["gate"] = gate["status"]
    return report


def judge_baselines(report: dict[str, Any], problem: ProblemConfig) -> None:
    """Fold problem.beat_baseline_by into report["problem"]: met needs the threshold (if any) and
    the gain over the best baseline; at the CI bound, the gain of the CI's bad end."""
    if problem.beat_baseline_by is None:
        return
    from traincycle.timeseries import relative_gain

    baselines, verdict = report["baselines"], report["problem"]
    metric = baselines["metric"]
    best = baselines["scores"][baselines["best_baseline"]][metric]
    beat = problem.beats_baselines(baselines["vs_best_baseline"])
    verdict["beat_baseline_by"] = problem.beat_baseline_by
    verdict["met"] = beat if verdict["met"] is None else verdict["met"] and beat
    bound = report["headline"].get("high" if metric in m.LOWER_IS_BETTER else "low")
    if bound is not None:
        beat_at_bound = problem.beats_baselines(relative_gain(metric, bound, best))
        at_bound = verdict["met_at_ci_bound"]
        verdict["met_at_ci_bound"] = beat_at_bound if at_bound is None else at_bound and beat_at_bound


def plot_records(
    y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, task: str, classes: list[str],
    metrics: dict[str, Any], importance: dict[str, float], cfg: EvaluateConfig, seed: int,
) -> dict[str, list[dict[str, Any]]]:
    """Plot data files (name -> records) for `dvc plots`."""
    from traincycle import plots

    # dvc.yaml declares the charts of both task kinds; the other kind's files hold no records,
    # because `dvc plots show/diff` reports a declared-but-absent file as a failure
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in PLOT_FILES}
    if task == "regression":
        actual, residual = plots.scatter_records(y, pred, cfg.curve_points * 2, seed)
        out["predicted_vs_actual.json"] = actual
        out["residuals.json"] = residual
    else:
        assert proba is not None
        out["confusion.csv"] = plots.confusion_records(y, pred, classes)
        out["roc.json"] = plots.roc_records(y, proba, cfg.curve_points)
        out["precision_recall.json"] = plots.pr_records(y, proba, cfg.curve_points)
        out["calibration.json"] = plots.calibration_records(y, proba, cfg.calibration_bins)
        out["per_class.json"] = plots.class_bar_records(metrics["per_class"])
    out["per_group.json"] = plots.group_bar_records(metrics["per_group"])
    out["importance.json"] = plots.importance_records(importance)
    return out


def model_hash(directory: str | Path) -> str:
    """Content hash of a model directory: every file's name and bytes, in sorted order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: model directory not found")
    lines = [
        f"{p.relative_to(directory).as_posix()} {sha256_file(p)}"
        for p in sorted(directory.rglob("*")) if p.is_file()
    ]
    return sha256_bytes("\n".join(lines).encode())


class Timer:
    """Wall-clock seconds per phase (for .traincycle/timings, never for outputs)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap under `name`."""
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


def write_plots(
    records: dict[str, list[dict[str, Any]]], directory: str | Path, files: dict[str, bytes] | None = None
) -> None:
    """Write every plot file (and any ready-made `files`, e.g. a PNG) into `directory`, replacing
    it whole (no stale files survive)."""
    with atomic_dir(directory) as tmp:
        for name, blob in (files or {}).items():
            (tmp / name).write_bytes(blob)
        for name, rows in records.items():
            if name.endswith(".csv"):
                # csv keeps the one-record-per-row confusion data small
                frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["actual", "predicted"])
                frame.to_csv(tmp / name, index=False, lineterminator="\n")
            else:
                (tmp / name).write_text(dump_json(rows), encoding="utf-8")


def ledger_entry(
    raw_test: pd.DataFrame, model_dir: str | Path, params: dict[str, Any], metrics: dict[str, Any],
    problem: ProblemConfig, now: str,
) -> dict[str, Any]:
    """One ledger line: which test split, which model, which params, what it scored."""
    return {
        "time": now,
        "test_hash": sha256_frame(raw_test),
        "model_hash": model_hash(model_dir),
        "metric": metrics["headline"]["metric"],
        "value": metrics["headline"]["value"],
        "params_hash": sha256_bytes(dump_json(params).encode()),
        "problem_metric": problem.metric,
    }
