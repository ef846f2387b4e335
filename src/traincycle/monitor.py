"""`traincycle monitor`: how far new rows have moved from the training split.

CURRENT is read the way predict reads it (the manifest's parsing), scored by the shipped model,
and compared column by column with a seeded sample of the raw training split
(:mod:`traincycle.drift`), plus the score distribution (prediction drift) and the share of rows
predict would flag as unknown or out of range. CURRENT may also be `traincycle predict`'s own
output (label, probabilities, flags): then the scores and flags are compared, which is how the
flagged share is watched over time. Writes ``drift.json`` and an offline ``drift.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.drift import MonitorConfig, categorical_drift, judge, numeric_drift
from traincycle.errors import DataError
from traincycle.inputs import FLAG_RANGE, FLAG_SEPARATOR, FLAG_UNKNOWN, PredictConfig

#: predict's policy while monitoring: score everything, absent columns included
SCORE_ALL = PredictConfig(unknown="flag", missing_columns="impute")


def read_current(path: str | Path, pred: Any) -> pd.DataFrame:
    """All rows of CURRENT: raw rows parsed as ingest parsed the source, or predict's output
    read as predict wrote it."""
    from traincycle.predict import check_input, read_batches

    path = check_input(path)
    if is_scored(_header(path), pred):
        df = (pd.read_parquet(path) if path.suffix.lower() == ".parquet"
              else pd.read_csv(path, keep_default_na=False, dtype={"flags": str}))
        frames = [df]
    else:
        frames = [b for b in read_batches(path, pred) if not b.empty]
    if not frames or frames[0].empty:
        raise DataError(f"{path}: the file has no rows to compare")
    return pd.concat(frames, ignore_index=True)


def _header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".parquet":
            return list(pq.read_schema(path).names)
        return list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError):
        return []  # read_batches explains what is wrong with the file


def is_scored(columns: Any, pred: Any) -> bool:
    """Whether a table with these columns is predict's output (scores and flags, no inputs)."""
    return "flags" in columns and not any(s.name in columns for s in pred.specs)


def compare(current: pd.DataFrame, reference: pd.DataFrame, pred: Any, cfg: MonitorConfig,
            where: str = "current") -> dict[str, Any]:
    """The drift report: per column, predictions, flags, and the list of drifted items."""
    from traincycle.gxdrift import kl_divergences
    from traincycle.inputs import frame_columns, screen

    specs = pred.specs
    ref_cols = frame_columns(reference, specs, where="reference")
    ref_scores = pred.scores(screen(ref_cols, specs, SCORE_ALL, len(reference)))
    report: dict[str, Any] = {"rows": {"reference": len(reference), "current": len(current)},
                              "columns": {}}
    if is_scored(list(current.columns), pred):
        cur_scores = scores_from_output(current, pred)
        flags = current["flags"].fillna("").astype(str).tolist()
        report["input"] = "predict output (scores and flags)"
    else:
        cur_cols = frame_columns(current, specs, where=where)
        kl = kl_divergences(ref_cols, cur_cols, specs, cfg.kl, cfg.bins)
        for spec in specs:
            if spec.name not in cur_cols:
                report["columns"][spec.name] = {"kind": spec.kind, "absent": True,
                                                "severity": "critical"}
                continue
            if spec.kind == "text":  # free text: every value distinct, no distribution to compare
                continue
            drift = categorical_drift if spec.is_categorical else numeric_drift
            args = () if spec.is_categorical else (cfg.bins,)
            figures = drift(ref_cols[spec.name], cur_cols[spec.name], *args)
            if spec.name in kl:
                figures["kl"] = kl[spec.name]
            figures["severity"] = judge(figures, cfg)
            report["columns"][spec.name] = figures
        screened = screen(cur_cols, specs, SCORE_ALL, len(current))
        cur_scores, flags = pred.scores(screened), screened.flags
        report["input"] = "raw rows"
    report["prediction"] = prediction_drift(ref_scores, cur_scores, pred, cfg)
    report["flags"] = flag_shares(flags, cfg)
    report["drifted"] = sorted(
        [name for name, f in report["columns"].items() if f["severity"] == "critical"]
        + (["prediction"] if report["prediction"]["severity"] == "critical" else [])
        + (["flags"] if report["flags"]["severity"] == "critical" else []))
    report["thresholds"] = {k: getattr(cfg, k) for k in ("psi", "warn_psi", "ks", "cramers_v",
                                                         "p_value", "kl", "max_flagged_share")}
    return report


