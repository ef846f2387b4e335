"""Hyperparameter search with Optuna where every trial is a real DVC experiment.

A trial suggests values for the params declared in ``tune.space``, runs
``dvc exp run --temp --name <study>-trial-<n> -S key=value ... <stage>`` and reads its objective
from a metrics file *of that experiment's commit*. ``<stage>`` is the stage writing the tuned
metric (train): the trial stops there, so no trial ever runs evaluate and scores test. A trial's
evaluate/optimize figures in `dvc exp show` are therefore its baseline's, not its own; the one
look at test comes after choosing (`dvc exp apply <best>` then `dvc repro`). Every trial shows
up in ``dvc exp show`` and can be applied or branched like any hand-run experiment. The study
lives in RDB storage (SQLite in ``.traincycle/optuna.db`` by default), and rerunning resumes it.

Pruning (``tune.pruner: median``) happens inside the trial: tune hands each trial's process the
study's address (``pruning.ENV``), train reports its per-round val curve to the study as it fits
and stops when the pruner says the trial is behind; that failed experiment leaves no exp ref
and the trial is marked pruned. Without a pruner the curve (``tune.curve``) is only recorded
afterwards as the trial's intermediate values.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

from traincycle import pruning, trialpool
from traincycle.config import check_range, load_section, read_params, read_seed
from traincycle.errors import ConfigError, DataError, GateFailed, UserError
from traincycle.experiment import format_value, lookup
from traincycle.pinning import SlotPool
from traincycle.pipeline import read_spec
from traincycle.prewarm import Prewarm, TailWarmer

DEFAULT_STORAGE_PATH = ".traincycle/optuna.db"
#: the search settings: outside params.yaml, so they stay out of the experiment table
TUNE_FILE = "tune.yaml"
OUTPUT_DIR = ".traincycle/tune"
#: intermediate values recorded per trial at most (a curve may have thousands of steps)
MAX_CURVE_POINTS = 100
#: the summary's fANOVA importances import scikit-learn and SciPy (seconds of CPU): loaded while
#: the last trials run and a core is free, instead of after them
SUMMARY_PREWARM = Prewarm(["optuna.importance"])

Choice = bool | int | float | str


@dataclasses.dataclass(frozen=True)
class SpaceParam:
    """One searched param: a float/int range (optionally log-scaled or stepped) or choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Choice, ...] = ()

    def __post_init__(self) -> None:
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError("params tune.space: a categorical param needs `choices`")
            if self.low is not None or self.high is not None or self.log or self.step is not None:
                raise ConfigError("params tune.space: a categorical param takes only `choices`")
            for choice in self.choices:
                format_value(choice)  # refuse values that `dvc exp run -S` would mangle
            return
        if self.choices:
            raise ConfigError(f"params tune.space: `choices` is for categorical, not {self.type}")
        if self.low is None or self.high is None:
            raise ConfigError(f"params tune.space: a {self.type} param needs `low` and `high`")
        check_range("tune.space.high", self.high, self.low)
        if self.log:
            check_range("tune.space.low", self.low, 0.0, low_open=True)
            if self.step is not None:
                raise ConfigError("params tune.space: `log` and `step` cannot be combined")
        if self.step is not None:
            check_range("tune.space.step", self.step, 0.0, low_open=True)
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                if value is not None and value != int(value):
                    raise ConfigError(f"params tune.space: int param {name} must be whole, got {value}")


