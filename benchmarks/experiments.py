"""Experiments: 4 queued experiments with `dvc queue start -j 2`, and 4 with `traincycle queue start
-j 2` (pinned workers, `n_jobs` 1), vs 4 `dvc exp run` one after another; `traincycle tune --jobs 2`
(pinned trials) vs `--jobs 1` on the same 4 param values.

Both sets start from the same committed baseline in one temporary copy with shrunk params, and
each set uses its own parameter values so DVC's run cache cannot replay the other set's results.
The queued wall time runs from `dvc queue start` until the last queued experiment's task has
ended, read from the queue's result files; before, it also held the workers' 10 s idle exit
(the start command's output pipe stayed open in DVC's worker daemons) and a last `dvc queue
status` (about 2 s). Queueing itself is timed apart. A queue's CPU seconds are the start command's
plus each worker's, the experiments it ran included, plus the fork servers' (the stages they
forked: traincycle.forkserver). The two tune studies walk the same 4-value
grid, so they train the same hyperparameters; with `--jobs 2` each trial runs on its own core
with `n_jobs` 1. CPU seconds (user + system of every process, children included) are shown
beside the wall time: they change far less with other load on the machine.

The queue rows also give the queue's start-up: seconds from the start command's launch until
the workers have picked up their first experiments (the later worker), read from the workers'
logs. With ``--against REV`` the pinned queue also runs from that git revision's code (its
`traincycle queue start`, on its own 4 param values, just before this tree's), so a change's
before and after share one run and one load:

    python experiments.py --quick --part queue --against main
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from harness import ROOT, Run, copy_project, counted, load_line, load_params, measure, own_servers, table
from overhead import tree_of

PARAM = "train.xgboost.reg_lambda"
SEQUENTIAL = (1.1, 1.2, 1.3, 1.4)
QUEUED = (2.1, 2.2, 2.3, 2.4)
PINNED = (3.1, 3.2, 3.3, 3.4)
AGAINST = (4.1, 4.2, 4.3, 4.4)
#: celery task states of an ended task
READY = ("SUCCESS", "FAILURE", "REVOKED")
GIT = ["git", "-c", "user.email=bench@local", "-c", "user.name=bench"]
TUNE_VALUES = [3.5, 5.0, 6.5, 8.0]
TUNE = {"tune": {"study": "jobs1", "trials": len(TUNE_VALUES), "sampler": "grid", "pruner": "none",
                 "metric": "metrics/train.json:val.roc_auc",
                 "space": {PARAM: {"type": "categorical", "choices": TUNE_VALUES}}}}


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
    return checked(cmd, repo).seconds


def checked(cmd: list[str], repo: Path) -> Run:
    """Run `cmd` in `repo`; return the measured run, or stop with its output when it fails."""
    run = measure(cmd, repo)
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.output[-3000:]}")
    return run


def celery_dir(repo: Path) -> Path:
    """DVC's queue directory: broker, task results, worker pid files."""
    return repo / ".dvc" / "tmp" / "exps" / "celery"


def finished_tasks(repo: Path) -> int:
    """Queued experiments whose task has ended (success or failure), read from the queue's own
    result files: no DVC process, so waiting costs the measured workers no CPU."""
    done = 0
    for path in (celery_dir(repo) / "result").glob("celery-task-meta-*"):
        try:
            done += json.loads(path.read_text()).get("status") in READY
        except (OSError, ValueError):
            continue  # being written: counted on the next look
    return done


def worker_cpu(repo: Path, seen: dict[int, float]) -> None:
    """Record in `seen` each live queue worker's CPU seconds, its finished children (the
    experiments it ran) included; a worker's last reading before it leaves is its total."""
    import psutil

    for pidfile in celery_dir(repo).glob("dvc-exp-worker-*.pid"):
        try:
            pid = int(pidfile.read_text())
            times = psutil.Process(pid).cpu_times()
        except (OSError, ValueError, psutil.Error):
            continue  # a worker of an earlier queue run, gone
        seen[pid] = times.user + times.system + times.children_user + times.children_system


