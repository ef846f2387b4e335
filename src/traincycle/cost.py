"""Compute cost of each stage run: CPU and wall seconds, peak memory, energy and CO2e estimates.

Each stage script is wrapped in `tracked(stage)`; on success it writes
`.traincycle/cost/<stage>.json` (the latest run) and appends the same record to
`.traincycle/cost/history.jsonl`. That folder is git-ignored and no stage declares it: the
figures vary from run to run, so they never enter DVC outputs or metrics.

Energy is estimated, not metered (this kind of machine has no RAPL counters, and codecarbon
estimates from CPU load the same way but spends ~3 s starting its tracker, per stage)::

    joules = cpu_seconds * watts_per_core + peak_memory_gb * 0.375 W/GB * wall_seconds
    co2e_g = joules / 3.6e6 * carbon_intensity (gCO2e/kWh of the grid)

`watts_per_core` (default 5 W: a server CPU's TDP over its cores, e.g. 280 W / 64 cores) comes
from `$TRAINCYCLE_WATTS_PER_CORE`; 0.375 W/GB is codecarbon's memory constant (3 W per 8 GB).
The grid is `$TRAINCYCLE_COUNTRY` (ISO 3166 alpha-3, as codecarbon's `country_iso_code`), with
2023 intensities from codecarbon's `global_energy_mix.json` (Our World in Data / Ember); the
world average is the IEA's 475 g/kWh. `$TRAINCYCLE_CARBON_INTENSITY` overrides the table.

Each record carries the git revision and a digest of uncommitted changes to code and params,
so `traincycle report` can find the cost of a clean run of the base revision.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from traincycle.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

COST_DIR = Path(".traincycle/cost")
HISTORY = "history.jsonl"
#: process start as seen by this module (imported at the top of every stage script)
_STARTED = time.perf_counter()
MEMORY_WATTS_PER_GB = 0.375
DEFAULT_WATTS_PER_CORE = 5.0
WORLD = 475.0
#: gCO2e/kWh, 2023 (codecarbon 3.3 data/private_infra/global_energy_mix.json)
CARBON_INTENSITY = {
    "AUS": 548.692, "BRA": 98.348, "CAN": 170.043, "CHN": 582.317, "DEU": 380.95, "ESP": 174.05,
    "FIN": 79.158, "FRA": 56.039, "GBR": 237.589, "IND": 713.441, "IRL": 290.805, "ITA": 330.718,
    "JPN": 485.392, "KOR": 430.567, "NLD": 267.622, "NOR": 30.08, "POL": 661.926, "SWE": 40.695,
    "USA": 369.473, "ZAF": 707.686, "WORLD": WORLD,
}
#: what the stage itself adds (e.g. FLOPs); reset per tracked run
_notes: dict[str, Any] = {}
#: code and params whose uncommitted edits make a run differ from its revision
SOURCES = ("src", "stages", "params.yaml", "dvc.yaml", "schema.yaml")


def note(**values: Any) -> None:
    """Add figures to the current stage's cost record (e.g. FLOPs)."""
    _notes.update(values)


def grid(environ: Mapping[str, str] | None = None) -> tuple[str, float, float]:
    """(country, gCO2e/kWh, watts per busy core) from the environment; unknown values are errors."""
    env = os.environ if environ is None else environ
    country = env.get("TRAINCYCLE_COUNTRY", "WORLD").strip().upper() or "WORLD"
    if "TRAINCYCLE_CARBON_INTENSITY" in env:
        intensity = _positive(env, "TRAINCYCLE_CARBON_INTENSITY", "gCO2e per kWh")
    elif country in CARBON_INTENSITY:
        intensity = CARBON_INTENSITY[country]
    else:
        raise ConfigError(
            f"$TRAINCYCLE_COUNTRY: no carbon intensity for {country!r}; use one of "
            f"{', '.join(sorted(CARBON_INTENSITY))} or set $TRAINCYCLE_CARBON_INTENSITY (g/kWh)"
        )
    watts = _positive(env, "TRAINCYCLE_WATTS_PER_CORE", "watts") if "TRAINCYCLE_WATTS_PER_CORE" in env \
        else DEFAULT_WATTS_PER_CORE
    return country, intensity, watts


