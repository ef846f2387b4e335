"""tune: config checks, metric guard, suggestions, the study loop (fake runner) and summaries."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from traincycle.config import build
from traincycle.errors import ConfigError, GateFailed
from traincycle.experiment import ExperimentFailed, format_value, override_args, yaml_float
from traincycle.tune import (
    Objective,
    SpaceParam,
    TuneConfig,
    best_row,
    check_metric,
    check_space,
    grid_space,
    history_points,
    load_pipeline,
    parse_curve,
    run_study,
    thin,
    trial_rows,
    trials_table,
    verify,
    write_summary,
)

SPACE = {
    "train.xgboost.max_depth": {"type": "int", "low": 3, "high": 9},
    "train.xgboost.learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "train.model": {"type": "categorical", "choices": ["xgboost", "mlp"]},
}
PARAMS = {"seed": 1, "train": {"model": "xgboost", "xgboost": {"max_depth": 6, "learning_rate": 0.1}}}
PIPELINE = {
    "vars": ["params.yaml", {"processed": "data/processed"}],
    "stages": {
        "train": {"deps": ["${processed}/train.parquet", "${processed}/val.parquet"],
                  "metrics": [{"metrics/train.json": {"cache": False}}]},
        "evaluate": {"deps": ["${processed}/test.parquet"],
                     "metrics": [{"metrics/evaluate.json": {"cache": False}}]},
        "optimize": {"deps": ["data/processed/test.parquet"], "metrics": ["metrics/optimize.json"]},
    },
}


def config(**over) -> TuneConfig:
    return build(TuneConfig, {"space": SPACE, **over}, "tune")


def test_config_builds_space_from_params():
    cfg = config(sampler="random")
    assert cfg.space["train.xgboost.learning_rate"].log is True
    assert cfg.space["train.model"].choices == ("xgboost", "mlp")


@pytest.mark.parametrize(
    ("space", "needle"),
    [
        ({"a.b": {"type": "float", "low": 1.0}}, "needs `low` and `high`"),
        ({"a.b": {"type": "float", "low": 2.0, "high": 1.0}}, "tune.space.high"),
        ({"a.b": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "tune.space.low"),
        ({"a.b": {"type": "categorical"}}, "needs `choices`"),
        ({"a.b": {"type": "categorical", "choices": ["yes", "no"]}}, "dvc exp run -S"),
        ({"a.b": {"type": "int", "low": 1.5, "high": 4}}, "must be whole"),
        ({"a.b": {"type": "normal", "low": 1, "high": 2}}, "tune.space.a.b.type"),
        ({}, "at least one param"),
    ],
)
def test_bad_space_is_a_config_error(space, needle):
    with pytest.raises(ConfigError, match=None) as err:
        build(TuneConfig, {"space": space}, "tune")
    assert needle in str(err.value)


def test_grid_needs_a_step_for_floats():
    with pytest.raises(ConfigError, match="grid sampler needs `step`"):
        config(sampler="grid")


def test_check_space_rejects_missing_and_section_keys():
    check_space(config().space, PARAMS)
    with pytest.raises(ConfigError, match=r"'train.xgboost.max_dept' is not in params.yaml"):
        check_space({"train.xgboost.max_dept": SpaceParam("int", 1, 2)}, PARAMS)
    with pytest.raises(ConfigError, match="is a section"):
        check_space({"train.xgboost": SpaceParam("int", 1, 2)}, PARAMS)
    with pytest.raises(ConfigError, match="tune section itself"):
        check_space({"tune.trials": SpaceParam("int", 1, 2)}, {**PARAMS, "tune": {"trials": 3}})


def test_metric_guard_allows_validation_and_refuses_test():
    assert check_metric("metrics/train.json:roc_auc", PIPELINE) == ("metrics/train.json", "roc_auc")
    with pytest.raises(ConfigError, match=r"stage 'evaluate'.*test"):
        check_metric("metrics/evaluate.json:roc_auc", PIPELINE)
    with pytest.raises(ConfigError, match=r"stage 'optimize', which reads data/processed/test\.parquet"):
        check_metric("metrics/optimize.json:auc", PIPELINE)
    with pytest.raises(ConfigError, match="not declared as metrics"):
        check_metric("metrics/nope.json:auc", PIPELINE)
    with pytest.raises(ConfigError, match="expected FILE:KEY"):
        check_metric("metrics/train.json", PIPELINE)


def test_grid_space_lists_every_value():
    space = {"a": SpaceParam("int", 3, 9, step=2), "b": SpaceParam("float", 0.1, 0.3, step=0.1),
             "c": SpaceParam("categorical", choices=("x", "y"))}
    assert grid_space(space) == {"a": [3, 5, 7, 9], "b": [0.1, 0.2, 0.3], "c": ["x", "y"]}


def test_format_value_keeps_types_through_yaml():
    # PyYAML reads '1e-05' as a string: the value is nudged to a dotted form, one ulp away
    nudged = yaml_float(1e-05)
    assert "." in repr(nudged).split("e")[0] and math.isclose(nudged, 1e-05, rel_tol=1e-15)
    assert isinstance(yaml.safe_load(format_value(1e-05)), float)
    assert format_value(0.25) == "0.25" and format_value(7) == "7" and format_value(True) == "true"
    assert override_args({"a.b": 3, "c": "mlp"}) == ["-S", "a.b=3", "-S", "c=mlp"]
    for bad in ("off", "a b", "null"):
        with pytest.raises(ConfigError):
            format_value(bad)


def test_parse_curve_and_thin():
    text = "step\tval/roc_auc\n0\t0.80\n1\t0.85\n2\t0.90\n"
    assert parse_curve(text) == [(0, 0.80), (1, 0.85), (2, 0.90)]
    points = [(i, float(i)) for i in range(1000)]
    kept = thin(points, 100)
    assert len(kept) <= 101 and kept[0] == (0, 0.0) and kept[-1] == (999, 999.0)


class FakeDvc:
    """Stands in for `dvc exp run`: a deterministic metric of the params, stored per 'commit'."""

    def __init__(self, fail_on: set[int] = frozenset()):
        self.files: dict[tuple[str, str], str] = {}
        self.runs: list[str] = []
        self.fail_on = fail_on
        self.cores: dict[str, tuple[int, ...]] = {}
        self.values: dict[str, dict] = {}

    def run(self, name, values, cores=(), environ=None):
        self.runs.append(name)
        self.cores[name], self.values[name] = cores, dict(values)
        if int(name.rsplit("-", 1)[1]) in self.fail_on and "trial" in name:
            raise ExperimentFailed(f"experiment {name} failed: error: params train: bad")
        score = 0.9 - 0.01 * abs(values["train.xgboost.max_depth"] - 6) - abs(
            math.log10(values["train.xgboost.learning_rate"] / 0.1)) * 0.02
        score += 0.005 * (values["train.model"] == "xgboost")
        rev = f"rev-{name}"
        self.files[rev, "metrics/train.json"] = json.dumps({"roc_auc": score})
        self.files[rev, "dvclive/val.tsv"] = "step\troc_auc\n" + "".join(
            f"{i}\t{score - 0.01 * (4 - i)}\n" for i in range(5))
        return rev

    def read(self, rev, path):
        return self.files[rev, path]


def objective(fake: FakeDvc, lines: list[str]) -> Objective:
    return Objective("s", config().space, "metrics/train.json", "roc_auc", "dvclive/val.tsv",
                     fake.run, fake.read, lines.append, baseline="abc")


def test_study_runs_resumes_and_records(tmp_path):
    fake, lines = FakeDvc(fail_on={1}), []
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    cfg = config(study="s", sampler="tpe", startup_trials=2)
    study = run_study(cfg, 7, total=3, storage=storage, objective=objective(fake, lines))
    assert fake.runs == ["s-trial-0", "s-trial-1", "s-trial-2"]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert any("trial 1: failed:" in line for line in lines)
    write_summary(study, cfg, tmp_path / "out")
    assert "- trial 1: experiment s-trial-1 failed: error: params train: bad" in (
        tmp_path / "out" / "trials.md").read_text()
    assert study.trials[0].intermediate_values == {
        i: pytest.approx(study.trials[0].value - 0.01 * (4 - i)) for i in range(5)}
    # resume: a second session tops the study up to 5 finished trials, no repeats of names
    study = run_study(cfg, 7, total=5, storage=storage, objective=objective(fake, lines))
    assert fake.runs[3:] == ["s-trial-3", "s-trial-4"]
    assert len(study.trials) == 5
    params = [tuple(sorted(t.params.items())) for t in study.trials if t.params]
    assert len(set(params)) == len(params), "a resumed session repeated an earlier draw"
    # nothing to do when the target is reached
    run_study(cfg, 7, total=5, storage=storage, objective=objective(fake, lines))
    assert len(fake.runs) == 5


def test_direction_change_is_refused(tmp_path):
    fake, storage = FakeDvc(), f"sqlite:///{tmp_path / 'o.db'}"
    run_study(config(study="d"), 0, total=1, storage=storage, objective=objective(fake, []))
    with pytest.raises(ConfigError, match="created to maximize"):
        run_study(config(study="d", direction="minimize"), 0, total=2, storage=storage,
                  objective=objective(fake, []))


def test_grid_study_stops_when_the_grid_is_done(tmp_path):
    space = {"train.xgboost.max_depth": {"type": "int", "low": 4, "high": 6},
             "train.xgboost.learning_rate": {"type": "categorical", "choices": [0.1]},
             "train.model": {"type": "categorical", "choices": ["xgboost"]}}
    cfg = build(TuneConfig, {"space": space, "sampler": "grid", "study": "g"}, "tune")
    fake = FakeDvc()
    obj = Objective("g", cfg.space, "metrics/train.json", "roc_auc", None, fake.run, fake.read,
                    lambda _: None)
    study = run_study(cfg, 0, total=10, storage=f"sqlite:///{tmp_path / 'g.db'}", objective=obj)
    assert sorted(t.params["train.xgboost.max_depth"] for t in study.trials) == [4, 5, 6]


def test_summary_table_best_and_plots(tmp_path):
    fake = FakeDvc()
    cfg = config(study="s", sampler="random")
    study = run_study(cfg, 3, total=4, storage=f"sqlite:///{tmp_path / 'o.db'}",
                      objective=objective(fake, []))
    rows = trial_rows(study)
    best = best_row(rows, "maximize")
    assert best["value"] == max(t.value for t in study.trials)
    table = trials_table(rows, "roc_auc", "maximize")
    lines = table.splitlines()
    assert lines[0] == "Params below are under `train`."  # shared prefix factored out
    assert lines[2] == ("| trial | experiment | state | roc_auc | model | xgboost.learning_rate "
                        "| xgboost.max_depth | seconds |")
    assert len(lines) == 2 + 2 + 4 and f"**{best['value']:.6g}**" in table
    points, line = history_points(rows, "maximize")
    assert [y for _, y in line] == [max(y for _, y in points[: i + 1]) for i in range(len(points))]
    summary = write_summary(study, cfg, tmp_path / "out")
    assert summary["best"]["experiment"] == best["experiment"]
    assert json.loads((tmp_path / "out" / "best.json").read_text())["best"]["value"] == best["value"]
    assert "<svg" in (tmp_path / "out" / "history.html").read_text()
    importance = (tmp_path / "out" / "importance.html").read_text()
    assert "train.xgboost.learning_rate" in importance


def test_verify_best_confirms_or_fails(tmp_path):
    fake = FakeDvc()
    cfg = config(study="v", sampler="random")
    obj = objective(fake, [])
    study = run_study(cfg, 1, total=2, storage=f"sqlite:///{tmp_path / 'v.db'}", objective=obj)
    name, stored, again = verify(study, obj, "maximize", force_run=fake.run, baseline="abc")
    assert name.startswith("s-verify-") and stored == again

    def drifting(name, values, cores, environ):
        rev = fake.run(name, values, cores)
        fake.files[rev, "metrics/train.json"] = json.dumps({"roc_auc": 0.1})
        return rev

    with pytest.raises(GateFailed, match="not deterministic"):
        verify(study, obj, "maximize", force_run=drifting, baseline="abc")
    # a different baseline commit may legitimately change the metric: reported, not failed
    assert verify(study, obj, "maximize", force_run=drifting, baseline="other")[2] == 0.1


def test_parallel_trials_get_disjoint_slots_and_their_thread_share(tmp_path):
    import threading
    import time as clock

    from traincycle.pinning import SlotPool

    fake, busy, seen = FakeDvc(), set(), []
    guard = threading.Lock()
    together = threading.Barrier(2, timeout=60)  # the first two trials wait for each other

    def run(name, values, cores, environ):
        with guard:  # no two running trials may share a core
            assert not busy & set(cores), (busy, cores)
            busy.update(cores)
            seen.append(len(busy))
        if name.endswith(("-0", "-1")):
            together.wait()  # broken (an error) unless both slots run at once
        clock.sleep(0.05)
        with guard:
            busy.difference_update(cores)
        return fake.run(name, values, cores)

    obj = Objective("p", config().space, "metrics/train.json", "roc_auc", None, run, fake.read,
                    lambda _: None, slots=SlotPool([(0,), (1,)]),
                    threads=lambda n: {"train.xgboost.n_jobs": n})
    cfg = config(study="p", sampler="tpe", startup_trials=2)
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    study = run_study(cfg, 5, total=4, storage=storage, objective=obj, jobs=2)
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE"] * 4
    assert max(seen) == 2, "the two slots never ran at once"
    assert {fake.cores[n] for n in fake.runs} == {(0,), (1,)}
    assert all(fake.values[n]["train.xgboost.n_jobs"] == 1 for n in fake.runs)
    assert all(t.user_attrs["threads"] == {"train.xgboost.n_jobs": 1} for t in study.trials)
    # --verify-best reruns the best trial with the thread count it ran with
    name, stored, again = verify(study, obj, "maximize", force_run=fake.run, baseline="abc")
    assert fake.values[name]["train.xgboost.n_jobs"] == 1 and again == stored


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_parallel_trials_try_and_score_what_one_at_a_time_trials_do(tmp_path, sampler):
    """--jobs 2 draws each trial's params in trial order from the seeded sampler (Optuna's own
    n_jobs reseeds it from the OS): trial n tries what trial n of --jobs 1 tries (TPE: during its
    random start-up trials) and, the params being the same, scores the same."""
    import time as clock

    from traincycle.pinning import SlotPool

    seen = {}
    for jobs in (1, 2):
        fake = FakeDvc()

        def run(name, values, cores, environ, fake=fake):
            clock.sleep(0.3 if name.endswith(("-0", "-3")) else 0.05)  # trials end out of order
            return fake.run(name, values, cores)

        slots = {"slots": SlotPool([(0,), (1,)])} if jobs == 2 else {}
        obj = Objective(f"j{jobs}", config().space, "metrics/train.json", "roc_auc", None, run,
                        fake.read, lambda _: None, **slots)
        cfg = config(study=f"j{jobs}", sampler=sampler, startup_trials=6)
        study = run_study(cfg, 11, total=6, storage=f"sqlite:///{tmp_path / 'j.db'}",
                          objective=obj, jobs=jobs)
        seen[jobs] = {t.number: (t.params, t.value) for t in study.trials}
    assert len(seen[1]) == 6 and seen[2] == seen[1]


def test_a_trial_behind_the_median_is_pruned_inside_train(tmp_path):
    """The reporter in a trial's process reports to the study and stops a hopeless trial."""
    import optuna

    from traincycle.models import boosting
    from traincycle.models.base import FitSpec
    from traincycle.pruning import ENV, TrialPruned, address, curve_key, reporter
    from traincycle.tune import make_pruner, open_study

    cfg = config(study="m", pruner="median", curve="dvclive/plots/metrics/val/roc_auc.tsv",
                 prune_warmup=5, prune_interval=5, startup_trials=2)
    storage = f"sqlite:///{tmp_path / 'm.db'}"
    study = open_study("m", storage, "maximize", optuna.samplers.RandomSampler(seed=0),
                       pruner=make_pruner(cfg))
    for _ in range(2):  # two earlier trials that climbed to 0.9
        trial = study.ask()
        for step in range(0, 40, 5):
            trial.report(0.8 + step / 400, step)
        study.tell(trial, 0.9)
    hopeless = study.ask()
    assert curve_key(cfg.curve) == "val/roc_auc"
    environ = {ENV: address(storage, "m", hopeless.number, "val/roc_auc", interval=5, startup=2, warmup=5)}
    rng = np.random.default_rng(0)  # noise: an xgboost that cannot beat a coin
    X, y = rng.normal(size=(400, 3)).astype(np.float32), rng.integers(0, 2, 400)
    spec = FitSpec(task="binary", n_classes=2, seed=0, feature_names=("a", "b", "c"),
                   progress=reporter(environ))
    with pytest.raises(TrialPruned, match=r"trial pruned at step 5: val/roc_auc = 0\.\d+"):
        boosting.fit(X, y, X, y[::-1].copy(), boosting.XGBoostConfig(n_estimators=200), spec)
    assert sorted(study.trials[hopeless.number].intermediate_values) == [0, 5]
    assert reporter({}) is None  # a plain `dvc repro`: nothing to report to, never pruned


