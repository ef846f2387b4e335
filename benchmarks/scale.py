"""Scale: ingest → validate → split → featurize → train (xgboost) on synthetic Adult-like data.

Prints wall and CPU seconds and peak RSS per stage at each size, and each stage's growth factor
per 10x rows (10 = linear; CPU seconds are the steadier figure on a loaded machine).
Goals: linear growth, 10M rows within 24 GiB, validate <= 60 s at 10M.
Train runs a fixed 100 xgboost rounds (no early stopping); featurize's label scan keeps its
params default (K-fold fits on a seeded sample of `featurize.label_scan.max_rows` rows).
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from harness import measure, stage_commands, synth_project, table

STAGES = ("ingest", "validate", "split", "featurize", "train")
ROUNDS = 100


def run_size(rows: int, tmp: Path, stages: tuple[str, ...] = STAGES) -> dict[str, tuple[float, float, float]]:
    """Wall seconds, peak RSS (MB) and CPU seconds per stage for `rows` synthetic rows."""
    repo, _data = synth_project(rows, tmp, ROUNDS)
    commands = stage_commands(repo)
    out = {}
    for stage in (s for s in STAGES if s in commands and s in stages):
        run = measure(commands[stage], repo, forkserver=False)  # the stage's own process: its RSS, CPU
        if run.returncode:
            raise SystemExit(f"{stage} failed at {rows} rows:\n{run.output[-2000:]}")
        out[stage] = (run.seconds, run.peak_rss_mb, run.cpu_seconds)
        print(f"  {rows:>10,} rows  {stage:<10} {run.seconds:8.1f} s  {run.cpu_seconds:8.1f} cpu s  "
              f"{run.peak_rss_mb:8.0f} MB", flush=True)
    return out


def main(sizes: list[int], stages: tuple[str, ...] = STAGES) -> list[dict[str, object]]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="tc-scale-") as tmp:
        for rows in sizes:
            results[rows] = run_size(rows, Path(tmp), stages)
            print(f"  {rows:>10,} rows done", flush=True)
    out = []
    for stage in STAGES:
        row: dict[str, object] = {"stage": stage}
        for rows in sizes:
            if stage in results[rows]:
                seconds, rss, cpu = results[rows][stage]
                row[f"{rows:,} s"] = seconds
                row[f"{rows:,} cpu s"] = cpu
                row[f"{rows:,} MB"] = rss
        if len(sizes) > 1 and stage in results[sizes[-1]]:
            decades = max(1e-9, math.log10(sizes[-1] / sizes[0]))
            for name, i in (("wall", 0), ("cpu", 2)):
                first, last = results[sizes[0]][stage][i], results[sizes[-1]][stage][i]
                row[f"{name} growth per 10x"] = (last / max(first, 1e-9)) ** (1 / decades)
        if len(row) > 1:
            out.append(row)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--quick", action="store_true", help="20k and 200k rows only")
    parser.add_argument("--stages", default=",".join(STAGES), help="the first stages to run")
    args = parser.parse_args()
    sizes = [20_000, 200_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(table(main(sizes, tuple(args.stages.split(",")))))
