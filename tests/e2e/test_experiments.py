"""Experiments end to end in temporary git+DVC repos: a queued sweep, `traincycle tune` where every
trial is a `dvc exp run` (resume, --verify-best), and `traincycle report` against the base branch.

The fast tests drive a toy one-stage project (seconds per experiment) so the DVC/Optuna machinery
is exercised on every `make test`; the slow one runs the same loop on the real, shrunk pipeline.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_pipeline import SHRINK, copy_project, sh, shrink

from conftest import ROOT

TRAINCYCLE = str(Path(sys.executable).parent / "traincycle")
GIT_ID = ["-c", "user.email=e2e@test", "-c", "user.name=e2e"]

TOY_TRAIN = '''
"""A deterministic stand-in trainer: val score from params, a per-round curve, no randomness."""
import json, math, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
score = 0.9 - 0.01 * abs(p["depth"] - 6) - 0.02 * abs(math.log10(p["lr"] / 0.1)) + 0.005 * (p["kind"] == "b")
os.makedirs("metrics", exist_ok=True); os.makedirs("dvclive/plots/metrics/val", exist_ok=True)
run = {"cores": len(os.sched_getaffinity(0)), "omp_threads": int(os.environ.get("OMP_NUM_THREADS", "0"))}
json.dump({"val": {"roc_auc": round(score, 6)}, "run": run}, open("metrics/train.json", "w"))
with open("dvclive/plots/metrics/val/roc_auc.tsv", "w") as f:
    f.write("step\\troc_auc\\n" + "".join(f"{i}\\t{score - 0.01 * (9 - i):.6f}\\n" for i in range(10)))
'''
TOY_EVALUATE = '''
import json
from traincycle import ledger
score = json.load(open("metrics/train.json"))["val"]["roc_auc"]
ledger.append_entry(ledger.default_path(), {"test_hash": "toy", "model_hash": str(score), "value": score})
json.dump({"metrics": {"roc_auc": json.load(open("metrics/train.json"))["val"]["roc_auc"] - 0.01},
           "per_group": {"sex": {"Female": {"tpr": 0.5, "count": 40}}}}, open("metrics/evaluate.json", "w"))
'''
TOY_DVC = """
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train]
    metrics:
      - metrics/train.json: {cache: false}
    plots:
      - dvclive/plots/metrics: {x: step, cache: false}
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, metrics/train.json, data/test.csv]
    metrics:
      - metrics/evaluate.json: {cache: false}