def test_objective_marks_a_pruned_experiment_pruned(tmp_path):

    def run(name, values, cores, environ):
        assert environ == {"TRAINCYCLE_TRIAL": f"trial {name[-1]}"}
        raise ExperimentFailed(f"experiment {name} failed: error: trial pruned at step 60: ...")

    fake = FakeDvc()
    obj = Objective("q", config().space, "metrics/train.json", "roc_auc", "c.tsv", run, fake.read,
                    lambda _: None, pruning=lambda n: {"TRAINCYCLE_TRIAL": f"trial {n}"})
    study = run_study(config(study="q", sampler="random"), 0, total=2,
                      storage=f"sqlite:///{tmp_path / 'q.db'}", objective=obj)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert "trial pruned at step 60" in study.trials[0].user_attrs["pruned"]


def test_core_slots_and_thread_overrides():
    from types import SimpleNamespace

    from traincycle.pinning import child_env, core_slots, pinned, thread_overrides

    assert core_slots(2, [0, 1]) == [(0,), (1,)]
    assert core_slots(3, [0, 1, 2, 3, 4, 5, 6]) == [(0, 1, 2), (3, 4), (5, 6)]
    with pytest.raises(ConfigError, match="--jobs 3: this machine gives 2 core"):
        core_slots(3, [0, 1])
    sections = {"train.xgboost": SimpleNamespace(THREADS="n_jobs"), "train.logistic": SimpleNamespace()}
    assert thread_overrides(sections, 2) == {"train.xgboost.n_jobs": 2}
    assert child_env({"A": "1"}, 3)["OMP_NUM_THREADS"] == "3"
    assert pinned(["dvc", "exp"], (0, 1))[-4:] == ["--cpu-list", "0,1", "dvc", "exp"]
    assert pinned(["dvc"], ()) == ["dvc"]


