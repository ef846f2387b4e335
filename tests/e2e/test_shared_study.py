"""Two `traincycle tune` workers share one Optuna study on a real PostgreSQL server.

A throwaway server runs on a free loopback port. Two workers run the toy project's trials (each
a `dvc exp run`) toward one combined total; one is killed mid-trial (its whole process group, as
if its machine died). The study then resumes: the killed trial's params are run again, no
finished trial is lost or rerun, and the study ends with exactly the requested count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pgserver import free_port, postgres_server
from test_experiments import TOY_PARAMS, TOY_TRAIN, TOY_TUNE, TRAINCYCLE, make_toy, ok
from test_pipeline import sh

TOTAL = 4
HEARTBEAT = 1  # seconds; a trial silent for 3 beats is taken for dead
#: the toy trainer, slowed so that a worker can be killed in the middle of a trial
SLOW_TRAIN = "import time; time.sleep(2.5)\n" + TOY_TRAIN


@pytest.fixture(scope="module")
def database():
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    tune = {"tune": {**TOY_TUNE["tune"], "study": "shared", "sampler": "random", "heartbeat": HEARTBEAT}}
    return make_toy(tmp_path_factory.mktemp("shared") / "repo", TOY_PARAMS, tune, SLOW_TRAIN)


def start_worker(repo: Path, url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen([TRAINCYCLE, "tune", "--trials", str(TOTAL), "--storage", url],
                            cwd=repo, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: kill it with its dvc


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def load_trials(url: str) -> list:
    import optuna

    from traincycle.studydb import driver_url

    return optuna.load_study(study_name="shared", storage=driver_url(url)).get_trials()


def validation_scores(repo: Path) -> dict[str, float]:
    """name -> val.roc_auc of each experiment whose metrics file reads (a killed one's may not)."""
    scores = {}
    for baseline in json.loads(ok(sh("dvc", "exp", "show", "--json", cwd=repo))):
        for exp in baseline.get("experiments") or []:
            train = exp["revs"][0]["data"]["metrics"].get("metrics/train.json", {})
            if "data" in train:
                scores[exp["name"]] = train["data"]["val"]["roc_auc"]
    return scores


def started(log: Path) -> list[int]:
    """Numbers of the trials a worker started, from its output."""
    return [int(line.split()[1].rstrip(":")) for line in log.read_text().splitlines()
            if line.startswith("trial ") and ": dvc exp run" in line]


def test_workers_share_a_study_and_survive_a_killed_one(project, database, tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first, second = (start_worker(project, database, log) for log in logs)
    try:
        # kill the second worker in the middle of its first trial (the toy trainer sleeps 2.5 s)
        wait_for(lambda: started(logs[1]), 120, "worker b to start a trial")
        time.sleep(1)
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(30)
        killed = started(logs[1])[-1]
        assert first.wait(300) == 0, logs[0].read_text()
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    before = {t.number: t.value for t in load_trials(database) if t.state.name == "COMPLETE"}
    assert killed not in before and len(before) <= TOTAL

    # resume once the killed trial's heartbeat is stale: its params run again, nothing else does
    time.sleep(3 * HEARTBEAT + 1)
    resumed = ok(sh(TRAINCYCLE, "tune", "--trials", str(TOTAL), "--storage", database, cwd=project))
    trials = load_trials(database)
    complete = {t.number: t for t in trials if t.state.name == "COMPLETE"}
    assert len(complete) == TOTAL, [(t.number, t.state.name) for t in trials]
    assert {n: complete[n].value for n in before} == before  # finished trials kept, unchanged
    assert not any(f"trial {n}:" in resumed for n in before)
    dead = trials[killed]
    assert dead.state.name == "FAIL" and "error" not in dead.user_attrs
    retried = [t for t in complete.values() if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].params == dead.params
    assert started(logs[0]) and started(logs[1])  # both workers took trials from the one study

    # every complete trial is an experiment whose metric is the trial's value
    scores = validation_scores(project)
    assert {t.user_attrs["experiment"]: t.value for t in complete.values()}.items() <= scores.items()


def test_unreachable_database_is_one_line_naming_it(project):
    address = f"127.0.0.1:{free_port()}"
    result = sh(TRAINCYCLE, "tune", "--trials", "1", "--storage",
                f"postgresql://tuner:secret@{address}/optuna", cwd=project)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert address in lines[0] and "cannot reach" in lines[0] and "secret" not in lines[0]
