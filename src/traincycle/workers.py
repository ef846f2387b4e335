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

The start command does not open the DVC repository nor ask the workers over the broker who is
running (`worker_status`: a celery broadcast that always waits its full 1 s timeout): opening
the repository and asking took about 3 of the start command's 3.9 s, every one of them before
the first worker could start importing. It finds the queue directory as DVC does (the nearest
`.dvc` above the working directory) and looks for each worker's node name in the arguments of
the processes on this machine: a filesystem-broker worker (`@localhost`) is a local process
started as `dvc exp queue-worker NODE`, and this sees one that is still importing, which the
broadcast does not (it answers only once ready). Two start commands at once are serialised by
a lock file, held until each spawned worker shows in the process table.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from traincycle.errors import ConfigError
from traincycle.pinning import available_cores, child_env, core_slots

#: how long a spawned worker may take to show in the process table before the lock is released
SPAWN_VISIBLE_S = 10.0


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


def queue_dir(root: str = ".") -> str:
    """DVC's queue directory (broker, results, worker logs) of the repository holding `root`.

    The same string as DVC's `celery_queue.wdir`, which node names hash: DVC's `find_root` (the
    nearest directory up from the absolute `root` with a `.dvc` directory, not past a mount
    point) plus `.dvc/tmp/exps/celery`.
    """
    path = start = os.path.abspath(root)
    while not os.path.isdir(os.path.join(path, ".dvc")):
        parent = os.path.dirname(path)
        if os.path.ismount(path) or parent == path:
            raise ConfigError(f"{start}: not inside a DVC repository (no .dvc directory here or above)")
        path = parent
    return os.path.join(path, ".dvc", "tmp", "exps", "celery")


def node_pids(names: Collection[str]) -> dict[str, list[int]]:
    """The live processes on this machine with one of the celery node `names` among their
    arguments (`dvc exp queue-worker NODE`), whether importing, idle or busy: node -> pids."""
    import psutil

    wanted, found = set(names), {}
    # a fresh Process per pid: `process_iter` reuses the Process objects of earlier calls and
    # skips a pid that an earlier call saw for another, since ended, process (a reused pid)
    for pid in psutil.pids():
        try:
            cmdline = psutil.Process(pid).cmdline()
        except psutil.Error:  # gone meanwhile, or not ours to read
            continue
        for node in wanted.intersection(cmdline):
            found.setdefault(node, []).append(pid)
    return found


@contextmanager
def start_lock(wdir: str) -> Iterator[None]:
    """Hold the queue directory's start lock: one start command checks and spawns at a time."""
    os.makedirs(wdir, exist_ok=True)
    with open(os.path.join(wdir, "traincycle-start.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            # explicitly: the workers' daemons, forked inside, share this descriptor until they leave
            fcntl.flock(handle, fcntl.LOCK_UN)


def spawn_worker(wdir: str, num: int) -> None:
    """Start queue worker `num` as DVC's `_spawn_worker` does (the same daemon, log and pid
    files, so `dvc queue status` / `stop` / `logs` see it), running `dvc exp queue-worker` through
    `traincycle.queueworker`; return once it shows in the process table, so a start command
    waiting on the lock sees it too."""
    from dvc_task.proc.process import ManagedProcess

    node = node_name(wdir, num)
    cmd = [sys.executable, "-m", "traincycle.queueworker", node]
    if num == 1:
        cmd.append("--clean")  # as DVC: the first worker cleans the broker up when it leaves
    ManagedProcess.spawn(cmd, wdir=wdir, name=f"dvc-exp-worker-{num}")
    deadline = time.monotonic() + SPAWN_VISIBLE_S
    while node not in node_pids({node}) and time.monotonic() < deadline:
        time.sleep(0.01)


def start_pinned_workers(jobs: int, root: str = ".") -> list[tuple[int, tuple[int, ...]]]:
    """Start up to `jobs` queue workers of the repository at `root`, worker k on core slot k.

    Workers already running are left alone. Returns (worker number, cores) of each started one.
    """
    slots = core_slots(jobs, available_cores())
    wdir = queue_dir(root)
    started = []
    with start_lock(wdir):
        active = node_pids({node_name(wdir, num) for num in range(1, len(slots) + 1)})
        for num, cores in enumerate(slots, start=1):
            if node_name(wdir, num) in active:
                continue
            with pinned_process(cores), detached_stdio():
                spawn_worker(wdir, num)
            started.append((num, cores))
    return started