@dataclasses.dataclass(frozen=True)
class TuneConfig:
    """The `tune:` section: what to search, how, and what to optimise."""

    study: str = "tune"
    trials: int = 20
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    #: random trials before TPE starts modelling
    startup_trials: int = 10
    #: FILE:KEY of a validation metric, never one computed on the test split
    metric: str = "metrics/train.json:roc_auc"
    direction: Literal["maximize", "minimize"] = "maximize"
    #: SQLAlchemy URL; null: sqlite:///.traincycle/optuna.db; postgresql://... shares the study
    storage: str | None = None
    #: seconds between a running trial's heartbeats; one silent for 3 beats is failed and retried
    heartbeat: int = 30
    #: dvclive TSV of the per-step validation metric, recorded as intermediate values (or null)
    curve: str | None = None
    #: median: train reports `curve` live and stops trials behind the median of earlier ones
    pruner: Literal["none", "median"] = "none"
    #: steps (boosting rounds, epochs) before a trial may be pruned, and between two reports
    prune_warmup: int = 50
    prune_interval: int = 10
    space: dict[str, SpaceParam] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", self.study):
            raise ConfigError(f"params tune.study: {self.study!r}: use letters, digits, '_', '-', '.'")
        check_range("tune.trials", self.trials, 1)
        check_range("tune.startup_trials", self.startup_trials, 0)
        check_range("tune.heartbeat", self.heartbeat, 1)
        check_range("tune.prune_warmup", self.prune_warmup, 0)
        check_range("tune.prune_interval", self.prune_interval, 1)
        if self.pruner != "none" and not self.curve:
            raise ConfigError("params tune.pruner: pruning reads the per-step val curve; set tune.curve")
        if not self.space:
            raise ConfigError("params tune.space: declare at least one param to search")
        if self.sampler == "grid":
            for key, param in self.space.items():
                if param.type == "float" and param.step is None:
                    raise ConfigError(f"params tune.space.{key}: the grid sampler needs `step` "
                                      "(or `choices` as categorical) for a float")
                if param.log:
                    raise ConfigError(f"params tune.space.{key}: the grid sampler cannot use `log`")


def load_tune_config(
    params_path: str | Path, tune_path: str | Path = TUNE_FILE
) -> tuple[int, TuneConfig, dict[str, Any]]:
    """Seed, tune config and the raw params (for checking that searched keys exist).

    The `tune:` section lives in its own file (tune.yaml): no stage reads it, and DVC shows every
    key of params.yaml as a column of `dvc exp show`. A params.yaml that still holds it is read
    when there is no tune.yaml.
    """
    params = read_params(params_path)
    source = tune_path if Path(tune_path).exists() else params_path
    return read_seed(params), load_section(source, "tune", TuneConfig), params


def check_space(space: Mapping[str, SpaceParam], params: Mapping[str, Any]) -> None:
    """Every searched key must name an existing leaf of params.yaml outside `tune`."""
    for key in space:
        parts = key.split(".")
        if parts[0] == "tune":
            raise ConfigError(f"params tune.space: {key!r}: cannot search the tune section itself")
        node: Any = params
        for i, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node:
                where = ".".join(parts[:i]) or "params.yaml"
                raise ConfigError(
                    f"params tune.space: {key!r} is not in params.yaml (no {part!r} in {where})"
                )
            node = node[part]
        if isinstance(node, Mapping | list):
            raise ConfigError(f"params tune.space: {key!r} is a section, expected a single value")


def resolve_vars(text: str, variables: Mapping[str, Any]) -> str:
    """Substitute dvc.yaml `${name}` templates from its `vars`."""
    return re.sub(r"\$\{\s*([\w.]+)\s*\}", lambda m: str(variables.get(m.group(1), m.group(0))), text)


def pipeline_vars(dvc_yaml: Mapping[str, Any]) -> dict[str, Any]:
    """The inline `vars` of dvc.yaml merged into one mapping (file references skipped)."""
    merged: dict[str, Any] = {}
    for entry in dvc_yaml.get("vars") or []:
        if isinstance(entry, Mapping):
            merged.update(entry)
    return merged


def _paths(entries: Any, variables: Mapping[str, Any]) -> list[str]:
    out = []
    for entry in entries or []:
        names = entry.keys() if isinstance(entry, Mapping) else [entry]
        out += [resolve_vars(str(n), variables) for n in names]
    return out


