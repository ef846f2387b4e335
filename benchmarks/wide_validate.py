"""Benchmark: the validate gate on wide tables, bulk column profile vs one GX expectation per check.

    PYTHONPATH=src python benchmarks/wide_validate.py [--rows 83] [--baseline 25,50,100] \
        [--widths 100,2308,10000]

Both paths run in this process on seeded synthetic float tables (`traincycle synth --wide`);
the baseline (`run_checks` on every check: one GX expectation per column per check, what the
gate did before the column profile) only at small widths because it grows quadratically. Prints
seconds, seconds per column and each width's cost per column relative to the narrowest (1.0 =
linear in columns); the baseline's growth is extrapolated to the widest width, not run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from harness import table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from traincycle.config import DataConfig  # noqa: E402
from traincycle.schema import infer_schema  # noqa: E402
from traincycle.synth import wide_frame  # noqa: E402
from traincycle.validate import DATA_BATCH, evaluate_checks, run_checks, schema_checks  # noqa: E402

DATA = DataConfig(target="label", task="multiclass", sensitive=())


def seconds(fn, rows: int, cols: int) -> tuple[float, int]:
    """Seconds of `fn(checks, batches)` on a rows x cols wide table with its inferred schema."""
    df = wide_frame(rows, cols)
    schema, _ = infer_schema(df, target=DATA.target)
    checks = schema_checks(schema, df.columns)
    start = time.perf_counter()
    fn(checks, {DATA_BATCH: df})
    return time.perf_counter() - start, len(checks)


def series(name: str, fn, rows: int, widths: list[int]) -> list[dict[str, object]]:
    out, first = [], None
    for cols in widths:
        took, checks = seconds(fn, rows, cols)
        per_column = took / cols
        first = first or per_column
        out.append({"path": name, "columns": cols, "checks": checks, "seconds": took,
                    "ms per column": per_column * 1000, "cost per column vs narrowest": per_column / first})
        print(f"  {name:<28} {cols:>6} columns {took:8.2f} s", flush=True)
    return out


def main(rows: int, baseline: list[int], widths: list[int]) -> list[dict[str, object]]:
    import great_expectations  # noqa: F401  - imported once, outside the timings

    old = series("one GX expectation per check", run_checks, rows, baseline)
    new = series("column profile (validate)", evaluate_checks, rows, widths)
    # per-column growth of the baseline: cost(c) ~ c^k, k from the first and last baseline widths
    (a, b) = old[0], old[-1]
    k = math.log(b["seconds"] / a["seconds"]) / math.log(b["columns"] / a["columns"])
    widest = widths[-1]
    projected = b["seconds"] * (widest / b["columns"]) ** k
    measured = next(r["seconds"] for r in new if r["columns"] == widest)
    summary = {"path": f"baseline projected to {widest} columns (cost ~ columns^{k:.2f})", "columns": widest,
               "checks": new[-1]["checks"], "seconds": projected, "ms per column": projected / widest * 1000,
               "cost per column vs narrowest": projected / measured}
    return [*old, *new, summary]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=83)
    parser.add_argument("--baseline", default="25,50,100")
    parser.add_argument("--widths", default="100,2308,10000")
    args = parser.parse_args()
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    print(table(main(args.rows, ints(args.baseline), ints(args.widths))))
