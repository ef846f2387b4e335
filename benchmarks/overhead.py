"""Pipeline overhead, measured side by side in one run (goals of issue 15).

(a) no-op `dvc repro` of our pipeline vs a bare DVC pipeline with the same number of stages
    whose commands do nothing (goal <= 1.3x);
(b) cold `dvc repro` on the built-in data vs one plain Python process running the same stage
    functions back to back (goal <= 1.4x).

The machine is shared, so each pair is interleaved (ours, baseline; then baseline, ours) and
repeated; the table gives medians of wall seconds, the ratio of the medians, and the same for
CPU seconds (user + system, children included), which other load moves far less. With
``--against REV`` the same measures also run on that git revision's tree (its pipeline, code and
plain script), interleaved with ours, so a change's before and after share one run and one load.

    python overhead.py [--quick] [--cold-repeat 3] [--noop-repeat 9] [--against main]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml
from harness import ROOT, Run, copy_project, counted, load_params, measure, stage_commands, table

from traincycle.pipeline import stage_script

NOOP_GOAL, COLD_GOAL = 1.3, 1.4


def bare_pipeline(dest: Path, stages: int) -> Path:
    """A DVC repo with `stages` chained stages whose commands only touch their output."""
    dest.mkdir(parents=True)
    spec = {"stages": {}}
    for i in range(stages):
        spec["stages"][f"s{i}"] = {
            "cmd": f"echo {i} > out{i}.txt",
            "deps": [f"out{i - 1}.txt"] if i else [],
            "outs": [f"out{i}.txt"],
        }
        if not i:
            del spec["stages"]["s0"]["deps"]
    (dest / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    commit = "git -c user.email=b@l -c user.name=b commit -qm b"
    for cmd in ("git init -q", "dvc init -q", "git add -A", commit):
        checked(cmd, dest)
    return dest


def plain_script(repo: Path) -> str:
    """A one-process Python program that runs every stage's click command in order."""
    calls = []
    for name, cmd in stage_commands(repo).items():
        _script, argv = stage_script(cmd)
        calls.append(f"run({name!r}, {argv!r})")
    return "\n".join([
        "import runpy, sys",
        "sys.path.insert(0, 'src')",
        "def run(name, argv):",
        "    module = runpy.run_path(f'stages/{name}.py')",
        "    module['main'].main(argv, standalone_mode=False)",
        *calls,
    ])


def checked(cmd: str, cwd: Path) -> Run:
    """Run `cmd` in `cwd`; stop with its output when it fails."""
    run = measure(cmd, cwd)
    if run.returncode:
        raise SystemExit(f"{cmd} failed in {cwd}:\n{run.output[-3000:]}")
    return run


def interleaved(arms: list[Callable[[], Run]], repeat: int) -> list[list[Run]]:
    """`repeat` runs of each arm, the order reversed every other round, so drifting load hits
    all alike."""
    runs: list[list[Run]] = [[] for _ in arms]
    for i in range(repeat):
        order = list(range(len(arms)))
        for k in order[::-1] if i % 2 else order:
            runs[k].append(arms[k]())
    return runs


def tree_of(rev: str, dest: Path) -> Path:
    """The files of git revision `rev` of this repository, extracted into `dest`."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def row(measure_name: str, mine: list[Run], base: list[Run], goal: float) -> dict[str, object]:
    """Medians of wall and CPU seconds and their ratios."""
    wall = statistics.median(r.seconds for r in mine), statistics.median(r.seconds for r in base)
    cpu = statistics.median(r.cpu_seconds for r in mine), statistics.median(r.cpu_seconds for r in base)
    return {"measure": measure_name, "runs": len(mine), "ours_s": wall[0], "baseline_s": wall[1],
            "ratio": wall[0] / wall[1], "ours_cpu_s": cpu[0], "baseline_cpu_s": cpu[1],
            "cpu ratio": cpu[0] / cpu[1], "goal": f"<= {goal}"}


def main(quick: bool, cold_repeat: int = 3, noop_repeat: int = 9,
         against: str | None = None) -> list[dict[str, object]]:
    def params_of(root: Path) -> dict:  # each tree's own params.yaml: revisions' keys differ
        params = load_params(root)
        if quick:
            params.setdefault("ingest", {})["max_rows"] = 5000
        return params

    with tempfile.TemporaryDirectory(prefix="tc-overhead-") as tmp:
        copies = iter(range(1_000))
        trees = {"": ROOT}
        if against:
            trees[f" ({against})"] = tree_of(against, Path(tmp) / "against")
        reproduced: dict[Path, Path] = {}  # tree -> a copy `dvc repro` has run in (for the no-op runs)

        def cold_ours(root: Path) -> Callable[[], Run]:
            def run() -> Run:
                repo = copy_project(Path(tmp) / f"ours{next(copies)}", params_of(root), root)
                reproduced.setdefault(root, repo)
                return counted(partial(checked, "dvc repro", repo))  # cold: no fork server before
            return run

        def cold_plain(root: Path) -> Callable[[], Run]:
            def run() -> Run:
                repo = copy_project(Path(tmp) / f"plain{next(copies)}", params_of(root), root)
                (repo / "plain.py").write_text(plain_script(repo))
                return checked("python plain.py", repo)
            return run

        load = [os.getloadavg()[0]]
        cold = interleaved([arm(root) for root in trees.values() for arm in (cold_ours, cold_plain)],
                           cold_repeat)
        noop: list[list[Run]] = []
        if noop_repeat:
            for root in trees.values():
                if root not in reproduced:  # no-op only: one unmeasured repro to have something to check
                    cold_ours(root)()
            stages = len(stage_commands(reproduced[ROOT]))
            bare = bare_pipeline(Path(tmp) / "bare", stages)
            for repo in (bare, *reproduced.values()):
                checked("dvc repro", repo)  # the first no-op run fills DVC's state and site caches
            noop = interleaved([*(partial(checked, "dvc repro", reproduced[root]) for root in trees.values()),
                                partial(checked, "dvc repro", bare)], noop_repeat)
        load.append(os.getloadavg()[0])
    rows = []
    for k, label in enumerate(trees):
        if noop:
            rows.append(row(f"no-op dvc repro ({stages} stages) vs bare DVC pipeline{label}", noop[k],
                            noop[-1], NOOP_GOAL))
        if cold_repeat:
            rows.append(row(f"cold dvc repro vs one plain Python process{label}", cold[2 * k],
                            cold[2 * k + 1], COLD_GOAL))
    print(f"load average {load[0]:.1f} before, {load[1]:.1f} after", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of all of Adult")
    parser.add_argument("--cold-repeat", type=int, default=3,
                        help="cold runs of each (interleaved); 0: the no-op measure only")
    parser.add_argument("--noop-repeat", type=int, default=9, help="no-op runs of each (interleaved)")
    parser.add_argument("--against", metavar="REV",
                        help="also measure this git revision's tree (e.g. main), interleaved with ours")
    args = parser.parse_args()
    print(table(main(args.quick, args.cold_repeat, args.noop_repeat, args.against)))