def metric_stage(path: str, dvc_yaml: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The stage declaring metrics file `path`, and its resolved deps."""
    variables = pipeline_vars(dvc_yaml)
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        if path in _paths(stage.get("metrics"), variables):
            return name, _paths(stage.get("deps"), variables)
    raise ConfigError(f"params tune.metric: {path} is not declared as metrics of any stage in dvc.yaml")


def check_metric(metric: str, dvc_yaml: Mapping[str, Any]) -> tuple[str, str]:
    """Split FILE:KEY and refuse a metric that is not a validation metric of some stage.

    A metric written by `evaluate`, or by any stage that reads a test split, would let test
    results pick the model: the one thing the test split must never do.
    """
    path, sep, key = metric.partition(":")
    if not sep or not path or not key:
        raise ConfigError(
            f"params tune.metric: {metric!r}: expected FILE:KEY, e.g. metrics/train.json:roc_auc"
        )
    name, deps = metric_stage(path, dvc_yaml)
    reads_test = [d for d in deps if Path(d).stem == "test" or "test" in Path(d).parts]
    if name == "evaluate" or reads_test:
        why = f"reads {reads_test[0]}" if reads_test else "is the test-set evaluation"
        raise ConfigError(
            f"params tune.metric: {path} comes from stage {name!r}, which {why}; tuning on it "
            "lets the test split pick the model. Use a validation metric such as "
            "metrics/train.json:roc_auc"
        )
    return path, key


def suggest(trial: Any, space: Mapping[str, SpaceParam]) -> dict[str, Any]:
    """Ask the Optuna trial for one value per searched param."""
    values: dict[str, Any] = {}
    for key, p in space.items():
        if p.type == "categorical":
            values[key] = trial.suggest_categorical(key, list(p.choices))
        elif p.type == "int":
            values[key] = trial.suggest_int(key, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
        else:
            values[key] = trial.suggest_float(key, p.low, p.high, step=p.step, log=p.log)
    return values


def grid_space(space: Mapping[str, SpaceParam]) -> dict[str, list[Any]]:
    """The explicit value lists the grid sampler walks through."""
    grid: dict[str, list[Any]] = {}
    for key, p in space.items():
        if p.type == "categorical":
            grid[key] = list(p.choices)
        else:
            step = p.step or 1
            count = round((p.high - p.low) / step) + 1
            values = [p.low + i * step for i in range(count) if p.low + i * step <= p.high + 1e-12]
            grid[key] = [int(v) for v in values] if p.type == "int" else [round(v, 12) for v in values]
    return grid


def make_sampler(cfg: TuneConfig, seed: int, jobs: int = 1) -> Any:
    """The configured Optuna sampler, seeded (TPE as a constant liar when trials run at once)."""
    import optuna

    if cfg.sampler == "grid":
        return optuna.samplers.GridSampler(grid_space(cfg.space), seed=seed)
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant liar: running trials count as bad, so parallel trials do not all pick one spot
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.startup_trials,
                                      constant_liar=jobs > 1)


def make_pruner(cfg: TuneConfig) -> Any:
    """The configured Optuna pruner (None: no pruning)."""
    if cfg.pruner == "none":
        return None
    return pruning.median_pruner(prune_startup(cfg), cfg.prune_warmup)


def prune_startup(cfg: TuneConfig) -> int:
    """Complete trials needed before pruning: the sampler's startup, at least 1, at most 5."""
    return max(1, min(cfg.startup_trials, 5))


def default_storage(root: str | Path = ".") -> str:
    """SQLite URL of the local study database (git-ignored), creating its folder.

    Absolute: a trial's train runs in a temp copy of the repository and reports to it.
    """
    path = Path(root).resolve() / DEFAULT_STORAGE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def parse_curve(text: str) -> list[tuple[int, float]]:
    """(step, value) pairs from a dvclive TSV (`step` column plus one metric column)."""
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    if not rows or "step" not in rows[0]:
        raise DataError("curve file: expected a dvclive TSV with a `step` column")
    value_col = [c for c in rows[0] if c not in ("step", "timestamp")][-1]
    return [(int(r["step"]), float(r[value_col])) for r in rows if r[value_col] not in ("", None)]


def thin(points: list[tuple[int, float]], limit: int = MAX_CURVE_POINTS) -> list[tuple[int, float]]:
    """At most `limit` evenly spaced points, always keeping the last one."""
    if len(points) <= limit:
        return points
    stride = -(-len(points) // limit)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else [*kept, points[-1]]


#: (experiment name, overrides, cores to pin it to or (), extra environment) -> its commit
Runner = Callable[[str, Mapping[str, Any], tuple[int, ...], Mapping[str, str]], str]
Reader = Callable[[str, str], str]


@dataclasses.dataclass(frozen=True)
class Objective:
    """One trial = one experiment: suggest, run, read the metric (and the curve) from its commit."""

    study_name: str
    space: Mapping[str, SpaceParam]
    metric_path: str
    metric_key: str
    curve: str | None
    run: Runner
    read: Reader
    echo: Callable[[str], None] = print
    #: commit the trials branch from (recorded so --verify-best can tell a code change apart)
    baseline: str | None = None
    #: slots of cores for trials running at once (--jobs); None: one trial at a time, unpinned
    slots: SlotPool | None = None
    #: thread-param overrides for a slot of n cores (the fitted family's THREADS hook)
    threads: Callable[[int], dict[str, int]] = lambda _cores: {}
    #: environment telling trial n's train where to report its curve (pruning), or None
    pruning: Callable[[int], dict[str, str]] | None = None

    def __call__(self, trial: Any) -> float:
        return self.measure(trial, self.suggest(trial))

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw the trial's params (done in trial order, so a seeded study repeats its draws)."""
        return suggest(trial, self.space)

    def measure(self, trial: Any, values: Mapping[str, Any]) -> float:
        """Run the trial's experiment with `values` and return its objective."""
        name = f"{self.study_name}-trial-{trial.number}"
        trial.set_user_attr("experiment", name)
        if self.baseline:
            trial.set_user_attr("baseline", self.baseline)
        shown = " ".join(f"{k}={format_value(v)}" for k, v in values.items())
        self.echo(f"trial {trial.number}: dvc exp run --name {name} {shown}")
        start = time.perf_counter()
        try:
            with self.slots.slot() if self.slots else nullcontext(()) as cores:
                pins = self.threads(len(cores)) if cores else {}
                if pins:  # recorded: --verify-best reruns the trial with the same thread counts
                    trial.set_user_attr("threads", pins)
                environ = self.pruning(trial.number) if self.pruning else {}
                rev = self.run(name, {**values, **pins}, cores, environ)
            trial.set_user_attr("rev", rev)
            doc = json.loads(self.read(rev, self.metric_path))
            value = lookup(doc, self.metric_key, f"{self.metric_path} of {name}")
            if self.curve and not self.pruning:  # a pruned study's train reported it live
                for step, point in thin(parse_curve(self.read(rev, self.curve))):
                    trial.report(point, step)
        except (UserError, json.JSONDecodeError) as exc:
            if pruning.MESSAGE in str(exc):
                import optuna

                trial.set_user_attr("pruned", str(exc))
                self.echo(f"trial {trial.number}: pruned: {exc}")
                raise optuna.TrialPruned(str(exc)) from None
            trial.set_user_attr("error", str(exc))
            self.echo(f"trial {trial.number}: failed: {exc}")
            raise
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
        self.echo(f"trial {trial.number}: {self.metric_key} = {value:.6g} "
                  f"({trial.user_attrs['seconds']:.1f} s)")
        return value


def open_study(
    name: str, storage: Any, direction: str, sampler: Any, heartbeat: int = 30, pruner: Any = None
) -> Any:
    """Create or resume study `name` in `storage` (a URL or an open storage); refuse a direction
    change."""
    import optuna

    from traincycle.studydb import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if isinstance(storage, str):
        storage = open_storage(storage, heartbeat)
    study = optuna.create_study(
        study_name=name, storage=storage, sampler=sampler,
        direction=direction, pruner=pruner or optuna.pruners.NopPruner(), load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"params tune.direction: study {name!r} was created to {study.direction.name.lower()}; "
            "use a new --study name to change direction"
        )
    return study


def run_study(
    cfg: TuneConfig, seed: int, *, total: int, storage: str, objective: Objective, jobs: int = 1
) -> Any:
    """Run trials (`jobs` at once) until the study holds `total` finished ones; return the study.

    Trials are asked and their params drawn in order by this thread (see `traincycle.trialpool`),
    so `jobs` does not change which params a seeded random or grid study tries.

    The sampler is seeded with `seed` plus the number of trials already stored, so a resumed
    study neither repeats the first session's random draws nor depends on how it was split
    into sessions beyond that count. Other workers may share the study (same storage URL):
    their running trials count toward `total` too (see `traincycle.studydb`).
    """
    import optuna

    from traincycle.pinning import available_cores
    from traincycle.studydb import adopt_orphans, finished, open_storage, total_reached

    rdb = open_storage(storage, cfg.heartbeat)  # one connection pool for the probe and the study
    probe = open_study(cfg.study, rdb, cfg.direction, optuna.samplers.RandomSampler(seed=seed))
    already = len(probe.get_trials(deepcopy=False))
    study = open_study(cfg.study, rdb, cfg.direction, make_sampler(cfg, seed + already, jobs),
                       pruner=make_pruner(cfg))
    adopt_orphans(study, cfg.heartbeat)
    todo = total - finished(study)
    if cfg.sampler == "grid":
        todo = min(todo, _grid_size(cfg) - finished(study))
    if todo > 0:
        tail = TailWarmer(SUMMARY_PREWARM, todo, len(available_cores()))

        def draw(trial: Any) -> dict[str, Any]:
            tail.started()
            return objective.suggest(trial)

        trialpool.optimize(study, draw, objective.measure, trials=todo, jobs=min(jobs, todo),
                           catch=(UserError, json.JSONDecodeError), callbacks=[tail],
                           stop=lambda study: total_reached(study, total))
    return study


def _grid_size(cfg: TuneConfig) -> int:
    size = 1
    for values in grid_space(cfg.space).values():
        size *= len(values)
    return size


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One plain dict per trial: number, experiment, state, value, params, seconds."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({
            "number": t.number,
            "experiment": t.user_attrs.get("experiment", ""),
            "state": t.state.name.lower(),
            "value": t.value,
            "params": dict(t.params),
            "seconds": t.user_attrs.get("seconds"),
            "error": t.user_attrs.get("error", ""),
        })
    return rows