"""
TOY_PARAMS = {
    "seed": 3,
    "train": {"depth": 6, "lr": 0.05, "kind": "a"},
}
TOY_TUNE = {
    "tune": {
        "study": "toy", "trials": 3, "sampler": "tpe", "startup_trials": 2,
        "metric": "metrics/train.json:val.roc_auc", "direction": "maximize",
        "curve": "dvclive/plots/metrics/val/roc_auc.tsv",
        "space": {
            "train.depth": {"type": "int", "low": 2, "high": 10},
            "train.lr": {"type": "float", "low": 0.001, "high": 1.0, "log": True},
            "train.kind": {"type": "categorical", "choices": ["a", "b"]},
        },
    },
}


def git_commit(repo: Path, message: str) -> None:
    assert sh("git", "add", "-A", cwd=repo).returncode == 0
    result = sh("git", *GIT_ID, "commit", "-qm", message, cwd=repo)
    assert result.returncode == 0, result.stderr


def ok(result) -> str:
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


def experiments(repo: Path) -> dict[str, dict]:
    """name -> {params, metrics} of every experiment `dvc exp show --json` lists."""
    shown = json.loads(ok(sh("dvc", "exp", "show", "--json", cwd=repo)))
    out = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            data = exp["revs"][0]["data"]
            params = data["params"]["params.yaml"]["data"]
            metrics = {k: v["data"] for k, v in (data.get("metrics") or {}).items()}
            out[exp["name"]] = {"params": params, "metrics": metrics}
    return out


def make_toy(repo: Path, params: dict, tune: dict, train: str = TOY_TRAIN) -> Path:
    """A committed toy project on branch main at `repo`, reproduced once."""
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "test.csv").write_text("x\n1\n")
    (repo / "train.py").write_text(train)
    (repo / "evaluate.py").write_text(TOY_EVALUATE)
    (repo / "dvc.yaml").write_text(TOY_DVC)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "tune.yaml").write_text(yaml.safe_dump(tune, sort_keys=False))
    (repo / ".gitignore").write_text(".traincycle/\n")
    ok(sh("git", "init", "-q", "-b", "main", cwd=repo))
    ok(sh("dvc", "init", "-q", cwd=repo))
    ok(sh("dvc", "config", "core.analytics", "false", cwd=repo))
    ok(sh("dvc", "repro", cwd=repo))
    git_commit(repo, "toy baseline")
    return repo


def ledger_entries(repo: Path) -> list[dict]:
    """The repository's one test ledger (under .git, shared by every experiment)."""
    path = repo / ".git" / "traincycle" / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def looks(repo: Path) -> int:
    return len(ledger_entries(repo))


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A committed one-stage toy project on branch main, reproduced once."""
    return make_toy(tmp_path_factory.mktemp("toy") / "repo", TOY_PARAMS, TOY_TUNE)


def test_queued_sweep_runs_on_pinned_workers_and_shows_up(toy):
    import os

    before = looks(toy)
    jobs = min(2, len(os.sched_getaffinity(0)))
    ok(sh("dvc", "exp", "run", "--queue", "-S", "train.depth=range(3,8,2)", cwd=toy))
    results = toy / ".dvc" / "tmp" / "exps" / "celery" / "result"
    ended = len(list(results.glob("celery-task-meta-*")))
    started = ok(sh(TRAINCYCLE, "queue", "start", "-j", str(jobs), cwd=toy))  # `dvc queue start`, pinned
    assert f"started {jobs} pinned queue worker(s)" in started and "queue worker 1: cores " in started
    # it returned with its output captured while the 3 experiments still run: the workers' daemons
    # hold none of its pipes (they did, and it returned only after the workers had left)
    assert len(list(results.glob("celery-task-meta-*"))) < ended + 3
    # started again at once, while the workers are still importing (too early to answer celery's
    # inspect broadcast): it sees them and starts no second worker under the same node name
    again = ok(sh(TRAINCYCLE, "queue", "start", "-j", str(jobs), cwd=toy))
    assert "started 0 pinned queue worker(s)" in again
    try:
        for _ in range(300):  # `dvc queue start` returns at once; the workers run in the background
            status = ok(sh("dvc", "queue", "status", cwd=toy))
            if not any(word in status for word in ("Queued", "Running")):
                break
            time.sleep(0.5)
    finally:
        sh("dvc", "queue", "stop", cwd=toy)
    assert "Failed" not in status, status
    swept = {e["params"]["train"]["depth"]: e["metrics"]["metrics/train.json"]["val"]["roc_auc"]
             for e in experiments(toy).values() if e["params"]["train"]["lr"] == 0.05}
    assert set(swept) >= {3, 5, 7}
    assert swept[5] > swept[3]  # the toy score peaks at depth 6
    for exp in experiments(toy).values():  # each queued run ran inside its worker's slot
        if exp["params"]["train"]["lr"] == 0.05 and jobs == 2:
            assert exp["metrics"]["metrics/train.json"]["run"] == {"cores": 1, "omp_threads": 1}
    # queued runs evaluate in copies under .dvc/tmp, yet their looks at test land in one ledger
    # (depth 5 and 7 score alike here: DVC may restore the second evaluate instead of running it)
    assert looks(toy) >= before + len(set(swept.values()))
    assert {str(s) for s in swept.values()} <= {e["model_hash"] for e in ledger_entries(toy)}
    listed = ok(sh(TRAINCYCLE, "ledger", cwd=toy))
    assert str(toy / ".git" / "traincycle" / "ledger.jsonl") in listed


def test_tune_trials_are_experiments_resume_and_verify(toy):
    before = looks(toy)
    first = ok(sh(TRAINCYCLE, "tune", "--trials", "3", cwd=toy))
    assert "best: trial" in first and "dvc exp apply toy-trial-" in first
    trials = {n: e for n, e in experiments(toy).items() if n.startswith("toy-trial-")}
    assert sorted(trials) == ["toy-trial-0", "toy-trial-1", "toy-trial-2"]
    # rerunning resumes the same study up to 5 trials, then reruns the best one for real
    second = ok(sh(TRAINCYCLE, "tune", "--trials", "5", "--verify-best", cwd=toy))
    assert "trial 0:" not in second and "trial 3:" in second and "trial 4:" in second
    assert ": identical" in second
    trials = {n: e for n, e in experiments(toy).items() if n.startswith("toy-trial-")}
    assert len(trials) == 5
    out = toy / ".traincycle" / "tune" / "toy"
    best = json.loads((out / "best.json").read_text())["best"]
    shown = trials[best["experiment"]]
    assert shown["metrics"]["metrics/train.json"]["val"]["roc_auc"] == best["value"]
    assert shown["params"]["train"]["depth"] == best["params"]["train.depth"]
    assert best["value"] == max(t["metrics"]["metrics/train.json"]["val"]["roc_auc"] for t in trials.values())
    table = (out / "trials.md").read_text()
    assert sum(line.startswith("| ") for line in table.splitlines()) == 1 + 5  # header + trials
    assert "<svg" in (out / "history.html").read_text()
    assert "train.lr" in (out / "importance.html").read_text()
    assert (toy / ".traincycle" / "optuna.db").exists()
    # every trial (and the verify run) stopped at train: not one new score on the test split
    assert looks(toy) == before


def test_parallel_trials_run_pinned_to_their_cores(toy):
    import os

    jobs = min(2, len(os.sched_getaffinity(0)))
    out = ok(sh(TRAINCYCLE, "tune", "--trials", "4", "--jobs", str(jobs), "--study", "par", cwd=toy))
    assert "best: trial" in out
    shown = experiments(toy)
    trials = {n: e for n, e in shown.items() if n.startswith("par-trial-")}
    assert sorted(trials) == [f"par-trial-{i}" for i in range(4)]
    # the seeded sampler draws trial n's params in order, as one-at-a-time trials do: the random
    # start-up trials repeat those of the `toy` study when it ran first in this repository, and
    # DVC's run cache gives them that trial's result (same params, same val metric)
    earlier = {json.dumps(e["params"]["train"], sort_keys=True): e
               for n, e in shown.items() if n.startswith("toy-trial-")}
    pinned = 0
    for trial in trials.values():
        twin = earlier.get(json.dumps(trial["params"]["train"], sort_keys=True))
        if twin is not None:
            assert trial["metrics"]["metrics/train.json"] == twin["metrics"]["metrics/train.json"]
            continue
        run = trial["metrics"]["metrics/train.json"]["run"]  # its own share: one core, one thread
        assert run == ({"cores": 1, "omp_threads": 1} if jobs == 2 else run)
        pinned += 1
    assert pinned >= 2  # TPE's own trials (after 2 random ones) differ from the `toy` study's
    with pytest.raises(AssertionError):  # more jobs than cores cannot be disjoint: refused
        ok(sh(TRAINCYCLE, "tune", "--jobs", "64", "--study", "par", cwd=toy))


def test_tune_refuses_a_test_metric(toy, tmp_path):
    tune = {"tune": {**TOY_TUNE["tune"], "metric": "metrics/evaluate.json:metrics.roc_auc"}}
    (toy / "tune.yaml").write_text(yaml.safe_dump(tune, sort_keys=False))
    try:
        result = sh(TRAINCYCLE, "tune", "--trials", "1", "--study", "leak", cwd=toy)
    finally:
        ok(sh("git", "checkout", "--", "tune.yaml", cwd=toy))
    assert result.returncode == 2, result.stderr
    assert "stage 'evaluate'" in result.stderr and "test" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(n.startswith("leak-") for n in experiments(toy))


def test_report_on_an_applied_experiment(toy):
    best = json.loads((toy / ".traincycle" / "tune" / "toy" / "best.json").read_text())["best"]
    other = next(n for n in experiments(toy) if n.startswith("toy-trial-") and n != best["experiment"])
    ok(sh("dvc", "exp", "apply", best["experiment"], cwd=toy))
    try:
        ok(sh(TRAINCYCLE, "report", "--rev", "main", "-o", "review.md", cwd=toy))
        text = (toy / "review.md").read_text()
        versus = ok(sh(TRAINCYCLE, "report", "--rev", other, cwd=toy))  # an experiment by name
        unknown = sh(TRAINCYCLE, "report", "--rev", "no-such-exp", cwd=toy)
    finally:
        ok(sh("git", "checkout", "--", ".", cwd=toy))
        (toy / "review.md").unlink(missing_ok=True)
    assert text.startswith("## traincycle report: workspace vs `main`")
    assert "#### `metrics/train.json`" in text and "`val.roc_auc`" in text
    assert "### Params changed" in text and "`train.lr`" in text  # lr is continuous: always moves
    assert (toy / ".traincycle" / "plots-diff" / "index.html").exists()
    assert "`.traincycle/plots-diff/index.html`" in text
    assert versus.startswith(f"## traincycle report: workspace vs `{other}`") and "`train.lr`" in versus
    assert unknown.returncode == 2 and "--rev 'no-such-exp': neither a git revision nor an experiment" \
        in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_tune_and_report_on_the_real_pipeline(tmp_path):
    """3 trials, resume to 5, then a report; the real (shrunk) pipeline, xgboost few rounds."""
    params = shrink(yaml.safe_load((ROOT / "params.yaml").read_text()), SHRINK)
    tune = yaml.safe_load((ROOT / "tune.yaml").read_text())
    tune["tune"]["space"] = {k: v for k, v in tune["tune"]["space"].items()
                             if k in ("train.xgboost.max_depth", "train.xgboost.learning_rate")}
    repo = copy_project(tmp_path / "repo", params)  # committed: dvclive needs a commit to exist
    (repo / "tune.yaml").write_text(yaml.safe_dump(tune, sort_keys=False))
    ok(sh("dvc", "repro", cwd=repo))
    git_commit(repo, "baseline")
    study = tune["tune"]["study"]
    ok(sh(TRAINCYCLE, "tune", "--trials", "3", cwd=repo))
    assert len([n for n in experiments(repo) if n.startswith(f"{study}-trial-")]) == 3
    ok(sh(TRAINCYCLE, "tune", "--trials", "5", cwd=repo))
    assert len([n for n in experiments(repo) if n.startswith(f"{study}-trial-")]) == 5
    best = json.loads((repo / ".traincycle" / "tune" / study / "best.json").read_text())["best"]
    ok(sh("dvc", "exp", "apply", best["experiment"], cwd=repo))
    ok(sh(TRAINCYCLE, "report", "--rev", "main", "-o", "review.md", cwd=repo))
    text = (repo / "review.md").read_text()
    assert "**Headline (test):**" in text and "### Fairness" in text
    assert "`train.xgboost.max_depth`" in text or "`train.xgboost.learning_rate`" in text
