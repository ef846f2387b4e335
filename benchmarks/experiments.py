"""Experiments: 4 queued experiments with `dvc queue start -j 2`, and 4 with `traincycle queue start
-j 2` (pinned workers, `n_jobs` 1), vs 4 `dvc exp run` one after another; `traincycle tune --jobs 2`
(pinned trials) vs `--jobs 1` on the same 4 random draws.

Both sets start from the same committed baseline in one temporary copy with shrunk params, and
each set uses its own parameter values so DVC's run cache cannot replay the other set's results.
The queued wall time runs from `dvc queue start` until the queue is empty; queueing itself is
timed apart. The two tune studies use the random sampler with the same seed, so they try the same
hyperparameters; with `--jobs 2` each trial runs on its own core with `n_jobs` 1.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml
from harness import copy_project, load_params, measure, table

PARAM = "train.xgboost.reg_lambda"
SEQUENTIAL = (1.1, 1.2, 1.3, 1.4)
QUEUED = (2.1, 2.2, 2.3, 2.4)
PINNED = (3.1, 3.2, 3.3, 3.4)
TUNE = {"tune": {"study": "jobs1", "trials": 4, "sampler": "random", "pruner": "none",
                 "metric": "metrics/train.json:val.roc_auc",
                 "space": {PARAM: {"type": "float", "low": 3.0, "high": 9.0}}}}


def shrunk_params(rows: int) -> dict:
    """Params small enough that one experiment takes seconds, not minutes."""
    params = load_params()
    params["ingest"]["max_rows"] = rows
    params["train"]["model"] = "xgboost"
    params["train"]["xgboost"].update(n_estimators=200, early_stopping_rounds=20)
    params["evaluate"].update(bootstrap=100, explain_rows=300, permutation_repeats=1, shap_rows=20)
    params["optimize"]["latency_rows"] = 5
    return params


def ok(cmd: list[str], repo: Path) -> float:
    """Run `cmd` in `repo`; return wall seconds, or stop with its output when it fails."""
    run = measure(cmd, repo)
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.output[-3000:]}")
    return run.seconds


def wait_for_queue(repo: Path, limit_s: float = 3600) -> str:
    """Poll `dvc queue status` until nothing is queued or running; return the last status."""
    deadline = time.monotonic() + limit_s
    while True:
        status = measure(["dvc", "queue", "status"], repo).output
        if not any(word in status for word in ("Queued", "Running")):
            return status
        if time.monotonic() > deadline:
            measure(["dvc", "queue", "stop", "--kill"], repo)
            raise SystemExit(f"queue did not finish in {limit_s:.0f} s:\n{status}")
        time.sleep(1)


def run_queue(repo: Path, start_cmd: list[str], succeeded: int) -> float:
    """Start the queue's workers; wall seconds until it is empty, with `succeeded` successes."""
    start = time.perf_counter()
    ok(start_cmd, repo)
    status = wait_for_queue(repo)
    seconds = time.perf_counter() - start
    if "Failed" in status or status.count("Success") < succeeded:
        raise SystemExit(f"a queued experiment did not succeed:\n{status}")
    return seconds


def main(quick: bool) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="tc-exps-") as tmp:
        repo = copy_project(Path(tmp) / "repo", shrunk_params(5000 if quick else 20000))
        ok(["dvc", "repro"], repo)
        git = ["git", "-c", "user.email=bench@local", "-c", "user.name=bench"]
        ok(["git", "add", "-A"], repo)
        ok([*git, "commit", "-qm", "baseline"], repo)
        sequential = sum(ok(["dvc", "exp", "run", "-S", f"{PARAM}={v}"], repo) for v in SEQUENTIAL)
        enqueue = sum(ok(["dvc", "exp", "run", "--queue", "-S", f"{PARAM}={v}"], repo) for v in QUEUED)
        queued = run_queue(repo, ["dvc", "queue", "start", "-j", "2"], len(QUEUED))
        # idle workers leave by themselves after 10 s; no `dvc queue stop` here: its shutdown
        # broadcast outlives workers that already left and stops the next ones after one task
        time.sleep(15)
        for v in PINNED:
            ok(["dvc", "exp", "run", "--queue", "-S", f"{PARAM}={v}", "-S", "train.xgboost.n_jobs=1"], repo)
        pinned = run_queue(repo, ["traincycle", "queue", "start", "-j", "2"], len(QUEUED) + len(PINNED))
        ok(["dvc", "queue", "stop"], repo)
        (repo / "tune.yaml").write_text(yaml.safe_dump(TUNE))
        ok(["git", "add", "tune.yaml"], repo)
        ok([*git, "commit", "-qm", "tune settings"], repo)
        tune1 = ok(["traincycle", "tune", "--study", "jobs1", "--jobs", "1"], repo)
        tune2 = ok(["traincycle", "tune", "--study", "jobs2", "--jobs", "2"], repo)
        # --all-commits: the queued experiments hang off the baseline commit, the trials off "tune settings"
        shown = measure(["dvc", "exp", "ls", "--all-commits", "--name-only"], repo).output.split()
    rows = [
        {"measure": "4 experiments: sequential `dvc exp run` (baseline)", "seconds": sequential,
         "per exp s": sequential / 4, "ratio": 1.0},
        {"measure": "4 experiments: `dvc queue start -j 2` (start to empty queue)", "seconds": queued,
         "per exp s": queued / 4, "ratio": queued / sequential},
        {"measure": "4 experiments: queue incl. `dvc exp run --queue` x4", "seconds": queued + enqueue,
         "per exp s": (queued + enqueue) / 4, "ratio": (queued + enqueue) / sequential},
        {"measure": "4 experiments: `traincycle queue start -j 2`, pinned, n_jobs 1", "seconds": pinned,
         "per exp s": pinned / 4, "ratio": pinned / sequential},
        {"measure": "tune, 4 trials: `--jobs 1` (baseline)", "seconds": tune1, "per exp s": tune1 / 4,
         "ratio": 1.0},
        {"measure": "tune, 4 trials: `--jobs 2`, pinned", "seconds": tune2, "per exp s": tune2 / 4,
         "ratio": tune2 / tune1},
    ]
    expected = len(SEQUENTIAL) + len(QUEUED) + len(PINNED) + 2 * TUNE["tune"]["trials"]
    if len(shown) < expected:
        raise SystemExit(f"{table(rows)}\nexpected {expected} experiments, found: {shown}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of 20,000")
    print(table(main(parser.parse_args().quick)))