def _positive(env: Mapping[str, str], name: str, what: str) -> float:
    try:
        value = float(env[name])
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"${name}: expected a positive number of {what}, got {env[name]!r}")
    return value


def usage() -> dict[str, float]:
    """CPU seconds (this process and its children), wall seconds and peak RSS so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {
        "wall_seconds": time.perf_counter() - _STARTED,
        "cpu_seconds": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "peak_memory_mb": max(me.ru_maxrss, kids.ru_maxrss) * scale / 2**20,
    }


def estimate(figures: Mapping[str, float], intensity: float, watts_per_core: float) -> dict[str, float]:
    """Energy (Wh) and CO2e (g) from CPU seconds, wall seconds and peak memory."""
    joules = figures["cpu_seconds"] * watts_per_core \
        + figures["peak_memory_mb"] / 1024 * MEMORY_WATTS_PER_GB * figures["wall_seconds"]
    kwh = joules / 3.6e6
    return {"energy_wh": kwh * 1000, "co2e_g": kwh * intensity}


def source_state(cwd: str | Path = ".") -> dict[str, Any]:
    """The git revision and a digest of uncommitted changes to code and params (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.decode(errors="replace")

    rev = git("rev-parse", "--verify", "-q", "HEAD")
    if rev is None:
        return {"rev": None, "changes": None}
    diff = git("diff", "HEAD", "--binary", "--", *SOURCES) or ""
    return {"rev": rev.strip(), "changes": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else None}


def record(stage: str, folder: Path = COST_DIR, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write this process's cost so far as `stage`'s latest record and append it to the history."""
    country, intensity, watts = grid(environ)
    figures = usage()
    doc = {
        "stage": stage, **source_state(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures, **estimate(figures, intensity, watts),
        "country": country, "carbon_intensity": intensity, "watts_per_core": watts, **_notes,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stage}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    with (folder / HISTORY).open("a", encoding="utf-8") as out:
        out.write(json.dumps(doc) + "\n")
    return doc


def skip_exit_collection() -> None:
    """Skip the interpreter's last garbage collection at exit: `gc.freeze()` as the last atexit
    handler (handlers run last-registered first, before the modules are torn down).

    A stage process exits right after its outputs are written and closed; that last pass over every
    object its imports made (pandas, scikit-learn, xgboost, shap, Great Expectations) costs 0.1 to
    0.7 CPU s per stage (evaluate the most), seven times in a cold `dvc repro`. The objects are
    reclaimed with the process, and Python promises no finalizer for objects alive at exit anyway.
    """
    atexit.unregister(gc.freeze)  # once per process; handlers registered later run before it
    atexit.register(gc.freeze)


def tracked(stage: str, folder: Path = COST_DIR) -> Callable[[F], F]:
    """Decorate a stage's main: record its cost when it succeeds (a bad env var fails it first),
    and skip the garbage collection at the process's exit (`skip_exit_collection`)."""
    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            from traincycle.errors import report_errors

            skip_exit_collection()
            report_errors(grid)()  # a typo in $TRAINCYCLE_COUNTRY stops before any work
            _notes.clear()
            result = func(*args, **kwargs)
            with contextlib.suppress(OSError):  # local bookkeeping never fails a finished stage
                record(stage, folder)
            return result
        return run  # type: ignore[return-value]
    return wrap


def torch_flops(predict: Callable[[Any], Any], rows: Any) -> int | None:
    """FLOPs torch counts while `predict(rows)` runs (torch.utils.flop_counter); None if none ran."""
    if "torch" not in sys.modules:
        return None
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        predict(rows)
    return int(counter.get_total_flops()) or None


def note_model_flops(model: Any, frame: Any, epochs: int) -> None:
    """Note a torch model's FLOPs: one row's forward pass, and training as ~3x forward per row
    (backward costs about twice the forward) over every train row and epoch run."""
    per_row = torch_flops(model.predict, frame.head(1))
    if per_row:
        note(inference_flops_per_row=per_row, training_flops=3 * per_row * len(frame) * max(epochs, 1))


def read_costs(folder: str | Path = COST_DIR) -> dict[str, dict[str, Any]]:
    """The latest record per stage."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict):
                out[path.stem] = doc
    return out


def history(folder: str | Path = COST_DIR) -> Iterator[dict[str, Any]]:
    """Every recorded run, oldest first; unreadable lines are skipped."""
    path = Path(folder) / HISTORY
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict):
                yield doc


def base_costs(rev_sha: str, folder: str | Path = COST_DIR) -> dict[str, dict[str, Any]]:
    """The latest run of each stage at `rev_sha` with no uncommitted code or params changes."""
    out: dict[str, dict[str, Any]] = {}
    for doc in history(folder):
        if doc.get("rev") == rev_sha and doc.get("changes") is None and "stage" in doc:
            out[doc["stage"]] = doc
    return out


STAGES = ("ingest", "validate", "split", "featurize", "train", "evaluate", "optimize")
FIELDS = (("cpu_seconds", "CPU s"), ("wall_seconds", "wall s"), ("peak_memory_mb", "peak MB"),
          ("energy_wh", "Wh"), ("co2e_g", "gCO2e"))


def cost_table(new: Mapping[str, Mapping[str, Any]], old: Mapping[str, Mapping[str, Any]],
               stages: tuple[str, ...] = ()) -> str:
    """Markdown: per stage and in total, this run's cost and the change from the base run."""
    order = [s for s in stages if s in new] + sorted(set(new) - set(stages))
    if not order:
        return ""
    rows = []
    for stage in [*order, "total"]:
        names = order if stage == "total" else [stage]
        docs = [new[s] for s in names]
        bases = [old[s] for s in names if s in old]
        cells = [f"**{stage}**" if stage == "total" else stage]
        for key, _ in FIELDS:
            agg = max if key == "peak_memory_mb" else sum
            value = agg(float(d.get(key, 0.0)) for d in docs)
            base = agg(float(d.get(key, 0.0)) for d in bases) if len(bases) == len(docs) else None
            cells.append(_cell(value, base))
        rows.append(cells)
    head = ["stage", *(label for _, label in FIELDS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(value: float, base: float | None) -> str:
    text = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    if base is None or base == 0:
        return text
    return f"{text} ({(value - base) / base:+.0%})"


def flops_lines(new: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """FLOPs noted by stages (torch families), one line each."""
    lines = []
    for stage, doc in sorted(new.items()):
        for key in ("inference_flops_per_row", "training_flops"):
            if doc.get(key):
                lines.append(f"- {stage}: {key.replace('_', ' ')} {float(doc[key]):.3g}")
    return lines


def revision_sha(rev: str) -> str:
    """The commit `rev` names (a UserError naming --rev if git does not know it)."""
    from traincycle.errors import UserError

    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"],
                              capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        raise UserError(f"--rev {rev!r}: not a git revision of this repository") from None
    return done.stdout.strip()


def card_with_cost(card: str, rev: str, folder: str | Path = COST_DIR) -> str:
    """The committed model card plus this machine's compute cost vs `rev` (written outside DVC)."""
    section = cost_section(read_costs(folder), base_costs(revision_sha(rev), folder), rev, STAGES, "##")
    if not section:
        section = "## Compute cost\n\nNo stage run is recorded in `.traincycle/cost/` on this machine."
    return card.rstrip("\n") + "\n\n" + section + "\n"


def cost_section(new: Mapping[str, Mapping[str, Any]], old: Mapping[str, Mapping[str, Any]], rev: str,
                 stages: tuple[str, ...] = (), level: str = "###") -> str:
    """The run's compute cost vs `rev`'s recorded clean run (Markdown; empty when nothing recorded)."""
    table = cost_table(new, old, stages)
    if not table:
        return ""
    any_doc = next(iter(new.values()))
    basis = (f"Estimated: {any_doc.get('watts_per_core')} W per busy core, {any_doc.get('carbon_intensity')} "
             f"gCO2e/kWh ({any_doc.get('country')}); see `src/traincycle/cost.py`.")
    compared = (f"Changes are against the last clean run of `{rev}` on this machine."
                if old else f"No clean run of `{rev}` is recorded on this machine, so no changes are shown.")
    parts = [f"{level} Compute cost (this machine, last run of each stage; not committed)", table,
             "\n".join(flops_lines(new)), f"{basis} {compared}"]
    return "\n\n".join(p for p in parts if p)
