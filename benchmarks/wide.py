"""Wide tables: every stage on seeded synthetic float tables, cost per column at two widths.

    python benchmarks/wide.py [--shapes 100x10000,100000x1000] [--quick] [--model logistic] [--keep DIR]

For each shape ROWSxCOLS the pipeline (schema infer, then ingest ... optimize) runs twice in a
fresh project copy: at COLS/4 and at COLS columns, same rows. Prints wall and CPU seconds and
peak RSS per stage at both widths, and the CPU cost per column at full width relative to the
quarter width: 1.0 = linear in columns, 4.0 = quadratic (the ratio against a baseline measured
in the same run). --quick runs 100x2000 and 10000x200. --keep DIR leaves the projects in DIR
(e.g. to time `benchmarks/serve.py --model DIR/repo-100x10000/models/optimized`).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

from harness import copy_project, load_params, measure, stage_commands, table

STAGES = ("schema", "ingest", "validate", "split", "featurize", "train", "evaluate", "optimize")


def run_width(rows: int, cols: int, model: str, tmp: Path) -> dict[str, tuple[float, float, float]]:
    """(wall s, peak MB, CPU s) per stage for a rows x cols wide table."""
    data = tmp / f"wide-{rows}x{cols}.parquet"
    gen = measure(f"traincycle synth --wide --rows {rows} --cols {cols} --seed 0 -o {data}", tmp)
    if gen.returncode:
        raise SystemExit(gen.output)
    params = load_params()
    params["data"] = {**params["data"], "source": str(data), "target": "label",
                      "task": "multiclass", "positive_label": None, "sensitive": []}
    params["problem"].update(metric="accuracy", at_least=0.5)
    params["train"]["model"] = model
    params["featurize"]["label_scan"]["max_rows"] = 20_000
    repo = copy_project(tmp / f"repo-{rows}x{cols}", params, watch=str(data))
    commands = {"schema": f"traincycle schema infer {data} -o schema.yaml --target label",
                **stage_commands(repo)}
    out = {}
    for stage in STAGES:
        run = measure(commands[stage], repo, forkserver=False)  # the stage's own process: its RSS, CPU
        if run.returncode:
            raise SystemExit(f"{stage} failed at {rows}x{cols}:\n{run.output[-2000:]}")
        out[stage] = (run.seconds, run.peak_rss_mb, run.cpu_seconds)
        print(f"  {rows:>7,} x {cols:>6,}  {stage:<10} {run.seconds:8.1f} s  {run.cpu_seconds:8.1f} cpu s  "
              f"{run.peak_rss_mb:8.0f} MB", flush=True)
    return out


def main(shapes: list[tuple[int, int]], model: str, keep: Path | None = None) -> list[dict[str, object]]:
    rows_out = []
    folder = contextlib.nullcontext(str(keep)) if keep else tempfile.TemporaryDirectory(prefix="tc-wide-")
    with folder as tmp:
        for rows, cols in shapes:
            narrow, wide = max(1, cols // 4), cols
            first = run_width(rows, narrow, model, Path(tmp))
            last = run_width(rows, wide, model, Path(tmp))
            for stage in STAGES:
                (s1, _, c1), (s2, m2, c2) = first[stage], last[stage]
                rows_out.append({
                    "shape": f"{rows:,} rows", "stage": stage,
                    f"{narrow:,} cols s": s1, f"{wide:,} cols s": s2, "cpu s": c2, "peak MB": m2,
                    "cpu per column vs 1/4 width": (c2 / wide) / max(c1 / narrow, 1e-9),
                })
    return rows_out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="100x10000,100000x1000")
    parser.add_argument("--quick", action="store_true", help="100x2000 and 10000x200")
    parser.add_argument("--model", default="logistic", help="train.model (p >> n wants a linear model)")
    parser.add_argument("--keep", type=Path, help="run in this folder and leave the projects there")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    text = "100x2000,10000x200" if args.quick else args.shapes
    shapes = [tuple(int(v) for v in s.split("x")) for s in text.split(",")]
    results = main(shapes, args.model, args.keep)
    for shape in dict.fromkeys(r["shape"] for r in results):
        print(table([{k: v for k, v in r.items() if k != "shape"} for r in results if r["shape"] == shape]))
