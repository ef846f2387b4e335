"""Shared benchmark plumbing: copy the project, resolve stage commands, time and measure runs.

Benchmarks report ratios against a baseline measured in the same run; they never assert
wall-clock figures (these machines are noisy).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from traincycle.pipeline import stage_commands  # noqa: F401 - re-exported for the scripts

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPY = ["dvc.yaml", "params.yaml", "schema.yaml", "stages", "src", "data/source", ".dvc/config", ".dvcignore",
        ".gitignore"]


@dataclass(frozen=True)
class Run:
    """One measured command: wall seconds, the child's CPU seconds and peak resident memory.

    CPU seconds (user + system, children included) depend far less on other load than wall time.
    """

    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str
    cpu_seconds: float = 0.0


def load_line(before: float) -> str:
    """The 1-minute load average before a run (`before`) and now: how busy the shared cores were."""
    now = os.getloadavg()[0]
    return f"load average (1 min) {before:.1f} before, {now:.1f} after, on {os.cpu_count()} cores"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads): steadier than wall
    time on a shared machine."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def env(forkserver: bool = True) -> dict[str, str]:
    """The environment for child commands: this interpreter's bin first on PATH; stages forked
    from a warm server (traincycle.forkserver) as users run them, or each its own process."""
    out = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out["TRAINCYCLE_FORKSERVER"] = "1" if forkserver else "0"
    return out


def forkserver_cpu(folder: Path) -> dict[int, float]:
    """CPU seconds so far of each fork server whose socket is under `folder` (XDG_RUNTIME_DIR),
    the stages it forked and has reaped included: a stage forked from it is not its launcher's
    child, so its CPU is counted here."""
    import psutil

    out = {}
    for proc in psutil.process_iter(["cmdline"]):
        args = proc.info["cmdline"] or []
        if "traincycle.forkserver" in " ".join(args) and any(str(folder) in a for a in args):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                out[proc.pid] = times.user + times.system + times.children_user + times.children_system
    return out


@contextmanager
def own_servers() -> Iterator[list[float]]:
    """A measure's own fork servers: a fresh socket folder (XDG_RUNTIME_DIR), so its stages start
    their own server rather than find one an earlier command left warm; at the end the CPU its
    servers spent (the stages they forked, not the launching command's children) is put in the
    yielded list and they are stopped. They never leave early (no idle exit)."""
    folder = Path(tempfile.mkdtemp(prefix="tc-run-"))
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "TRAINCYCLE_FORKSERVER_IDLE")}
    os.environ.update(XDG_RUNTIME_DIR=str(folder), TRAINCYCLE_FORKSERVER_IDLE="7200")
    spent: list[float] = []
    try:
        yield spent
    finally:
        servers = forkserver_cpu(folder)
        spent.append(sum(servers.values()))
        for pid in servers:
            os.kill(pid, signal.SIGTERM)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


def counted(work: Callable[[], Run]) -> Run:
    """`work`'s run from a cold start (its own fork servers), their CPU seconds added to its own."""
    with own_servers() as spent:
        run = work()
    return dataclasses.replace(run, cpu_seconds=run.cpu_seconds + spent[0])


def measure(cmd: str | Sequence[str], cwd: Path, forkserver: bool = True) -> Run:
    """Run `cmd` (a shell string or argv) and return its wall time and peak RSS (via wait4).

    `forkserver`: stages run forked from a warm server (off: each in its own process, whose
    peak RSS and CPU are then the stage's; on, wrap the measure in `counted` to add the
    server's CPU and start it cold).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env(forkserver), shell=isinstance(cmd, str), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # grandchildren (the python behind a shell string) are counted in RUSAGE_CHILDREN
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = max(usage.ru_utime + usage.ru_stime, children.ru_utime + children.ru_stime - cpu_before)
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, output, cpu)


def best_of(cmd: str | Sequence[str], cwd: Path, repeat: int) -> float:
    """Median wall seconds of `repeat` runs (fails loudly if a run fails)."""
    times = []
    for _ in range(repeat):
        run = measure(cmd, cwd)
        if run.returncode:
            raise SystemExit(f"benchmark command failed: {cmd}\n{run.output[-2000:]}")
        times.append(run.seconds)
    return statistics.median(times)


def copy_project(dest: Path, params: dict | None = None, root: Path = ROOT, watch: str | None = None) -> Path:
    """Copy the project's pipeline files (from `root`: another revision's tree) into `dest` as a
    fresh git+DVC repo, optionally with params and with `watch` (data.source) as an ingest dep."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = root / name
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(src, dest / name, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    if params is not None:
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if watch is not None:  # a source outside data/source/: listed in dvc.yaml, as a user would
        spec = yaml.safe_load((dest / "dvc.yaml").read_text())
        spec["stages"]["ingest"]["deps"].append(watch)
        (dest / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    git = ["git", "-c", "user.email=bench@local", "-c", "user.name=bench"]
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], [*git, "commit", "-qm", "bench"]):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


def synth_project(rows: int, tmp: Path, rounds: int) -> tuple[Path, Path]:
    """A project copy on `rows` seeded synthetic Adult-like rows, xgboost for a fixed `rounds`.

    Returns (repo, data file). A fixed number of rounds (no early stopping) keeps the training
    work proportional to the rows rather than to where early stopping lands.
    """
    data = tmp / f"synth-{rows}.parquet"
    gen = measure(f"traincycle synth --rows {rows} --seed 0 -o {data}", tmp)
    if gen.returncode:
        raise SystemExit(gen.output)
    params = load_params()
    params["data"] = {**params["data"], "source": str(data), "target": "income",
                      "positive_label": ">50K", "sensitive": ["sex", "race"], "task": "binary"}
    params.setdefault("train", {})["model"] = "xgboost"
    params["train"]["xgboost"].update(n_estimators=rounds, early_stopping_rounds=0)
    repo = copy_project(tmp / f"repo-{rows}", params, watch=str(data))
    schema = measure(f"traincycle schema infer {data} -o schema.yaml --target income", repo)
    if schema.returncode:
        raise SystemExit(f"schema infer failed:\n{schema.output[-2000:]}")
    return repo, data


def load_params(root: Path = ROOT) -> dict:
    """The project's params.yaml (or that of another revision's tree `root`)."""
    return yaml.safe_load((root / "params.yaml").read_text())


def table(rows: list[dict[str, object]]) -> str:
    """A Markdown table from a list of same-keyed dicts."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def machine() -> str:
    """A one-line description of this machine for the performance page (docs/performance.md)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {sys.version.split()[0]}"
