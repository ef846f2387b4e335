"""Share the machine's cores between trials that run at once: CPU affinity plus thread params.

Two trials on two cores each asking for two threads oversubscribe the machine and run slower
than one after the other. A slot is a disjoint set of cores; a trial in a slot is started
under ``taskset`` on those cores, with BLAS/OpenMP limited to as many threads and the fitted
family's own thread param (the ``THREADS`` hook of its module in ``models/``) set to the slot's
size. The thread param is an ordinary ``-S`` override, so the experiment records it and
reproduces exactly (``dvc exp apply`` brings it into the workspace; set it back if you like).
"""

from __future__ import annotations

import os
import queue
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from traincycle.errors import ConfigError

#: thread-count variables honoured by OpenMP, OpenBLAS, MKL and numexpr (set in the child only)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def available_cores() -> list[int]:
    """The cores this process may run on (its affinity mask), sorted; every core where the
    platform has no affinity mask (macOS, Windows)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_slots(jobs: int, cores: Sequence[int]) -> list[tuple[int, ...]]:
    """Split `cores` into `jobs` disjoint, contiguous slots as even as possible.

    More jobs than cores is refused: the slots could not be disjoint.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs: expected at least 1, got {jobs}")
    if jobs > len(cores):
        raise ConfigError(f"--jobs {jobs}: this machine gives {len(cores)} core(s); use at most {len(cores)}")
    size, extra = divmod(len(cores), jobs)
    slots, start = [], 0
    for index in range(jobs):
        end = start + size + (index < extra)
        slots.append(tuple(cores[start:end]))
        start = end
    return slots


def thread_overrides(sections: Mapping[str, Any], threads: int) -> dict[str, int]:
    """`-S` overrides setting each fitted family's thread param to `threads`.

    `sections` maps a params path (``train.xgboost``) to the family module fitted under it;
    families without a ``THREADS`` hook (single-threaded estimators) get none.
    """
    out = {}
    for path, module in sections.items():
        name = getattr(module, "THREADS", None)
        if name:
            out[f"{path}.{name}"] = threads
    return out


def child_env(env: Mapping[str, str], threads: int) -> dict[str, str]:
    """`env` with every BLAS/OpenMP thread variable set to `threads`."""
    return {**env, **{name: str(threads) for name in THREAD_VARIABLES}}


def pinned(command: Sequence[str], cores: Sequence[int]) -> list[str]:
    """`command` run on `cores` only (via taskset; unchanged where taskset is missing)."""
    taskset = shutil.which("taskset")
    if not taskset or not cores:
        return list(command)
    return [taskset, "--cpu-list", ",".join(str(c) for c in cores), *command]


class SlotPool:
    """Hands each running trial a free slot and takes it back when the trial ends (thread-safe)."""

    def __init__(self, slots: Sequence[tuple[int, ...]]) -> None:
        self.cores = list(slots)
        self._free: queue.Queue[tuple[int, ...]] = queue.Queue()
        for slot in slots:
            self._free.put(slot)

    @contextmanager
    def slot(self) -> Iterator[tuple[int, ...]]:
        """Block until a slot is free; yield its cores."""
        cores = self._free.get()
        try:
            yield cores
        finally:
            self._free.put(cores)
