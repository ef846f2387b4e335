"""Where an Optuna study lives: SQLite on this disk, or PostgreSQL shared by many tune workers.

Workers on several processes or machines join one study by pointing at the same URL. Three
things make that safe:

- a *heartbeat*: every running trial records a beat; a trial whose worker died (killed, machine
  lost) goes silent, is failed by the next worker that looks, and its params are queued again, so
  the killed work is redone and no finished trial is lost;
- a *shared stop*: a worker stops once the finished trials plus those running elsewhere reach the
  total, so N workers together run the requested count rather than N times it;
- a clear error: an unreachable database is one line naming its address (the password hidden).
"""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timedelta
from typing import Any

from traincycle.errors import ConfigError, UserError

#: a running trial silent for this many heartbeats is taken for dead
GRACE_BEATS = 3
#: seconds to wait for the database server before giving up
CONNECT_TIMEOUT = 10
#: times the params of a trial whose worker died are run again (a trial that kills its worker
#: every time, e.g. out of memory, is then given up and new params are drawn)
MAX_RETRY = 2
#: system attr of a running trial given a heartbeat by `adopt_orphans`
ADOPTED = "traincycle:adopted"
#: tries to open a storage whose tables another worker is creating at the same moment
SCHEMA_ATTEMPTS = 5


def driver_url(url: str) -> str:
    """`url` with the psycopg 3 driver for PostgreSQL (SQLAlchemy's default would be psycopg2)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"tune storage {url!r}: expected a SQLAlchemy URL such as "
                          "sqlite:///.traincycle/optuna.db or postgresql://user@host:5432/optuna")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def address(url: str) -> str:
    """The URL as shown to people: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given; it holds no parsed password
        return url


def open_storage(url: str, heartbeat: int) -> Any:
    """An Optuna RDB storage at `url` with trial heartbeats every `heartbeat` seconds.

    Raises UserError naming the address when the database cannot be reached or the driver is
    missing, instead of a page of SQLAlchemy traceback.
    """
    import optuna
    import sqlalchemy.exc

    full = driver_url(url)
    engine: dict[str, Any] = {"pool_pre_ping": True}
    if full.startswith("postgresql+psycopg://"):
        engine["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    # heartbeats are "experimental" since Optuna 2.9; the warning would repeat on every trial
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    try:
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                return optuna.storages.RDBStorage(
                    full, engine_kwargs=engine, heartbeat_interval=heartbeat,
                    grace_period=GRACE_BEATS * heartbeat, heartbeat_stale_trial_callback=retry,
                )
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
                # workers starting together on an empty database race to create Optuna's
                # tables; the loser sees a duplicate (PostgreSQL says so as a unique violation
                # or as DuplicateTable, "already exists"), and the tables are there on retry
                duplicate = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)
                if attempt == SCHEMA_ATTEMPTS or not duplicate:
                    raise
                time.sleep(0.5 * attempt)
        raise AssertionError("not reached: the last attempt returns or raises")
    except ModuleNotFoundError as exc:
        raise UserError(f"tune storage {address(url)}: the database driver is missing "
                        f"({exc.name}); install it: pip install 'traincycle[postgres]'") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise ConfigError(f"tune storage {address(url)}: not a valid SQLAlchemy URL ({exc})") from None
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise UserError(f"tune storage: cannot reach the database at {address(url)}: {reason}") from None


def counted(trial: Any) -> bool:
    """Whether a trial counts toward the total: it ran to an end, it was not cut off.

    A failure the objective reported (bad params, a failing experiment) counts; a trial whose
    worker died (failed by the heartbeat check, its params queued again) or was interrupted does
    not, so the rerun of its params takes its place.
    """
    state = trial.state.name
    return state in ("COMPLETE", "PRUNED") or (state == "FAIL" and "error" in trial.user_attrs)


def finished(study: Any) -> int:
    """Trials that count toward the study's total (see `counted`)."""
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def running(study: Any) -> int:
    """Trials running now on any worker, after failing those whose worker went silent."""
    import optuna

    optuna.storages.fail_stale_trials(study)
    return sum(t.state.name == "RUNNING" for t in study.get_trials(deepcopy=False))


def adopt_orphans(study: Any, heartbeat: int) -> list[int]:
    """Give old running trials without a heartbeat one beat, so that a dead one can go stale.

    A trial left RUNNING by a worker that never beat (an older traincycle, or killed before its
    first beat) would otherwise count as running forever. Each is beaten once (marked, so later
    sessions do not keep it fresh); if its worker is gone it goes stale one grace period later
    and is failed and retried like any other. A beat for a trial that *is* alive (a long one on
    another machine) is harmless: its own worker beats too. Returns the adopted trial numbers.
    """
    import optuna

    optuna.storages.fail_stale_trials(study)
    storage = study._storage
    cutoff = datetime.now() - timedelta(seconds=GRACE_BEATS * heartbeat)
    adopted = []
    for trial in study.get_trials(deepcopy=False):
        if (trial.state.name == "RUNNING" and ADOPTED not in trial.system_attrs
                and trial.datetime_start and trial.datetime_start < cutoff):
            storage.record_heartbeat(trial._trial_id)
            storage.set_trial_system_attr(trial._trial_id, ADOPTED, True)
            adopted.append(trial.number)
    return adopted


def total_reached(study: Any, total: int) -> bool:
    """Whether this worker should start no more trials: finished plus running ones make `total`.

    Running trials on other workers are counted so that N workers end with `total` finished
    trials between them, not up to N-1 more. Call it after `optuna.storages.fail_stale_trials`
    (as `traincycle.trialpool` does before each trial), so a dead worker's trial is not counted.
    """
    trials = study.get_trials(deepcopy=False)
    return sum(counted(t) or t.state.name == "RUNNING" for t in trials) >= total
