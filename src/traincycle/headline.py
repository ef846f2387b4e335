"""Headline numbers: the few figures per stage that `dvc exp show` and `dvc metrics diff` compare.

Every stage builds one full report (per group, per class, per variant, CIs of every metric...).
The full report goes to ``reports/<stage>.json`` (a committed, cache-less DVC output that
`traincycle report` and the model card read); the headline picked from it goes to
``metrics/<stage>.json``. Kept small on purpose: DVC shows every metric leaf as a column, and a
few hundred of them make `dvc exp show` unreadable at any terminal width. All stages together
stay under ``MAX_LEAVES``; a test holds that line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: metric leaves over all metrics/*.json of one pipeline run
MAX_LEAVES = 25


def _validate(report: Mapping[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("rows", "failed_critical", "failed_warning")}


def _split(report: Mapping[str, Any]) -> dict[str, Any]:
    return {"rows": dict(report["rows"])}


def _featurize(report: Mapping[str, Any]) -> dict[str, Any]:
    return {"n_features": report["n_features"], "label_issues": report["label_issues_found"]}


def _train(report: Mapping[str, Any]) -> dict[str, Any]:
    out = {"model": report["model"], "val": {report["metric"]: report["val"][report["metric"]]}}
    if "baselines" in report:  # val scores of the trivial and the simple model
        out["baselines"] = {name: b[report["metric"]] for name, b in report["baselines"].items()}
    if report.get("best_iteration") is not None:
        out["best_iteration"] = report["best_iteration"]
    if "cv" in report:  # time series: mean over the expanding-window folds (a tune metric)
        out["cv"] = {report["metric"]: report["cv"]["mean"]}
    return out


def _evaluate(report: Mapping[str, Any]) -> dict[str, Any]:
    head = report["headline"]
    name = head["metric"]
    test = {name: head["value"]}
    test.update({f"{name}_{bound}": head[bound] for bound in ("low", "high") if bound in head})
    out: dict[str, Any] = {"test": test}
    if report["problem"].get("met") is not None:
        out["problem_met"] = report["problem"]["met"]
    gaps = [v for col in report.get("fairness", {}).values() if isinstance(col, Mapping)
            for k, v in col.items() if k.endswith("_difference") and v is not None]
    if "baselines" in report:  # time series: error removed vs the best naive forecast (share)
        out["vs_best_baseline"] = report["baselines"]["vs_best_baseline"]
    if gaps:
        out["fairness_gap"] = max(gaps)  # the worst parity gap over every column and intersection
    return out


def _optimize(report: Mapping[str, Any]) -> dict[str, Any]:
    chosen = report["variants"][report["chosen"]]
    return {"chosen": report["chosen"], "size_vs_float": chosen["size_vs_float"],
            "metric_delta": report["chosen_metric_delta"]}


#: stage name -> headline of its report (latency is wall clock: never here, see .traincycle/)
PICKERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "validate": _validate, "split": _split, "featurize": _featurize, "train": _train,
    "evaluate": _evaluate, "optimize": _optimize,
}


def pick(stage: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers of `stage`'s full report."""
    return PICKERS[stage](report)


def count_leaves(doc: Any) -> int:
    """Scalar leaves of a metrics document, as `dvc exp show` counts columns."""
    if isinstance(doc, Mapping):
        return sum(count_leaves(v) for v in doc.values())
    if isinstance(doc, list):
        return sum(count_leaves(v) for v in doc)
    return 1


def write_reports(stage: str, report: Mapping[str, Any], report_path: str | Path,
                  metrics_path: str | Path) -> None:
    """Write the full report and its headline (each atomically; the report first)."""
    from traincycle.io import write_json

    write_json(report, report_path)
    write_json(pick(stage, report), metrics_path)