def scores_from_output(df: pd.DataFrame, pred: Any) -> np.ndarray:
    """The score matrix of predict's output (proba_<class> columns, or prediction)."""
    if pred.manifest["task"] == "regression":
        return df[["prediction"]].to_numpy(dtype=np.float64)
    columns = [f"proba_{c}" for c in pred.classes]
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise DataError(f"predict output: column {absent[0]!r} is missing")
    return df[columns].to_numpy(dtype=np.float64)


def prediction_drift(reference: np.ndarray, current: np.ndarray, pred: Any,
                     cfg: MonitorConfig) -> dict[str, Any]:
    """Score drift: the positive class's probability (binary), the predicted label (multiclass),
    or the prediction (regression)."""
    task = pred.manifest["task"]
    if task == "multiclass":
        classes = np.array(pred.classes, dtype=object)
        figures = categorical_drift(classes[reference.argmax(axis=1)], classes[current.argmax(axis=1)])
        figures["of"] = "predicted label"
    else:
        column = -1 if task == "binary" else 0
        figures = numeric_drift(reference[:, column].astype(np.float64),
                                current[:, column].astype(np.float64), cfg.bins)
        figures["of"] = f"probability of {pred.classes[-1]!r}" if task == "binary" else "prediction"
    figures["severity"] = judge(figures, cfg)
    return figures


def flag_shares(flags: list[str], cfg: MonitorConfig) -> dict[str, Any]:
    """Share of rows per flag kind; critical when unknown/out-of-range rows pass the limit."""
    n = max(len(flags), 1)
    kinds: dict[str, int] = {}
    unusual = 0
    for row in flags:
        seen = {f.split(":", 1)[0] for f in row.split(FLAG_SEPARATOR) if f}
        for kind in seen:
            kinds[kind] = kinds.get(kind, 0) + 1
        unusual += bool(seen & {FLAG_UNKNOWN, FLAG_RANGE})
    share = unusual / n
    return {"shares": {k: v / n for k, v in sorted(kinds.items())}, "unknown_or_out_of_range": share,
            "severity": "critical" if share > cfg.max_flagged_share else "ok"}


def reference_sample(path: str | Path, cfg: MonitorConfig, seed: int) -> pd.DataFrame:
    """A seeded sample of the raw training split."""
    from traincycle.io import read_parquet

    df = read_parquet(path)
    if cfg.max_reference_rows and len(df) > cfg.max_reference_rows:
        df = df.sample(cfg.max_reference_rows, random_state=seed).reset_index(drop=True)
    return df


def run_monitor(current_path: str | Path, model_dir: str | Path, reference_path: str | Path,
                out_dir: str | Path, cfg: MonitorConfig, seed: int) -> dict[str, Any]:
    """Compare, write DIR/drift.json and DIR/drift.html; raise GateFailed naming drifted items."""
    from traincycle.driftreport import render
    from traincycle.errors import GateFailed
    from traincycle.io import write_json, write_text
    from traincycle.predict import load_predictor

    pred = load_predictor(model_dir)
    current = read_current(current_path, pred)
    report = compare(current, reference_sample(reference_path, cfg, seed), pred, cfg, str(current_path))
    report.update({"current": str(current_path), "reference": str(reference_path),
                   "model_version": pred.version})
    out_dir = Path(out_dir)
    write_json(report, out_dir / "drift.json")
    write_text(render(report), out_dir / "drift.html")
    if report["drifted"]:
        raise GateFailed(f"monitor: drift over params monitor thresholds in {describe(report)}; "
                         f"see {out_dir / 'drift.html'}")
    return report


def describe(report: dict[str, Any]) -> str:
    """'age (psi 0.31), flags (unknown/out of range 12.0%)': the drifted items in one line."""
    parts = []
    for name in report["drifted"]:
        if name == "flags":
            parts.append(f"flags (unknown/out of range {report['flags']['unknown_or_out_of_range']:.1%})")
            continue
        f = report["prediction"] if name == "prediction" else report["columns"][name]
        parts.append(f"{name} (absent)" if f.get("absent") else f"{name} (psi {f['psi']:.3f})")
    return ", ".join(parts)
