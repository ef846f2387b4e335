"""Optuna pruning from inside train: a tuning trial reports its val curve and stops when told.

`traincycle tune` runs each trial as a `dvc exp run` in another process. With a pruner, tune
passes the trial's address (storage URL, study, trial number, curve key) in the environment;
train's families call the reporter once per iteration/epoch with their curve row, and it reports
every `interval`-th step to the study. When the pruner says the trial is hopeless, the reporter
raises `TrialPruned`: train exits with `PRUNED_EXIT` before writing anything, DVC records no
experiment, and tune marks the trial pruned. A plain `dvc repro` has no address and never prunes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from traincycle.errors import UserError

#: environment variable holding the trial's address (JSON), set by tune for one trial's process
ENV = "TRAINCYCLE_TRIAL"
#: train's exit status for a pruned trial (distinct from user errors 2 and failed gates 3)
PRUNED_EXIT = 4
#: first words of the one-line message tune recognises in the failed experiment's output
MESSAGE = "trial pruned"

Progress = Callable[[int, Mapping[str, float]], None]


class TrialPruned(UserError):
    """The study's pruner stopped this trial; not an error in the user's data or params."""

    exit_code = PRUNED_EXIT


def address(
    storage: str, study: str, trial: int, curve_key: str, *, interval: int, startup: int, warmup: int
) -> str:
    """The JSON a trial's process finds in `ENV` (the pruner's settings too: storage keeps none)."""
    return json.dumps({"storage": storage, "study": study, "trial": trial, "key": curve_key,
                       "interval": interval, "startup": startup, "warmup": warmup})


def median_pruner(startup: int, warmup: int) -> Any:
    """Stop a trial whose value at a step is worse than the median of earlier trials there.

    `startup` complete trials must exist before any pruning; no trial is pruned before step
    `warmup`.
    """
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)


def curve_key(curve_path: str) -> str:
    """The curve-row key of a dvclive TSV path: `.../plots/metrics/val/roc_auc.tsv` -> `val/roc_auc`."""
    parts = curve_path.removesuffix(".tsv").split("/")
    return "/".join(parts[-2:])


def reporter(environ: Mapping[str, str] = os.environ) -> Progress | None:
    """A progress callback for the trial named in `environ`, or None outside a pruned study."""
    raw = environ.get(ENV)
    if not raw:
        return None
    import optuna

    where = json.loads(raw)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=where["study"], storage=where["storage"],
                              pruner=median_pruner(where["startup"], where["warmup"]))
    # Trial(study, id) is Optuna's own handle on a running trial; the id is the FrozenTrial's
    trial_id = next(t._trial_id for t in study.get_trials(deepcopy=False) if t.number == where["trial"])
    trial = optuna.trial.Trial(study, trial_id)
    key, interval = where["key"], max(1, int(where["interval"]))

    def report(step: int, row: Mapping[str, float]) -> None:
        if key not in row or step % interval:
            return
        trial.report(float(row[key]), step)
        if trial.should_prune():
            raise TrialPruned(f"{MESSAGE} at step {step}: {key} = {row[key]:.6g} is behind the "
                              f"study's other trials (pruner of study {where['study']!r})")

    return report

