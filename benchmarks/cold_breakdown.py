"""Where a cold `dvc repro` spends CPU beyond one plain Python process (issue 15's cold goal).

Two fresh copies of the project on the built-in data, run one after the other:

- `dvc repro`, DVC run through its own entry point in a child process that reports its own CPU
  seconds (start-up, stage status, hashing and caching outputs, rewriting dvc.lock after each
  stage) apart from its stages' (its children);
- the plain script of overhead.py: every stage's click command in one process.

Every stage records its process's CPU seconds so far when it finishes
(`.traincycle/cost/<stage>.json`, see traincycle.cost): a whole process per stage under DVC,
the running total of the one process in the plain script (differences give each stage's share).
A stage's "own process" minus "in one process" is mostly the imports the one process shares
(pandas, scikit-learn/SciPy, xgboost...); "exit" is what the stage processes spend after their
record (interpreter and thread-pool shutdown).

    python cold_breakdown.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from harness import copy_project, load_params, stage_commands, table
from overhead import checked, plain_script

#: runs DVC in this child and prints its own and its children's CPU seconds as JSON
DVC_SELF = """
import json, resource, sys
from dvc.cli import main
rc = main(["repro"])
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "dvc": me.ru_utime + me.ru_stime, "stages": kids.ru_utime + kids.ru_stime}))
"""


def stage_cpu(repo: Path, stages: list[str]) -> dict[str, float]:
    """Each stage's recorded CPU seconds (its process's total when it finished)."""
    return {name: json.loads((repo / ".traincycle" / "cost" / f"{name}.json").read_text())["cpu_seconds"]
            for name in stages}


def main(quick: bool) -> list[dict[str, object]]:
    params = load_params()
    if quick:
        params.setdefault("ingest", {})["max_rows"] = 5000
    with tempfile.TemporaryDirectory(prefix="tc-cold-") as tmp:
        ours = copy_project(Path(tmp) / "dvc", params)
        (ours / "dvc_self.py").write_text(DVC_SELF)
        run = checked(f"{sys.executable} dvc_self.py", ours)
        dvc = json.loads(run.output.strip().splitlines()[-1])
        stages = list(stage_commands(ours))
        separate = stage_cpu(ours, stages)

        plain = copy_project(Path(tmp) / "plain", params)
        (plain / "plain.py").write_text(plain_script(plain))
        one = checked("python plain.py", plain)
        running = stage_cpu(plain, stages)
    shared, before = {}, 0.0
    for name in stages:  # the one process's running total -> each stage's share
        shared[name], before = running[name] - before, running[name]
    rows = [{"part": name, "own process cpu_s": separate[name], "in one process cpu_s": shared[name],
             "difference": separate[name] - shared[name]} for name in stages]
    exit_cpu = dvc["stages"] - sum(separate.values())
    rows.append({"part": "stage processes after their record (exit)", "own process cpu_s": exit_cpu,
                 "in one process cpu_s": one.cpu_seconds - running[stages[-1]],
                 "difference": exit_cpu - (one.cpu_seconds - running[stages[-1]])})
    rows.append({"part": "DVC itself", "own process cpu_s": dvc["dvc"], "in one process cpu_s": 0.0,
                 "difference": dvc["dvc"]})
    rows.append({"part": "total", "own process cpu_s": dvc["dvc"] + dvc["stages"],
                 "in one process cpu_s": one.cpu_seconds,
                 "difference": dvc["dvc"] + dvc["stages"] - one.cpu_seconds})
    print(f"load average {os.getloadavg()[0]:.1f} at the end; wall: dvc repro {run.seconds:.1f} s, "
          f"one process {one.seconds:.1f} s", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of all of Adult")
    print(table(main(parser.parse_args().quick)))
