"""Run a study's trials N at once: asked and suggested in order here, run in threads.

`study.optimize(n_jobs=N)` asks and suggests inside its worker threads, and before they start
it reseeds the sampler from the operating system: a seeded study with N > 1 draws other params
on every run, and two trials starting together may swap draws. Here the calling thread asks
each trial and draws its params in trial order (as a one-at-a-time study does), then hands it
to a free thread that only runs it; a trial starts as soon as one ends. With the random or grid
sampler, and during TPE's random start-up trials, trial n therefore tries exactly what trial n of
a `--jobs 1` study tries, however many run at once.

Each running trial sends heartbeats to the storage (as Optuna's own loop does), so a trial
whose worker died is failed and retried by the next worker that looks (see `traincycle.studydb`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

#: (study, the trial just finished) -> None, called in this thread after each trial ends
Callback = Callable[[Any, Any], None]


@contextmanager
def heartbeat(storage: Any, trial_id: int) -> Iterator[None]:
    """Record heartbeats for `trial_id` every interval the storage asks for while the block runs."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def optimize(
    study: Any,
    suggest: Callable[[Any], Any],
    run: Callable[[Any, Any], float],
    *,
    trials: int,
    jobs: int,
    catch: tuple[type[Exception], ...] = (),
    callbacks: Sequence[Callback] = (),
    stop: Callable[[Any], bool] = lambda _study: False,
) -> None:
    """Run up to `trials` trials, `jobs` at once, until `stop(study)` says enough (asked before
    each trial, after failing trials whose worker went silent).

    `suggest(trial)` draws the params (here, in trial order); `run(trial, params)` returns the
    objective (in a worker thread). A trial that raises `optuna.TrialPruned` is pruned, one that
    raises an exception in `catch` failed and the study goes on; any other exception fails the
    trial, lets the running ones finish and is raised.
    """
    # Optuna's own loop flags (ask and tell happen in this thread): a sampler may call
    # `study.stop()` from `after_trial` (the grid sampler, once every point is taken), which
    # Optuna only allows inside its loop, and asking with heartbeats warns outside it
    study._thread_local.in_optimize_loop = True
    study._stop_flag = False
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="trial") as pool:
            _loop(study, pool, suggest, run, trials=trials, jobs=jobs, catch=catch,
                  callbacks=callbacks, stop=stop)
    finally:
        study._thread_local.in_optimize_loop = False


def _loop(
    study: Any, pool: ThreadPoolExecutor, suggest: Callable[[Any], Any],
    run: Callable[[Any, Any], float], *, trials: int, jobs: int,
    catch: tuple[type[Exception], ...], callbacks: Sequence[Callback], stop: Callable[[Any], bool],
) -> None:
    import optuna

    started, error = 0, None
    running: dict[Future, Any] = {}
    while True:
        while error is None and started < trials and len(running) < jobs and not study._stop_flag:
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial is retried first
            if stop(study):
                break
            trial = study.ask()
            params = suggest(trial)
            running[pool.submit(_run, study, trial, params, run)] = trial
            started += 1
        if not running:
            return
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: running[f].number):
            trial = running.pop(future)
            failure = _tell(study, trial, future)
            if failure is not None and not isinstance(failure, catch) and error is None:
                error = failure
            frozen = study._storage.get_trial(trial._trial_id)
            for callback in callbacks:
                callback(study, frozen)
        if error is not None and not running:
            raise error


def _run(study: Any, trial: Any, params: Any, run: Callable[[Any, Any], float]) -> float:
    with heartbeat(study._storage, trial._trial_id):
        return run(trial, params)


def _tell(study: Any, trial: Any, future: Future) -> BaseException | None:
    """Record the finished trial's outcome; return the exception it failed with, if any."""
    import optuna
    from optuna.trial import TrialState

    failure = future.exception()
    if failure is None:
        study.tell(trial, future.result())
    elif isinstance(failure, optuna.TrialPruned):
        study.tell(trial, state=TrialState.PRUNED)
        return None
    else:
        study.tell(trial, state=TrialState.FAIL)
    return failure