def test_last_error_and_lookup_name_the_problem():
    from traincycle.errors import DataError
    from traincycle.experiment import last_error, lookup

    out = "Running stage 'train':\nerror: params train.xgboost: unknown key 'depth'\nERROR: failed"
    assert last_error(out) == "error: params train.xgboost: unknown key 'depth'"
    assert last_error("x\nERROR: failed to reproduce 'train'") == "ERROR: failed to reproduce 'train'"
    assert last_error("noise\nerror: params x: bad\n") == "error: params x: bad"
    assert lookup({"val": {"roc_auc": 0.9}}, "val.roc_auc", "m.json") == 0.9
    with pytest.raises(DataError, match=r"m.json: no key 'val.auc' \(found: roc_auc\)"):
        lookup({"val": {"roc_auc": 0.9}}, "val.auc", "m.json")
    with pytest.raises(DataError, match="expected a number"):
        lookup({"model": "xgboost"}, "model", "m.json")


def test_tune_settings_live_in_tune_yaml_with_params_yaml_as_fallback(tmp_path):
    """tune.yaml keeps the search out of params.yaml (and so out of `dvc exp show`)."""
    from traincycle.tune import load_tune_config

    space = {"train.depth": {"type": "int", "low": 1, "high": 3}}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 5, "train": {"depth": 2},
                                      "tune": {"study": "old", "space": space}}))
    assert load_tune_config(params, tmp_path / "tune.yaml")[1].study == "old"
    (tmp_path / "tune.yaml").write_text(yaml.safe_dump({"tune": {"study": "new", "space": space}}))
    seed, cfg, values = load_tune_config(params, tmp_path / "tune.yaml")
    assert (seed, cfg.study, values["train"]) == (5, "new", {"depth": 2})


