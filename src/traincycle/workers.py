"""DVC's experiment queue workers, each pinned to its own share of the cores.

`dvc queue start -j 2` starts two workers that each run a whole experiment with every thread
its params ask for: on two cores they oversubscribe the machine and gain little over running one
after the other. `start_pinned_workers` starts the same workers (same node names, so
`dvc queue status` / `stop` / `logs` see them) with each one's CPU affinity set to a disjoint
core slot and the BLAS/OpenMP thread variables set to the slot's size; everything a worker
runs inherits both. A family's own thread param (e.g. `train.xgboost.n_jobs`) stays what the
queued experiment records: queue with `-S train.xgboost.n_jobs=1` to match a one-core slot
(OpenMP threads beyond the slot wait passively instead of spinning).

DVC forks each worker's daemon from the calling process, and the fork keeps that process's
stdout and stderr open until the worker leaves: `traincycle queue start -j 2 | cat`, a CI log or
`subprocess.run(..., capture_output=True)` then waited for the whole queue plus the workers' 10 s
idle timeout. The workers are started with those descriptors on /dev/null (their own output goes
to the log files under .dvc/tmp/exps/celery, as before).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from traincycle.pinning import available_cores, child_env, core_slots


def node_name(wdir: str, num: int) -> str:
    """The celery node name DVC gives queue worker `num` of the repository whose tmp dir is `wdir`."""
    return f"dvc-exp-{hashlib.sha256(wdir.encode('utf-8')).hexdigest()[:6]}-{num}@localhost"


#: the caller's stdin/stdout/stderr, saved while `detached_stdio` runs (closed in forked children)
_SAVED_STDIO: list[int] = []


def _close_saved_stdio() -> None:
    """In a child forked inside `detached_stdio`: drop the copies of the parent's descriptors
    (os.dup copies are close-on-exec, but a fork without exec would keep them open)."""
    for fd in _SAVED_STDIO:
        os.close(fd)
    _SAVED_STDIO.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_saved_stdio)


@contextmanager
def detached_stdio() -> Iterator[None]:
    """Run the block with stdin, stdout and stderr on /dev/null, so that processes forked in it
    (DVC's worker daemons) hold none of the caller's pipes; restore all three after."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    _SAVED_STDIO[:] = [os.dup(fd) for fd in range(3)]
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in range(3):
            os.dup2(null, fd)
        yield
    finally:
        os.close(null)
        for fd, copy in enumerate(_SAVED_STDIO):
            os.dup2(copy, fd)
        _close_saved_stdio()


@contextmanager
def pinned_process(cores: tuple[int, ...]) -> Iterator[None]:
    """Run the block with this process on `cores` and thread variables for them (children inherit)."""
    affinity = os.sched_getaffinity(0)
    saved = dict(os.environ)
    os.sched_setaffinity(0, cores)
    os.environ.update(child_env({"OMP_WAIT_POLICY": "PASSIVE"}, len(cores)))
    try:
        yield
    finally:
        os.sched_setaffinity(0, affinity)
        os.environ.clear()
        os.environ.update(saved)


def start_pinned_workers(jobs: int, root: str = ".") -> list[tuple[int, tuple[int, ...]]]:
    """Start up to `jobs` queue workers of the repository at `root`, worker k on core slot k.

    Workers already running are left alone. Returns (worker number, cores) of each started one.
    """
    from dvc.repo import Repo

    slots = core_slots(jobs, available_cores())
    started = []
    with Repo(root) as repo:
        queue = repo.experiments.celery_queue
        active = queue.worker_status()
        for num, cores in enumerate(slots, start=1):
            if node_name(queue.wdir, num) in active:
                continue
            with pinned_process(cores), detached_stdio():
                queue._spawn_worker(num)  # what `start_workers` runs per worker; it takes no affinity
            started.append((num, cores))
    return started