def wait_for_queue(repo: Path, tasks: int, limit_s: float = 3600) -> dict[int, float]:
    """Wait until `tasks` queued experiments have ended; return each worker's CPU seconds.

    No `dvc queue status` here: each look is a DVC start-up (about 0.8 CPU s) and three worker
    inspections of up to 1 s each, taken from the workers being timed.
    """
    deadline = time.monotonic() + limit_s
    cpu: dict[int, float] = {}
    while finished_tasks(repo) < tasks:
        worker_cpu(repo, cpu)
        if time.monotonic() > deadline:
            measure(["dvc", "queue", "stop", "--kill"], repo)
            status = measure(["dvc", "queue", "status"], repo).output
            raise SystemExit(f"queue did not finish in {limit_s:.0f} s:\n{status}")
        time.sleep(0.2)
    worker_cpu(repo, cpu)
    return cpu


def first_pickups(repo: Path, since: float) -> list[float]:
    """Per worker, seconds from `since` (epoch) until it received its first experiment after
    `since`, from the timestamps celery writes into each worker's log (local time, ms)."""
    found = []
    for log in celery_dir(repo).glob("dvc-exp-worker-*.out"):
        for line in log.read_text(errors="replace").splitlines():
            if "INFO/MainProcess] Task" not in line or not line.endswith("received"):
                continue
            stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since:
                found.append(stamp - since)
                break
    return found


def run_queue(repo: Path, start_cmd: list[str], succeeded: int) -> tuple[Run, float]:
    """Start the queue's workers; wall and CPU seconds (the start command's and the workers')
    until `succeeded` experiments have ended, all of them successes, and the start-up (seconds
    until each worker had its first experiment)."""
    log = repo.parent / "queue-start.log"
    launched = time.time() - 0.01  # the log's millisecond stamps may round below the launch
    start = time.perf_counter()
    # output to a file: DVC's worker daemons, forked from the start command, would keep a pipe
    # open (and the measure waiting) until they leave, 10 s after the queue empties
    with own_servers() as spent:
        started = measure(f"{shlex.join(start_cmd)} > {shlex.quote(str(log))} 2>&1", repo)
        if started.returncode:
            raise SystemExit(f"{shlex.join(start_cmd)} failed:\n{log.read_text()[-3000:]}")
        cpu = wait_for_queue(repo, succeeded)
        seconds = time.perf_counter() - start
    status = measure(["dvc", "queue", "status"], repo).output
    if "Failed" in status or status.count("Success") < succeeded:
        raise SystemExit(f"a queued experiment did not succeed:\n{status}")
    startup = max(first_pickups(repo, launched), default=float("nan"))  # the later worker's
    return Run(seconds, 0.0, 0, status, started.cpu_seconds + sum(cpu.values()) + spent[0]), startup


def setup(tmp: Path, quick: bool) -> Path:
    """The shrunk project, reproduced and committed as the experiments' baseline."""
    repo = copy_project(tmp / "repo", shrunk_params(5000 if quick else 20000))
    ok(["dvc", "repro"], repo)
    ok(["git", "add", "-A"], repo)
    ok([*GIT, "commit", "-qm", "baseline"], repo)
    return repo


def pinned_queue(repo: Path, values: tuple[float, ...], done: int, src: Path) -> tuple[Run, float]:
    """Queue 4 experiments (`n_jobs` 1) and run them with `traincycle queue start -j 2` from the
    code in `src`; `done` tasks had ended before."""
    for v in values:
        ok(["dvc", "exp", "run", "--queue", "-S", f"{PARAM}={v}", "-S", "train.xgboost.n_jobs=1"], repo)
    start = ["env", f"PYTHONPATH={src}", "traincycle", "queue", "start", "-j", "2"]
    return run_queue(repo, start, done + len(values))


