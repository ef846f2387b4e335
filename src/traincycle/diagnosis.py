"""Fit diagnosis: under- / overfitting / healthy from curves and train-vs-val metrics.

The verdict is about the model that was kept (early stopping already cut the rounds after the
val loss turned), so the train–val gap of the final model decides overfitting; the epoch where
the val loss turned is reported for the curves' reader. Next steps are concrete
``dvc exp run -S ...`` commands.
"""

from __future__ import annotations

from typing import Any

from traincycle.baselines import simpler_model_note
from traincycle.models import family_module
from traincycle.models.base import main_metric

#: train-minus-val gap of the main metric above which the model overfits (roc_auc, accuracy)
MAX_GAP = 0.03
#: the same for regression, as (val rmse - train rmse) / val rmse
MAX_RELATIVE_GAP = 0.15
#: a train score below this is weak whatever the gap (roc_auc, accuracy, r2)
WEAK_TRAIN = {"roc_auc": 0.75, "accuracy": 0.6, "r2": 0.3}
#: fewer rows per feature than this is a warning for every family
MIN_ROWS_PER_FEATURE = 10


def val_turn(curves: list[dict[str, float]]) -> int | None:
    """Index where the val loss was lowest, if it rose by more than 1% afterwards."""
    losses = [row["val/loss"] for row in curves if "val/loss" in row]
    if len(losses) < 2:
        return None
    best = min(range(len(losses)), key=losses.__getitem__)
    return best if losses[-1] > losses[best] * 1.01 else None


def gap_of(task: str, train: dict[str, float], val: dict[str, float]) -> tuple[str, float, float]:
    """(metric, gap, limit): how much better train is than val, and the overfitting limit."""
    if task == "regression":
        return "rmse", (val["rmse"] - train["rmse"]) / max(val["rmse"], 1e-12), MAX_RELATIVE_GAP
    metric = "roc_auc" if task == "binary" else "accuracy"
    return metric, train[metric] - val[metric], MAX_GAP


def data_warning(family: str, n_train: int, n_features: int) -> str | None:
    """A warning when train is small for the family or for the number of features.

    More features than train rows (p >> n, e.g. gene expression) comes first: any flexible
    model can fit such data exactly, and a regularised linear model is the usual answer.
    """
    if n_features > n_train:
        return (
            f"{n_features} features for {n_train} train rows (p >> n): a regularised linear model "
            "suits it: dvc exp run -S train.model=logistic (smaller train.logistic.C = stronger)"
        )
    need = getattr(family_module(family), "MIN_TRAIN_ROWS", 0)
    if n_train < need:
        return f"only {n_train} train rows: {family} usually needs {need}+; expect noisy, unstable results"
    if n_train < MIN_ROWS_PER_FEATURE * n_features:
        return (
            f"{n_train} train rows for {n_features} features (< {MIN_ROWS_PER_FEATURE} per feature): "
            "raise featurize.rare_min_count or drop columns"
        )
    return None


def suggestions(verdict: str, family: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """A concrete `dvc exp run -S` command for the verdict, from the family's ``remedies`` hook."""
    remedies = getattr(family_module(family), "remedies", None)
    if verdict == "healthy" or remedies is None:
        return []
    return ["dvc exp run " + " ".join(f"-S {s}" for s in remedies(verdict, params, at_budget_end))]


def diagnose(
    family: str,
    task: str,
    curves: list[dict[str, float]],
    train: dict[str, float],
    val: dict[str, float],
    params: dict[str, Any],
    n_train: int,
    n_features: int,
    best_iteration: int | None,
    baseline_scores: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The fit verdict, its evidence and next steps, for reports/fit_diagnosis.json."""
    metric, gap, limit = gap_of(task, train, val)
    weak_key = "r2" if task == "regression" else metric
    weak = train.get(weak_key, 1.0) < WEAK_TRAIN[weak_key]
    budget = params.get("n_estimators") or params.get("epochs")
    at_budget_end = best_iteration is not None and budget is not None and best_iteration >= budget - 1
    if gap > limit:
        verdict = "overfitting"
    elif weak or (at_budget_end and gap < limit / 3):
        verdict = "underfitting"
    else:
        verdict = "healthy"
    turned = val_turn(curves)
    why = {
        "overfitting": f"train {metric} beats val by {gap:.3f} (limit {limit:g})",
        "underfitting": "train score is weak"
        if weak
        else "still improving when the iteration budget ran out",
        "healthy": f"train-val gap {gap:.3f} within {limit:g}",
    }[verdict]
    report = {
        "verdict": verdict,
        "reason": why,
        "metric": metric,
        "train": train.get(metric),
        "val": val.get(metric),
        "gap": gap,
        "gap_limit": limit,
        "best_iteration": best_iteration,
        "iterations": len(curves),
        "val_loss_turned_at": turned,
        "data_warning": data_warning(family, n_train, n_features),
        "next_steps": suggestions(verdict, family, params, at_budget_end),
    }
    simpler = simpler_model_note(task, family, main_metric(task), val, baseline_scores or {})
    report["simpler_model"] = simpler["finding"] if simpler else None
    if simpler:  # the cheapest next step comes first
        report["next_steps"] = [simpler["next_step"], *report["next_steps"]]
    return report


def summary_line(report: dict[str, Any]) -> str:
    """One console line: verdict, reason, first suggestion, data warning."""
    line = f"fit: {report['verdict']} ({report['reason']})"
    if report["val_loss_turned_at"] is not None:
        line += f"; val loss turned at iteration {report['val_loss_turned_at']}"
    if report.get("simpler_model"):
        line += f"; {report['simpler_model']}"
    if report["next_steps"]:
        line += f"; try: {report['next_steps'][0]}"
    if report["data_warning"]:
        line += f"; warning: {report['data_warning']}"
    return line
