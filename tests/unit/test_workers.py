"""workers: DVC queue workers started inside a core slot with thread variables for it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from traincycle.workers import node_name, pinned_process

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
