"""Study storage: driver and address handling, what counts toward the total, dead workers' trials."""

from __future__ import annotations

import time
import warnings

import optuna
import pytest
from test_tune import FakeDvc, config, objective

from traincycle.errors import UserError
from traincycle.studydb import address, adopt_orphans, counted, driver_url, finished, open_storage, running
from traincycle.tune import run_study


def test_postgres_urls_use_psycopg3_and_passwords_stay_hidden():
    assert driver_url("postgresql://u:pw@db:5432/optuna") == "postgresql+psycopg://u:pw@db:5432/optuna"
    assert driver_url("postgres://db/optuna") == "postgresql+psycopg://db/optuna"
    assert driver_url("sqlite:///x.db") == "sqlite:///x.db"
    assert address("postgresql://u:pw@db:5432/optuna") == "postgresql://u:***@db:5432/optuna"
    with pytest.raises(UserError, match="expected a SQLAlchemy URL"):
        driver_url("db.example:5432")


def test_unreachable_database_names_its_address():
    with pytest.raises(UserError, match=r"cannot reach the database at postgresql://u:\*\*\*@127\.0\.0\.1:1/"):
        open_storage("postgresql://u:secret@127.0.0.1:1/optuna", heartbeat=5)


def dead_worker_trial(url: str, heartbeat: int | None) -> int:
    """A trial whose worker asked for it, beat once (if it beats at all), then died."""
    storage = open_storage(url, heartbeat) if heartbeat else url
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    with warnings.catch_warnings():  # "heartbeat is meant for optimize()": this worker only asks
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask({"train.xgboost.max_depth": optuna.distributions.IntDistribution(3, 9)})
    if heartbeat:
        study._storage.record_heartbeat(trial._trial_id)
    return trial.number


def test_a_dead_workers_trial_is_retried_and_not_counted(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    dead = dead_worker_trial(url, heartbeat=1)
    time.sleep(3 + 1.5)  # three silent beats (SQLite keeps whole seconds): stale
    fake = FakeDvc()
    study = run_study(config(study="s", sampler="random", heartbeat=1), 0, total=2, storage=url,
                      objective=objective(fake, []))
    trials = study.trials
    assert trials[dead].state.name == "FAIL" and not counted(trials[dead])
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    assert retry[0].params["train.xgboost.max_depth"] == trials[dead].params["train.xgboost.max_depth"]
    assert finished(study) == 2 and running(study) == 0 and len(fake.runs) == 2


def test_a_running_trial_that_never_beat_is_adopted_once(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    orphan = dead_worker_trial(url, heartbeat=None)
    study = optuna.load_study(study_name="s", storage=open_storage(url, 1))
    assert adopt_orphans(study, 1) == []  # too young to tell from a trial just starting
    time.sleep(3 + 1.5)
    assert adopt_orphans(study, 1) == [orphan]
    assert adopt_orphans(study, 1) == []  # beaten once only: it can go stale now
    time.sleep(3 + 1.5)
    assert running(study) == 0 and study.trials[orphan].state.name == "FAIL"
