"""Pipeline overhead, measured side by side in one run.

(a) no-op `dvc repro` of our pipeline vs a bare DVC pipeline with the same number of stages
    whose commands do nothing (goal <= 1.5x);
(b) cold `dvc repro` on the built-in data vs one plain Python process running the same stage
    functions back to back (goal <= 1.3x).
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

import yaml
from harness import copy_project, load_params, measure, stage_commands, table


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
        run = measure(cmd, dest)
        if run.returncode:
            raise SystemExit(f"bare pipeline setup failed: {cmd}\n{run.output}")
    return dest


def plain_script(repo: Path) -> str:
    """A one-process Python program that runs every stage's click command in order."""
    calls = []
    for name, cmd in stage_commands(repo).items():
        argv = shlex.split(cmd.replace("PYTHONPATH=src ", ""))[2:]  # drop "python stages/x.py"
        calls.append(f"run({name!r}, {argv!r})")
    return "\n".join([
        "import runpy, sys",
        "sys.path.insert(0, 'src')",
        "def run(name, argv):",
        "    module = runpy.run_path(f'stages/{name}.py')",
        "    module['main'].main(argv, standalone_mode=False)",
        *calls,
    ])


def main(quick: bool) -> list[dict[str, object]]:
    params = load_params()
    if quick:
        params.setdefault("ingest", {})["max_rows"] = 5000
    rows = []
    with tempfile.TemporaryDirectory(prefix="tc-overhead-") as tmp:
        ours = copy_project(Path(tmp) / "ours", params)
        stages = len(stage_commands(ours))
        cold = measure("dvc repro", ours)
        if cold.returncode:
            raise SystemExit(f"dvc repro failed:\n{cold.output[-3000:]}")
        plain_repo = copy_project(Path(tmp) / "plain", params)
        (plain_repo / "plain.py").write_text(plain_script(plain_repo))
        plain = measure("python plain.py", plain_repo)
        if plain.returncode:
            raise SystemExit(f"plain script failed:\n{plain.output[-3000:]}")
        noop = min(measure("dvc repro", ours).seconds for _ in range(3))
        bare = bare_pipeline(Path(tmp) / "bare", stages)
        measure("dvc repro", bare)
        bare_noop = min(measure("dvc repro", bare).seconds for _ in range(3))
    rows.append({"measure": f"no-op dvc repro ({stages} stages) vs bare DVC pipeline",
                 "ours_s": noop, "baseline_s": bare_noop, "ratio": noop / bare_noop, "goal": "<= 1.5"})
    rows.append({"measure": "cold dvc repro vs one plain Python process",
                 "ours_s": cold.seconds, "baseline_s": plain.seconds,
                 "ratio": cold.seconds / plain.seconds, "goal": "<= 1.3"})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of all of Adult")
    print(table(main(parser.parse_args().quick)))