def queue_rows(repo: Path, against: str | None = None) -> list[dict[str, object]]:
    """Sequential `dvc exp run` x4 vs `dvc queue start -j 2` vs `traincycle queue start -j 2`
    (and the latter at `against`, run just before this tree's)."""
    def one_after_another() -> Run:
        runs = [checked(["dvc", "exp", "run", "-S", f"{PARAM}={v}"], repo) for v in SEQUENTIAL]
        return Run(sum(r.seconds for r in runs), 0.0, 0, "", sum(r.cpu_seconds for r in runs))

    sequential = counted(one_after_another)
    enqueue = sum(ok(["dvc", "exp", "run", "--queue", "-S", f"{PARAM}={v}"], repo) for v in QUEUED)
    queued, queued_startup = run_queue(repo, ["dvc", "queue", "start", "-j", "2"], len(QUEUED))
    # idle workers leave by themselves after 10 s; no `dvc queue stop` here: its shutdown
    # broadcast outlives workers that already left and stops the next ones after one task
    time.sleep(15)
    done = len(QUEUED)
    before = None
    if against:
        before = pinned_queue(repo, AGAINST, done, tree_of(against, repo.parent / "against") / "src")
        done += len(AGAINST)
        time.sleep(15)
    pinned = pinned_queue(repo, PINNED, done, ROOT / "src")
    ok(["dvc", "queue", "stop"], repo)

    def row(measure: str, run: Run, extra: float = 0.0, startup: float | None = None) -> dict[str, object]:
        seconds = run.seconds + extra
        return {"measure": measure, "seconds": seconds, "per exp s": seconds / 4,
                "ratio": seconds / sequential.seconds, "CPU s": run.cpu_seconds,
                "start-up s": "" if startup is None else startup}

    rows = [
        row("4 experiments: sequential `dvc exp run` (baseline)", sequential),
        row("4 experiments: `dvc queue start -j 2` (start to empty queue)", queued, startup=queued_startup),
        row("4 experiments: queue incl. `dvc exp run --queue` x4", queued, enqueue),
    ]
    if before:
        rows.append(row(f"4 experiments: `traincycle queue start -j 2` at {against}", before[0],
                        startup=before[1]))
    rows.append(row("4 experiments: `traincycle queue start -j 2`, pinned, n_jobs 1", pinned[0],
                    startup=pinned[1]))
    return rows


def tune_rows(repo: Path) -> list[dict[str, object]]:
    """`traincycle tune --jobs 1` vs `--jobs 2` on the same 4 param values."""
    (repo / "tune.yaml").write_text(yaml.safe_dump(TUNE))
    ok(["git", "add", "tune.yaml"], repo)
    ok([*GIT, "commit", "-qm", "tune settings"], repo)
    one = counted(lambda: checked(["traincycle", "tune", "--study", "jobs1", "--jobs", "1"], repo))
    two = counted(lambda: checked(["traincycle", "tune", "--study", "jobs2", "--jobs", "2"], repo))
    trials = len(TUNE_VALUES)
    return [
        {"measure": f"tune, {trials} trials: `--jobs 1` (baseline)", "seconds": one.seconds,
         "per exp s": one.seconds / trials, "ratio": 1.0, "CPU s": one.cpu_seconds, "start-up s": ""},
        {"measure": f"tune, {trials} trials: `--jobs 2`, pinned", "seconds": two.seconds,
         "per exp s": two.seconds / trials, "ratio": two.seconds / one.seconds,
         "CPU s": two.cpu_seconds, "start-up s": ""},
    ]


def main(quick: bool, part: str = "all", against: str | None = None) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="tc-exps-") as tmp:
        with own_servers():
            repo = setup(Path(tmp), quick)
        rows = queue_rows(repo, against) if part in ("all", "queue") else []
        rows += tune_rows(repo) if part in ("all", "tune") else []
        # --all-commits: the queued experiments hang off the baseline commit, the trials off "tune settings"
        shown = measure(["dvc", "exp", "ls", "--all-commits", "--name-only"], repo).output.split()
    expected = (len(SEQUENTIAL) + len(QUEUED) + len(PINNED) + len(AGAINST) * bool(against)) * (part != "tune")
    expected += 2 * len(TUNE_VALUES) * (part != "queue")
    if len(shown) < expected:
        raise SystemExit(f"{table(rows)}\nexpected {expected} experiments, found: {shown}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of 20,000")
    parser.add_argument("--part", choices=("all", "queue", "tune"), default="all",
                        help="only the queue or only the tune measures (default: both)")
    parser.add_argument("--against", metavar="REV",
                        help="also run the pinned queue from this revision's code, just before this tree's")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    print(table(main(args.quick, args.part, args.against)))
    print(load_line(before))