@pytest.mark.parametrize("message", [
    "ERROR: Unable to acquire lock. Most likely another DVC process is running",
    "ERROR: 'refs/exps/stash' is busy, it is being blocked by:\n  (PID 4242): dvc exp run",
])
def test_a_dvc_command_that_meets_a_lock_is_retried(tmp_path, monkeypatch, message):
    """Both DVC's repository lock and git's lock on the experiments stash ref are retried."""
    import subprocess

    from traincycle import experiment

    calls = []

    def run(command, **kwargs):
        calls.append(command)
        failed = len(calls) == 1
        return subprocess.CompletedProcess(command, 255 if failed else 0, "", message if failed else "")

    monkeypatch.setattr(experiment.subprocess, "run", run)
    monkeypatch.setattr(experiment, "LOCK_WAIT_S", 0)
    assert experiment.dvc("exp", "run", cwd=tmp_path).returncode == 0
    assert len(calls) == 2


def test_an_experiment_waits_for_the_dvc_lock(tmp_path, monkeypatch):
    """`exp run` takes DVC's lock again after collecting the trial: it waits rather than failing."""
    import subprocess

    from traincycle import experiment

    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(experiment.subprocess, "run", run)
    monkeypatch.setattr(experiment, "experiment_rev", lambda name, cwd: "abc")
    assert experiment.run_experiment("t-1", {"train.depth": 2}, targets=("train",), cwd=tmp_path) == "abc"
    assert calls[0][:4] == ["dvc", "--wait-for-lock", "exp", "run"] and calls[0][-1] == "train"


def test_available_cores_without_an_affinity_mask(monkeypatch):
    """macOS and Windows have no os.sched_getaffinity: every core counts (serve sizes its pool on it)."""
    import os

    from traincycle.pinning import available_cores

    assert available_cores() == sorted(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert available_cores() == [0, 1, 2]


def test_the_pipeline_file_missing_or_broken_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not found; run `traincycle tune` from the project root"):
        load_pipeline(tmp_path / "dvc.yaml")
    (tmp_path / "dvc.yaml").write_text("stages: [unclosed\n")
    with pytest.raises(ConfigError, match=r"dvc\.yaml: cannot read the pipeline file \(") as caught:
        load_pipeline(tmp_path / "dvc.yaml")
    assert "\n" not in str(caught.value)
