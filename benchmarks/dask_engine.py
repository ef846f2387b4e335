"""Training on Dask vs locally: synthetic Adult-like rows through featurize and train.

    python benchmarks/dask_engine.py [--sizes 1000000,5000000] [--rounds 100]

For each size: `traincycle synth`, then ingest → validate → split → featurize (single-process pandas, the same
for both engines), then the train stage twice on the same processed Parquet: `engine: local`
(xgboost, 2 threads in the stage process) and `engine: dask` on a 2-worker LocalCluster (worker
processes on 127.0.0.1, 1 thread each). A fixed number of rounds (no early stopping), so both do
the same work. Reported: wall seconds, peak RSS of the stage process, the largest peak RSS of one
Dask worker, and the sum of all processes' peaks; ratios dask/local are in the last columns. RSS
is sampled every 0.2 s over the whole process tree (psutil), so short spikes can be missed.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from harness import env, measure, stage_commands, synth_project, table

PREP = ("ingest", "validate", "split", "featurize")  # split reads what validate passed
CLUSTER = {"workers": 2, "threads_per_worker": 1}


def sample_tree(cmd: str, cwd: Path) -> tuple[float, dict[int, tuple[str, float]], int, str]:
    """Run `cmd`; return wall seconds, {pid: (role, peak MB)} over its process tree, rc, output."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(forkserver=False), shell=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, float]] = {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                rss = p.memory_info().rss / 2**20
                role = role_of(p.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if role and rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (role, rss)
        time.sleep(0.2)
    output = proc.stdout.read() if proc.stdout else ""
    return time.perf_counter() - start, peaks, proc.wait(), output


def role_of(cmdline: list[str]) -> str:
    """stage (the train script), worker (a Dask worker process), or '' (shells, nannies' helpers)."""
    text = " ".join(cmdline)
    if "stages/train.py" in text:
        return "stage"
    if "spawn_main" in text and "resource_tracker" not in text:
        return "worker"
    return ""


def prepare(rows: int, tmp: Path, rounds: int) -> tuple[Path, dict[str, str], dict[str, float]]:
    """A project copy with `rows` synthetic rows featurized; its stage commands; prep seconds."""
    repo, _data = synth_project(rows, tmp, rounds)
    commands = stage_commands(repo)
    seconds = {}
    for stage in PREP:
        run = measure(commands[stage], repo, forkserver=False)  # the stage's own process: its RSS, CPU
        if run.returncode:
            raise SystemExit(f"{stage} failed at {rows} rows:\n{run.output[-2000:]}")
        seconds[stage] = run.seconds
        print(f"  {rows:>10,} rows  {stage:<10} {run.seconds:8.1f} s  {run.peak_rss_mb:8.0f} MB", flush=True)
    return repo, commands, seconds


def train(repo: Path, command: str, engine: str) -> dict[str, float]:
    """Run the train stage with `engine`; wall seconds and peak MB per process role."""
    import yaml

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["engine"] = engine
    params["train"]["dask"] = {**params["train"].get("dask", {}), **CLUSTER}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    seconds, peaks, rc, output = sample_tree(command, repo)
    if rc:
        raise SystemExit(f"train ({engine}) failed:\n{output[-2000:]}")
    stage = max((mb for role, mb in peaks.values() if role == "stage"), default=0.0)
    workers = [mb for role, mb in peaks.values() if role == "worker"]
    line = next((x for x in output.splitlines() if x.startswith("train: ")), "")
    print(f"    {engine:<6} {seconds:8.1f} s  stage {stage:8.0f} MB  worker max "
          f"{max(workers, default=0):8.0f} MB  ({line})", flush=True)
    return {"seconds": seconds, "stage_mb": stage, "worker_mb": max(workers, default=0.0),
            "total_mb": stage + sum(workers)}


def main(sizes: list[int], rounds: int) -> list[dict[str, object]]:
    out = []
    with tempfile.TemporaryDirectory(prefix="tc-dask-") as tmp:
        for rows in sizes:
            repo, commands, prep = prepare(rows, Path(tmp), rounds)
            local = train(repo, commands["train"], "local")
            dask = train(repo, commands["train"], "dask")
            out.append({
                "rows": f"{rows:,}", "featurize s": prep["featurize"],
                "local s": local["seconds"], "dask s": dask["seconds"],
                "local stage MB": local["stage_mb"], "dask stage MB": dask["stage_mb"],
                "dask worker MB (max)": dask["worker_mb"], "dask all MB": dask["total_mb"],
                "time dask/local": dask["seconds"] / local["seconds"],
                "largest process dask/local": max(dask["stage_mb"], dask["worker_mb"]) / local["stage_mb"],
            })
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200000,1000000")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    print(table(main([int(s) for s in args.sizes.split(",")], args.rounds)))
