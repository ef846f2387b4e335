"""workers: DVC queue workers started inside a core slot with thread variables for it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys

import pytest

from traincycle.errors import ConfigError
from traincycle.workers import (
    node_name,
    node_pids,
    pinned_process,
    queue_dir,
    start_lock,
    start_pinned_workers,
)

#: forks inside `detached_stdio` (as DVC forks a worker's daemon) and reports whether the child
#: still holds the pipe the parent's stdout was, then prints on the restored stdout
FORK_INSIDE = """
import json, os, sys
from traincycle.workers import detached_stdio
pipe = os.readlink("/proc/self/fd/1")
with detached_stdio():
    pid = os.fork()
    if pid == 0:
        held = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")]
        with open(sys.argv[1], "w") as out:
            json.dump({"holds_pipe": pipe in held, "stdout": held and os.readlink("/proc/self/fd/1")}, out)
        os._exit(0)
    os.waitpid(pid, 0)
print("stdout restored")
"""


def test_a_pinned_block_runs_on_its_cores_with_matching_threads_and_restores_both():
    before_affinity, before_env = os.sched_getaffinity(0), dict(os.environ)
    cores = (sorted(before_affinity)[0],)
    with pinned_process(cores):
        assert os.sched_getaffinity(0) == set(cores)  # children (the DVC worker) inherit this
        assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.sched_getaffinity(0) == before_affinity and dict(os.environ) == before_env


def test_node_names_are_dvcs_so_dvc_queue_status_and_stop_see_the_workers():
    wdir = "/repo/.dvc/tmp/exps"
    digest = hashlib.sha256(wdir.encode()).hexdigest()[:6]
    assert node_name(wdir, 2) == f"dvc-exp-{digest}-2@localhost"


def test_a_process_forked_while_stdio_is_detached_holds_none_of_the_callers_pipes(tmp_path):
    # DVC forks each worker's daemon from `traincycle queue start`; a daemon holding the caller's
    # stdout pipe kept `traincycle queue start | cat` (and capture_output) waiting for the workers
    report = tmp_path / "child.json"
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", FORK_INSIDE, str(report)], capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "stdout restored\n"
    assert json.loads(report.read_text()) == {"holds_pipe": False, "stdout": os.devnull}


@pytest.fixture
def dvc_repo(tmp_path):
    """An initialised git + DVC repository with a subdirectory."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, timeout=60)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True, timeout=120)
    (tmp_path / "stages").mkdir()
    return tmp_path


@pytest.fixture
def fake_worker():
    """Start a process that carries a node name among its arguments, as `dvc exp queue-worker
    NODE` does; yields a function taking the node name."""
    procs = []

    def start(node: str) -> subprocess.Popen:
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", node]))
        return procs[-1]

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_the_queue_dir_is_dvcs_from_the_root_or_below_so_node_names_match(dvc_repo):
    from dvc.repo import Repo

    with Repo(str(dvc_repo)) as repo:
        wdir = repo.experiments.celery_queue.wdir
    assert queue_dir(str(dvc_repo)) == wdir
    assert queue_dir(str(dvc_repo / "stages")) == wdir


def test_outside_a_dvc_repository_the_queue_dir_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="not inside a DVC repository"):
        queue_dir(str(tmp_path))


def test_a_worker_is_seen_by_its_node_name_while_its_process_lives(fake_worker):
    node = f"dvc-exp-test{os.getpid()}-1@localhost"
    assert node_pids({node}) == {}
    proc = fake_worker(node)
    # a worker still importing shows here; celery's inspect broadcast hears only ready workers
    assert node_pids({node, "dvc-exp-other-2@localhost"}) == {node: [proc.pid]}
    proc.kill()
    proc.wait()
    assert node_pids({node}) == {}


def test_a_running_worker_is_not_started_twice(dvc_repo, fake_worker):
    wdir = queue_dir(str(dvc_repo))
    fake_worker(node_name(wdir, 1))
    assert start_pinned_workers(1, str(dvc_repo)) == []
    assert not (dvc_repo / ".dvc" / "tmp" / "exps" / "celery" / "dvc-exp-worker-1.pid").exists()


def test_start_commands_take_turns_on_the_start_lock(tmp_path):
    wdir = str(tmp_path / "celery")
    with start_lock(wdir), open(os.path.join(wdir, "traincycle-start.lock")) as other, \
            pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(os.path.join(wdir, "traincycle-start.lock")) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the block
