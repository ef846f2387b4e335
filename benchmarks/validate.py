"""Benchmark: the validate gate (GX 1.x) on 1M resampled Adult rows vs plain pandas doing the same checks.

    PYTHONPATH=src python benchmarks/validate.py [--rows 1000000] [--repeat 3]

Prints the seconds of each and their ratio (a table); both are measured in the same run, after GX is imported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from traincycle.bias import summarize_groups  # noqa: E402
from traincycle.config import DataConfig, load_section  # noqa: E402
from traincycle.ingest import IngestConfig, ingest  # noqa: E402
from traincycle.schema import load_schema  # noqa: E402
from traincycle.validate import ValidateConfig, validate_frame  # noqa: E402


def resample(rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows drawn with replacement from the built-in Adult data (seeded)."""
    df, _ = ingest(DataConfig(), IngestConfig())
    picks = np.random.default_rng(seed).integers(0, len(df), rows)
    return df.iloc[picks].reset_index(drop=True)


def pandas_checks(df: pd.DataFrame, schema, data: DataConfig) -> dict[str, bool]:
    """The same checks as the validate stage, in plain pandas (the baseline)."""
    out = {"columns": set(df.columns) == set(schema.columns)}
    for name, col in schema.columns.items():
        s = df[name]
        out[f"nulls:{name}"] = s.isna().mean() <= col.max_null_share
        if col.min is not None or col.max is not None:
            present = s.dropna()
            out[f"range:{name}"] = bool(present.between(col.min, col.max).all())
        if col.dtype == "float":
            out[f"finite:{name}"] = bool(np.isfinite(s.dropna()).all())
        if col.values is not None:
            out[f"values:{name}"] = bool(s.dropna().isin(col.values).all())
    labels = set(df[schema.target].dropna().astype("string").unique())
    out["labels"] = labels == set(schema.labels)
    for col in data.sensitive:
        summary = summarize_groups(df, col, schema.target, data.positive_label)
        out[f"bias:{col}"] = bool((summary["row_share"] >= 0.005).all())
    return out


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(rows: int, repeat: int) -> list[dict[str, object]]:
    """GX validate_frame vs the same checks in plain pandas on `rows` resampled Adult rows."""
    data = DataConfig(positive_label=">50K", sensitive=("sex", "race"))
    cfg = load_section(ROOT / "params.yaml", "validate", ValidateConfig)
    schema = load_schema(ROOT / "schema.yaml")
    df = resample(rows, seed=0)
    start = time.perf_counter()
    import great_expectations  # noqa: F401  - import cost shown apart from the checks

    gx_import = time.perf_counter() - start
    outcomes, _ = validate_frame(df, schema, data, cfg)  # warm-up
    gx_s = timed(lambda: validate_frame(df, schema, data, cfg), repeat)
    pd_s = timed(lambda: pandas_checks(df, schema, data), repeat)
    label = f"{len(df):,} rows, {len(outcomes)} expectations"
    return [
        {"measure": f"plain pandas checks ({label}) (baseline)", "seconds": pd_s, "ratio": 1.0},
        {"measure": f"GX validate_frame ({label})", "seconds": gx_s, "ratio": gx_s / pd_s},
        {"measure": "great_expectations import (once per stage run)", "seconds": gx_import,
         "ratio": gx_import / pd_s},
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(table(main(args.rows, args.repeat)))
