"""Where a cold `dvc repro` spends CPU beyond one plain Python process (issue 15's cold goal).

Two fresh copies of the project on the built-in data, run one after the other:

- `dvc repro`, DVC run through its own entry point in a child process that reports its own CPU
  seconds (start-up, stage status, hashing and caching outputs, rewriting dvc.lock after each
  stage) apart from its stages' (its children, the fork server they start included);
- the plain script of overhead.py: every stage's click command in one process.

Under DVC every tracked stage records its process's CPU seconds when it finishes
(`.traincycle/cost/<stage>.json`, see traincycle.cost); the plain script notes its running CPU
total after each stage. A stage's "own process" minus "in one process" is mostly the imports the
one process shares and the fork server has not (traincycle.forkserver). The untracked `sources`
stage, the fork server's own imports, the launchers, and what the stage processes spend after
their record (interpreter and thread-pool shutdown, the record's git calls) share one row.

    python cold_breakdown.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from harness import copy_project, load_params, own_servers, stage_commands, table
from overhead import checked, plain_script

#: runs DVC in this child and prints its own and its children's CPU seconds as JSON
DVC_SELF = """
import json, resource, sys
from dvc.cli import main
rc = main(["repro"])
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "dvc": me.ru_utime + me.ru_stime, "stages": kids.ru_utime + kids.ru_stime}))
"""


#: after each stage of the plain script: its running CPU total (itself and its children)
MARK = """
import json, resource
marks = {}
def mark(name):
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    marks[name] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
"""


def timed_plain_script(repo: Path) -> str:
    """overhead.py's plain script, noting the running CPU total after each stage in marks.json."""
    lines = [MARK]
    for line in plain_script(repo).splitlines():
        lines.append(line)
        if line.startswith("run("):  # run('ingest', [...])
            lines.append(f"mark({line.split(chr(39))[1]!r})")
    lines.append("open('marks.json', 'w').write(json.dumps(marks))")
    return "\n".join(lines)


def recorded_cpu(repo: Path, stages: list[str]) -> dict[str, float]:
    """Each tracked stage's recorded CPU seconds (its process's total when it finished)."""
    costs = repo / ".traincycle" / "cost"
    return {name: json.loads((costs / f"{name}.json").read_text())["cpu_seconds"]
            for name in stages if (costs / f"{name}.json").exists()}


def main(quick: bool) -> list[dict[str, object]]:
    params = load_params()
    if quick:
        params.setdefault("ingest", {})["max_rows"] = 5000
    with tempfile.TemporaryDirectory(prefix="tc-cold-") as tmp:
        ours = copy_project(Path(tmp) / "dvc", params)
        (ours / "dvc_self.py").write_text(DVC_SELF)
        with own_servers() as spent:  # a cold start; the stages forked from the server count as stages
            run = checked(f"{sys.executable} dvc_self.py", ours)
        dvc = json.loads(run.output.strip().splitlines()[-1])
        dvc["stages"] += spent[0]
        stages = list(stage_commands(ours))
        separate = recorded_cpu(ours, stages)

        plain = copy_project(Path(tmp) / "plain", params)
        (plain / "plain.py").write_text(timed_plain_script(plain))
        one = checked("python plain.py", plain)
        running = json.loads((plain / "marks.json").read_text())
    shared, before = {}, 0.0
    for name in stages:  # the one process's running total -> each stage's share
        shared[name], before = running[name] - before, running[name]
    rows = [{"part": name, "own process cpu_s": separate[name], "in one process cpu_s": shared[name],
             "difference": separate[name] - shared[name]} for name in stages if name in separate]
    rest = dvc["stages"] - sum(separate.values())
    rest_one = one.cpu_seconds - sum(shared[name] for name in separate)
    rows.append({"part": "untracked stages; fork server imports; launchers; stage exits",
                 "own process cpu_s": rest, "in one process cpu_s": rest_one, "difference": rest - rest_one})
    rows.append({"part": "DVC itself", "own process cpu_s": dvc["dvc"], "in one process cpu_s": 0.0,
                 "difference": dvc["dvc"]})
    total = dvc["dvc"] + dvc["stages"]
    rows.append({"part": "total", "own process cpu_s": total, "in one process cpu_s": one.cpu_seconds,
                 "difference": total - one.cpu_seconds})
    print(f"load average {os.getloadavg()[0]:.1f} at the end; wall: dvc repro {run.seconds:.1f} s, "
          f"one process {one.seconds:.1f} s", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of all of Adult")
    print(table(main(parser.parse_args().quick)))
