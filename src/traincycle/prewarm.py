"""Import slow modules in the background while a core would otherwise sit idle.

`traincycle tune` ends with a summary whose parameter importances (Optuna's fANOVA) import
scikit-learn and SciPy: one to several seconds of one core after the last trial, while the other
cores have nothing to do. `TailWarmer` starts that import as soon as this run will start no more
trials and fewer trials run than there are cores, so it overlaps the last trials instead of
following them. The summary's own import then finds the modules loaded, or waits for the import
in progress (Python's per-module import lock makes the two safe together).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any


class Prewarm:
    """Imports `modules` once, in a daemon thread (it never delays exit)."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        """Start the imports unless already started; True when this call started them."""
        with self._lock:
            if self.thread is not None:
                return False
            self.thread = threading.Thread(target=self._load, name="prewarm", daemon=True)
            self.thread.start()
            return True

    def _load(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception:  # the real import later reports the error
                return


class TailWarmer:
    """Starts `prewarm` once all `todo` trials of this run have started and a core is free.

    Call `started()` as each trial starts and use the object as an Optuna callback (it runs as
    each trial ends). With one job on two cores that is the start of the last trial; with one
    job per core, the end of the first trial after the last has started.
    """

    def __init__(self, prewarm: Prewarm, todo: int, cores: int) -> None:
        self.prewarm, self.todo, self.cores = prewarm, todo, cores
        self._started = self._ended = 0
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self._started += 1
            self._check()

    def __call__(self, study: Any, trial: Any) -> None:
        with self._lock:
            self._ended += 1
            self._check()

    def _check(self) -> None:
        if self._started >= self.todo and self._started - self._ended < self.cores:
            self.prewarm.start()
