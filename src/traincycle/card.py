"""The model card: a Markdown page generated from the run's own records, nothing typed by hand.

Deterministic (no dates, hosts or absolute paths) so it is a reproducible DVC output, and plain
GitHub-flavoured Markdown so it reads well on a git host.
"""

from __future__ import annotations

from typing import Any

LIMITATIONS = (
    "Scores come from one held-out test split; the interval reflects resampling of that split, "
    "not a shift in the population the model is used on.",
    "Group metrics for small groups are noisy; groups under the minimum size are shown but not "
    "judged by the fairness gate.",
    "Permutation importance and SHAP describe what the model uses, not causal effects.",
)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v, digits)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|")

    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
    ]


def render_card(
    problem: dict[str, Any], metrics: dict[str, Any], gate: dict[str, Any],
    slices: dict[str, Any], importance: dict[str, Any], model: dict[str, Any],
    provenance: dict[str, Any] | None, quality: dict[str, Any] | None, sensitive: list[str],
) -> str:
    """Render reports/model_card.md from the run's records.

    Args:
        problem: the problem params (statement, metric, threshold).
        metrics: reports/evaluate.json content (the full evaluation report).
        gate: the fairness gate result (status, findings, limits).
        slices: reports/slices.json content.
        importance: reports/importance.json content.
        model: models/model/model.json content (training setup).
        provenance: data/raw/provenance.json content, if present.
        quality: reports/data_quality.json content, if present.
        sensitive: the sensitive columns (data.sensitive).
    """
    head = metrics["headline"]
    out = [f"# Model card: {model.get('family', 'model')} ({metrics['task']})", ""]
    out += ["## Intended use", "", problem.get("statement") or "(no problem statement in params)", ""]
    threshold = (
        f"at least {problem['at_least']}" if problem.get("at_least") is not None
        else f"at most {problem['at_most']}" if problem.get("at_most") is not None else "no threshold"
    )
    if problem.get("beat_baseline_by") is not None:  # time series: the naive/smoothing forecasts
        beat = f"{problem['beat_baseline_by'] * 100:g}% better than the best baseline forecast"
        threshold = beat if threshold == "no threshold" else f"{threshold} and {beat}"
    met = metrics["problem"]["met"]
    verdict = "not set" if met is None else ("**met**" if met else "**not met**")
    out += [f"Success criterion: `{head['metric']}` {threshold} — {verdict} "
            f"(test {head['metric']} = {_fmt(head['value'])}"
            + (f", {int(metrics['ci']['level'] * 100)}% CI {_fmt(head.get('low'))}–{_fmt(head.get('high'))})"
               if "low" in head else ")"), ""]

    out += ["## Data", ""]
    if provenance:
        keep = [k for k in ("source", "sha256", "source_sha256", "raw_sha256", "params_sha256", "rows",
                            "columns", "license", "citation") if k in provenance]
        out += [*_table(["field", "value"], [[k, provenance[k]] for k in keep]), ""]
    else:
        out += ["No provenance record was found.", ""]
    if quality:
        scalars = [[k, v] for k, v in quality.items() if isinstance(v, bool | int | float | str)]
        out += ["Validation summary (reports/data_quality.json):", ""]
        out += [*_table(["check", "value"], scalars), ""]
    out += [f"Test rows evaluated: {metrics['rows']}. Sensitive columns: "
            f"{', '.join(sensitive) if sensitive else 'none declared'}.", ""]

    out += ["## Training setup", ""]
    setup = [[k, v] for k, v in model.items()
             if k not in ("params", "feature_names", "classes", "params_sha256")  # params_sha256: under Data
             and isinstance(v, bool | int | float | str)]
    setup.append(["features", len(model.get("feature_names", []))])
    if model.get("classes"):
        setup.append(["classes", ", ".join(map(str, model["classes"]))])
    out += [*_table(["field", "value"], setup), ""]
    params = model.get("params") or {}
    if params:
        out += ["Hyper-parameters: " + ", ".join(f"`{k}={v}`" for k, v in params.items()), ""]

    out += ["## Metrics (test split)", ""]
    ci = metrics.get("ci", {})
    rows = [[name, value, ci.get(name, {}).get("low"), ci.get(name, {}).get("high")]
            for name, value in metrics["metrics"].items()]
    out += [*_table(["metric", "value", "CI low", "CI high"], rows), ""]
    if metrics.get("per_class"):
        rows = [[label, s["precision"], s["recall"], s["f1"], int(s["support"])]
                for label, s in metrics["per_class"].items()]
        out += [*_table(["class", "precision", "recall", "F1", "support"], rows), ""]

    out += ["## Groups and fairness", ""]
    for col, groups in metrics.get("per_group", {}).items():
        names = [k for k in next(iter(groups.values()), {}) if k != "count"]
        rows = [[g, scores["count"], *(scores[k] for k in names)] for g, scores in groups.items()]
        out += [f"**{col}**", "", *_table(["group", "rows", *names], rows), ""]
        fair = metrics.get("fairness", {}).get(col, {})
        gaps = ", ".join(f"{k.replace('_', ' ')} {_fmt(v, 3)}" for k, v in fair.items()
                         if k.endswith("_difference"))
        if gaps:
            out += [f"{gaps} (over {fair.get('groups_judged', 0)} groups large enough to judge)", ""]
    out += [f"Fairness gate: **{gate['status']}** (severity {gate.get('severity')}"
            + (f"; limits: demographic parity {gate['max_dp_difference']:g}, equalized odds "
               f"{gate['max_eo_difference']:g}" if "max_dp_difference" in gate else "") + ")", ""]
    out += [f"- {line}" for line in gate.get("findings", [])]
    if gate.get("findings"):
        out.append("")

    out += ["## Known limitations", ""]
    out += [f"- {line}" for line in LIMITATIONS]
    for worst in slices.get("worst", []):
        out.append(
            f"- Weak slice: `{worst['feature']}` = {worst['slice']} ({worst['rows']} rows): "
            f"{slices['metric']} {_fmt(worst[slices['metric']])} vs {_fmt(slices['overall'])} overall."
        )
    out.append("")
    perm = importance.get("permutation", {}).get("importance", {})
    if perm:
        top = list(perm.items())[:10]
        out += ["## What the model relies on", "",
                f"Permutation importance (drop in {importance['permutation']['metric']} when a "
                "column is shuffled):", ""]
        shap = importance.get("shap", {}).get("mean_abs", {})
        rows = [[k, v["mean"], v["std"], shap.get(k)] for k, v in top]
        out += [*_table(["column", "importance", "std", "mean abs SHAP"], rows), ""]
    return "\n".join(out).rstrip() + "\n"