def best_row(rows: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The complete trial with the best value (lowest number on ties)."""
    done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    if not done:
        return None
    sign = -1 if direction == "maximize" else 1
    return min(done, key=lambda r: (sign * r["value"], r["number"]))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


def common_prefix(keys: list[str]) -> str:
    """The dotted prefix all keys share ('train.xgboost.' for its params), or ''."""
    if len(keys) < 2:
        return ""
    parts = [k.split(".")[:-1] for k in keys]
    shared = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        shared.append(level[0])
    return ".".join(shared) + "." if shared else ""


def trials_table(rows: list[dict[str, Any]], metric: str, direction: str) -> str:
    """A Markdown table of the trials, the best one in bold; a shared param prefix is factored out."""
    keys = sorted({k for r in rows for k in r["params"]})
    prefix = common_prefix(keys)
    best = best_row(rows, direction)
    head = ["trial", "experiment", "state", metric, *(k[len(prefix):] for k in keys), "seconds"]
    lines = [f"Params below are under `{prefix.rstrip('.')}`.\n"] if prefix else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: r["number"]):
        value = _cell(r["value"])
        if best is not None and r["number"] == best["number"]:
            value = f"**{value}**"
        cells = [str(r["number"]), f"`{r['experiment']}`", r["state"], value,
                 *(_cell(r["params"].get(k)) for k in keys), _cell(r["seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def history_points(
    rows: list[dict[str, Any]], direction: str
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(trial, value) of complete trials and the best-so-far step line."""
    points = [(float(r["number"]), r["value"]) for r in sorted(rows, key=lambda r: r["number"])
              if r["state"] == "complete" and r["value"] is not None]
    line, best = [], None
    for x, y in points:
        best = y if best is None else (max(best, y) if direction == "maximize" else min(best, y))
        line.append((x, best))
    return points, line


def importances(study: Any) -> dict[str, float]:
    """fANOVA parameter importances, or {} when there is too little to tell (< 2 complete)."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (RuntimeError, ValueError):  # e.g. every param constant across trials
        return {}


def write_summary(study: Any, cfg: TuneConfig, out_dir: str | Path) -> dict[str, Any]:
    """Write trials.md, best.json, history.html and importance.html; return the best summary."""
    from traincycle.charts import bar_chart, html_page, line_chart
    from traincycle.io import write_json, write_text

    out = Path(out_dir)
    rows = trial_rows(study)
    best = best_row(rows, cfg.direction)
    table = trials_table(rows, cfg.metric.partition(":")[2], cfg.direction)
    failed = "".join(f"- trial {r['number']}: {r['error']}\n" for r in rows if r["error"])
    failed = f"\nFailed trials:\n\n{failed}" if failed else ""
    write_text(f"# Study `{cfg.study}`: {cfg.direction} `{cfg.metric}`\n\n{table}\n{failed}",
               out / "trials.md")
    summary = {
        "study": cfg.study, "metric": cfg.metric, "direction": cfg.direction,
        "trials": len(rows), "complete": sum(r["state"] == "complete" for r in rows),
        "best": None if best is None else {
            "trial": best["number"], "experiment": best["experiment"], "value": best["value"],
            "params": best["params"],
        },
    }
    write_json(summary, out / "best.json", digits=17)  # exact: --verify-best compares bit for bit
    points, line = history_points(rows, cfg.direction)
    metric_key = cfg.metric.partition(":")[2]
    write_text(html_page(f"{cfg.study}: optimisation history",
                         line_chart(f"{metric_key} per trial", points, line,
                                    x_label="trial", y_label=metric_key)), out / "history.html")
    weights = sorted(importances(study).items(), key=lambda kv: (-kv[1], kv[0]))
    write_text(html_page(f"{cfg.study}: parameter importance",
                         bar_chart("fANOVA importance of each param", weights,
                                   x_label="share of objective variance")), out / "importance.html")
    return summary


def verify(
    study: Any, objective: Objective, direction: str, *, force_run: Runner, baseline: str | None
) -> tuple[str, float, float]:
    """Rerun the best trial's params as a forced experiment; confirm the metric matches exactly.

    Raises GateFailed when it differs on the same baseline commit (training is not
    deterministic); returns (experiment name, stored value, rerun value).
    """
    best = best_row(trial_rows(study), direction)
    if best is None:
        raise UserError(f"study {study.study_name!r} has no complete trial to verify")
    name = f"{objective.study_name}-verify-{best['number']}"
    trial = study.get_trials(deepcopy=False)[best["number"]]
    rev = force_run(name, {**best["params"], **trial.user_attrs.get("threads", {})}, (), {})
    doc = json.loads(objective.read(rev, objective.metric_path))
    again = lookup(doc, objective.metric_key, f"{objective.metric_path} of {name}")
    same_base = baseline is None or trial.user_attrs.get("baseline") in (None, baseline)
    if again != best["value"] and same_base:
        raise GateFailed(
            f"--verify-best: {name} gave {objective.metric_key} = {again!r}, trial "
            f"{best['number']} gave {best['value']!r}: training is not deterministic"
        )
    return name, best["value"], again


def load_pipeline(path: str | Path = "dvc.yaml") -> dict[str, Any]:
    """dvc.yaml as a mapping, with a clear error when missing or unreadable (`pipeline.read_spec`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found; run `traincycle tune` from the project root")
    return read_spec(path)


def tune_project(
    *,
    params_path: str | Path = "params.yaml",
    tune_path: str | Path = TUNE_FILE,
    trials: int | None = None,
    study: str | None = None,
    storage: str | None = None,
    verify_best: bool = False,
    jobs: int = 1,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`traincycle tune`: check the config, run/resume the study, write the summary, verify."""
    from traincycle.experiment import git, read_at_rev, run_experiment

    seed, cfg, params = load_tune_config(params_path, tune_path)
    pipeline = load_pipeline("dvc.yaml")
    cfg = dataclasses.replace(cfg, study=study or cfg.study, storage=storage or cfg.storage,
                              trials=trials or cfg.trials)
    check_space(cfg.space, params)
    metric_path, metric_key = check_metric(cfg.metric, pipeline)
    baseline = git("rev-parse", "HEAD").strip()
    untracked = [line[3:] for line in git("status", "--porcelain").splitlines() if line.startswith("??")]
    if untracked:
        # --temp experiments are git copies: files git does not know about are left behind
        shown = ", ".join(untracked[:5]) + (" …" if len(untracked) > 5 else "")
        echo(f"warning: untracked files are not copied into the trial experiments: {shown} "
             "(git add them, or the trials run without them)")
    url = cfg.storage or default_storage()
    stage = metric_stage(metric_path, pipeline)[0]
    objective = Objective(
        study_name=cfg.study, space=cfg.space, metric_path=metric_path, metric_key=metric_key,
        # only up to the metric's stage: a trial never reaches evaluate (the test split)
        curve=cfg.curve,
        run=lambda name, values, cores, environ: run_experiment(name, values, targets=(stage,), cores=cores,
                                                                environ=environ),
        read=lambda rev, path: read_at_rev(rev, path), echo=echo, baseline=baseline,
        **parallel(jobs, params, echo),
        pruning=None if cfg.pruner == "none" else lambda number: {pruning.ENV: pruning.address(
            url, cfg.study, number, pruning.curve_key(cfg.curve or ""), interval=cfg.prune_interval,
            startup=prune_startup(cfg), warmup=cfg.prune_warmup)},
    )
    echo(f"study {cfg.study!r} in {url}: {cfg.sampler} sampler, {cfg.direction} {cfg.metric}")
    if jobs > 1:
        shown = " | ".join(",".join(map(str, slot)) for slot in objective.slots.cores)
        echo(f"{jobs} trials at once, pinned to cores {shown}; each trial's thread params set to its share")
    result = run_study(cfg, seed, total=cfg.trials, storage=url, objective=objective, jobs=jobs)
    out_dir = Path(OUTPUT_DIR) / cfg.study
    summary = write_summary(result, cfg, out_dir)
    echo("")
    echo(trials_table(trial_rows(result), metric_key, cfg.direction))
    best = summary["best"]
    if best is None:
        raise UserError(f"study {cfg.study!r}: no trial completed; see the errors above")
    echo(f"\nbest: trial {best['trial']} ({best['experiment']}) {metric_key} = {best['value']:.6g}")
    echo(f"  params: {json.dumps(best['params'])}")
    echo(f"  apply: dvc exp apply {best['experiment']}   branch: dvc exp branch "
         f"{best['experiment']} <branch>")
    echo(f"  report: {out_dir}/trials.md, history.html, importance.html, best.json")
    echo(f"  trials stopped at stage {stage!r}: none scored test; after choosing, "
         "`dvc exp apply` it and `dvc repro` for the one look at test")
    if verify_best:
        name, stored, again = verify(
            result, objective, cfg.direction, baseline=baseline,
            # the metric's stage forced (a real retrain, not a run-cache restore), nothing after it
            force_run=lambda n, values, cores, environ: run_experiment(
                n, values, force=True, targets=(stage,), single=True, cores=cores, environ=environ),
        )
        verdict = "identical" if again == stored else "differs (the code changed since that trial)"
        echo(f"verify: {name} reran the best params: {metric_key} = {again!r} vs {stored!r}: {verdict}")
        summary["verified"] = {"experiment": name, "value": again, "identical": again == stored}
    return summary


def parallel(jobs: int, params: Mapping[str, Any], echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Objective fields for `jobs` trials at once: core slots and the fitted families' thread params.

    One job runs unpinned with the params as they are (the study reproduces a plain
    `dvc exp run`); more split this process's cores into disjoint slots (see `pinning`).
    """
    if jobs == 1:
        return {}
    from traincycle.config import build
    from traincycle.models import family_module
    from traincycle.pinning import available_cores, core_slots, thread_overrides
    from traincycle.train import SECTION, TrainConfig

    slots = core_slots(jobs, available_cores())
    try:
        train = build(TrainConfig, params.get("train") or {}, "train")
    except ConfigError as exc:  # not traincycle's train stage: pin the cores, leave its params alone
        echo(f"warning: no thread params pinned ({exc}); trials are still pinned to their cores")
        return {"slots": SlotPool(slots)}
    sections = {f"train.{SECTION[f]}": family_module(f) for f in train.families()}
    return {"slots": SlotPool(slots), "threads": lambda n: thread_overrides(sections, n)}
