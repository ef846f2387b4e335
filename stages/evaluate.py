"""evaluate: the one look at test — metrics with CIs, plots, fairness gate, errors, card, ledger."""

import datetime
import time
from pathlib import Path

import click

from traincycle.config import load_section, load_stage_config, read_params
from traincycle.cost import tracked
from traincycle.errors import report_errors
from traincycle.headline import write_reports
from traincycle.io import read_json, read_parquet, write_json, write_parquet, write_text
from traincycle.provenance import data_version


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--model", "model_dir", required=True, help="Model directory from train.")
@click.option("--featurizer-meta", required=True, help="featurizer.json (input columns).")
@click.option("--processed", required=True, help="Processed test Parquet (row_id, features, target).")
@click.option("--raw", required=True, help="Interim (raw) test Parquet, joined on row_id.")
@click.option("--history", multiple=True,
              help="Interim train and val Parquet (a time series' smoothing baseline is fitted on them).")
@click.option("--provenance", required=True, help="data/raw/provenance.json for the card.")
@click.option("--data-quality", default=None, help="reports/data_quality.json for the card, if any.")
@click.option("--metrics", "metrics_path", required=True, help="Headline test metric, CI, gap.")
@click.option("--details", "details_path", required=True, help="Full JSON report (reports/).")
@click.option("--plots-dir", required=True)
@click.option("--errors", "errors_path", required=True)
@click.option("--predictions", "predictions_path", required=True,
              help="Per-row test predictions (Parquet), for paired comparisons between revisions.")
@click.option("--slices", "slices_path", required=True)
@click.option("--importance", "importance_path", required=True)
@click.option("--card", "card_path", required=True)
@click.option("--ledger", "ledger_path", default=None,
              help="Test-set ledger (default: <git common dir>/traincycle/ledger.jsonl).")
@click.option("--timings", default=".traincycle/timings/evaluate.json", show_default=True)
@tracked("evaluate")
@report_errors
def main(params_path, model_dir, featurizer_meta, processed, raw, history, provenance, data_quality,
         metrics_path, details_path, plots_dir, errors_path, predictions_path, slices_path,
         importance_path, card_path, ledger_path, timings) -> None:
    start = time.perf_counter()
    import pandas as pd

    from traincycle import card, fairness, ledger
    from traincycle.evaluate import (
        EvaluateConfig,
        ProblemConfig,
        check_problem,
        evaluate,
        ledger_entry,
        write_plots,
    )
    from traincycle.models import load_model

    data, seed, cfg = load_stage_config(params_path, "evaluate", EvaluateConfig)
    problem = load_section(params_path, "problem", ProblemConfig)
    check_problem(problem, data.task, data.time is not None)
    model, meta = load_model(model_dir), read_json(featurizer_meta)
    # every input is read before the look at test, so a missing file never costs a ledger entry
    setup, record = read_json(Path(model_dir) / "model.json"), read_json(provenance)
    origin = {**record, **data_version(record, setup)}
    quality = read_json(data_quality) if data_quality and Path(data_quality).exists() else None
    raw_test = read_parquet(raw)
    past = pd.concat([read_parquet(p) for p in history], ignore_index=True) \
        if data.time is not None and history else None
    ev = evaluate(model, read_parquet(processed), raw_test, data, problem, cfg, seed, meta, processed, raw,
                  past)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = ledger_entry(raw_test, model_dir, read_params(params_path), ev.metrics, problem, now)
    for line in ledger.record(ledger_path or ledger.default_path(), entry, cfg.test_budget):
        click.echo(f"warning: {line}", err=True)
    if ev.gate["status"] == "warning":
        for line in ev.gate["findings"]:
            click.echo(f"warning: {line}", err=True)
    fairness.enforce(ev.gate)  # critical gate: exit 3 before any output is written
    text = card.render_card(read_section(params_path), ev.metrics, ev.gate, ev.slices, ev.importance,
                            setup, origin, quality, list(data.sensitive))
    write_plots(ev.plots, plots_dir, ev.files)
    write_parquet(ev.errors, errors_path)
    write_parquet(ev.predictions, predictions_path)
    write_json(ev.slices, slices_path)
    write_json(ev.importance, importance_path)
    write_text(text, card_path)
    write_reports("evaluate", ev.metrics, details_path, metrics_path)
    write_json({**ev.timings, "total": round(time.perf_counter() - start, 3)}, timings)
    head = ev.metrics["headline"]
    click.echo(f"evaluate: test {head['metric']} {head['value']:.4f} "
               f"[{head.get('low', float('nan')):.4f}, {head.get('high', float('nan')):.4f}]; "
               f"problem met: {ev.metrics['problem']['met']}; fairness gate: {ev.gate['status']}")


def read_section(params_path: str) -> dict:
    """The problem section as written (statement, metric, threshold) for the card."""
    return dict(read_params(params_path).get("problem") or {})


if __name__ == "__main__":
    main()
