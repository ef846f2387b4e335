"""The whole pipeline in a temporary git+DVC repo with shrunk params: run, check, rerun is a no-op."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

# Shrinks that keep every stage meaningful but fast; applied only where the key exists.
SHRINK = {
    "ingest.max_rows": 4000,
    "train.xgboost.n_estimators": 60,
    "train.mlp.epochs": 3,
    "evaluate.bootstrap": 50,
    "evaluate.explain_rows": 100,
}
COPY = ["dvc.yaml", "params.yaml", "tune.yaml", "schema.yaml", "stages", "src", "data/source", ".dvc/config",
        ".dvc/.gitignore", ".dvc/plots", ".dvcignore", ".gitignore"]


def shrink(params: dict, overrides: dict) -> dict:
    """Apply dotted-key overrides to params, only where the parent section already exists."""
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            node[leaf] = value
    return params


def sh(*cmd: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `cmd` in its own process group; on timeout the whole group is killed (a stage under
    `dvc repro` too, not only dvc) and TimeoutExpired raised."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_sh_timeout_kills_the_commands_children_too(tmp_path):
    """A timed-out `dvc repro` must not leave its stage running (it did: only dvc was killed)."""
    with pytest.raises(subprocess.TimeoutExpired):
        sh("bash", "-c", "sleep 60 & echo $! > child; wait", cwd=tmp_path, timeout=2)
    child = Path(f"/proc/{int((tmp_path / 'child').read_text())}/stat")
    for _ in range(50):  # killed at once; a zombie until init reaps it
        try:
            if child.read_text().split()[2] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"{child.parent.name}, a child of the timed-out command, still runs")


def copy_project(repo: Path, params: dict, *, commit: bool = True) -> Path:
    """Copy the pipeline's sources into a new git+DVC repository at `repo`, with `params`."""
    repo.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if commit:
        for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                    ["git", "-c", "user.email=e2e@test", "-c", "user.name=e2e", "commit", "-qm", "init"]):
            assert sh(*cmd, cwd=repo).returncode == 0
    return repo


def reproduced(repo: Path) -> Path:
    """`repo` after one successful `dvc repro`."""
    result = sh("dvc", "repro", cwd=repo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh git+DVC copy of the project with shrunk params, after one `dvc repro`."""
    params = shrink(yaml.safe_load((ROOT / "params.yaml").read_text()), SHRINK)
    return reproduced(copy_project(tmp_path_factory.mktemp("e2e") / "repo", params))


def stage_names(repo: Path) -> list[str]:
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


def test_every_stage_produced_its_outputs(repo):
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(stage_names(repo))
    for name, stage in lock.items():
        for out in stage.get("outs", []):
            assert (repo / out["path"]).exists(), f"{name}: {out['path']} missing"
    split = json.loads((repo / "metrics" / "split.json").read_text())
    assert sum(split["rows"].values()) == 4000


def test_metrics_hold_headlines_and_reports_the_rest(repo):
    """`dvc exp show` columns: every metrics file is a handful of numbers; details go to reports/."""
    from traincycle.headline import MAX_LEAVES, count_leaves, pick

    metrics = {p.stem: json.loads(p.read_text()) for p in (repo / "metrics").glob("*.json")}
    assert sum(count_leaves(doc) for doc in metrics.values()) <= MAX_LEAVES, metrics
    stage_of = {"data_quality": "validate"}
    for stem, doc in metrics.items():
        details = json.loads((repo / "reports" / f"{stem}.json").read_text())
        assert pick(stage_of.get(stem, stem), details) == doc
    head = metrics["evaluate"]["test"]
    assert head["roc_auc_low"] <= head["roc_auc"] <= head["roc_auc_high"]
    assert set(metrics["train"]["val"]) == {"roc_auc"}


def test_second_repro_is_a_noop(repo):
    before = (repo / "dvc.lock").read_text()
    result = sh("dvc", "repro", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "Running stage" not in result.stdout
    assert (repo / "dvc.lock").read_text() == before


def test_a_code_edit_reruns_exactly_the_stages_that_run_it(repo):
    """Each stage depends on its fingerprint (`.sources/<stage>.sha256`), not on module paths."""
    module = repo / "src" / "traincycle" / "split.py"
    original = module.read_text()
    try:
        module.write_text(original + "# an edit\n")
        ran = sh("dvc", "repro", "-s", "sources", cwd=repo)
        assert ran.returncode == 0, ran.stderr[-2000:]
        status = sh("dvc", "status", "--json", cwd=repo)
        changed = {"split": [{"changed deps": {".sources/split.sha256": "modified"}}]}
        assert json.loads(status.stdout) == changed
    finally:
        module.write_text(original)
        assert sh("dvc", "repro", "-s", "sources", cwd=repo).returncode == 0
    assert "up to date" in sh("dvc", "status", cwd=repo).stdout


def test_forced_rerun_is_byte_identical(repo):
    before = (repo / "dvc.lock").read_text()
    metrics = {p.name: p.read_bytes() for p in (repo / "metrics").glob("*.json")}
    result = sh("dvc", "repro", "-f", cwd=repo)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (repo / "dvc.lock").read_text() == before
    assert {p.name: p.read_bytes() for p in (repo / "metrics").glob("*.json")} == metrics


def test_metrics_diff_works(repo):
    result = sh("dvc", "metrics", "show", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert any("metrics/split.json" in str(v) for v in shown.values())


def test_killed_stage_recovers_to_identical_outputs(repo):
    """SIGKILL a forced rerun of the slowest stage mid-way, then `dvc repro` recovers exactly."""
    import signal
    import time

    before = (repo / "dvc.lock").read_text()
    victim = "train" if "train" in stage_names(repo) else stage_names(repo)[-1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", victim], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if f"Running stage '{victim}'" in line:
            time.sleep(0.5)  # let the stage start writing
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    result = sh("dvc", "repro", cwd=repo)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (repo / "dvc.lock").read_text() == before
    leftovers = [p for p in repo.rglob(".*.tmp") if ".dvc" not in p.parts]
    assert not leftovers, leftovers


def as_source(rows, header: list[str], path: Path) -> Path:
    """Raw rows written back the way the Adult source is: ', ' separated, '?' for missing."""
    out = rows.astype(object).where(rows.notna(), "?")
    out.columns = header
    path.write_text(out.to_csv(index=False).replace(",", ", "))
    return path


def test_raw_rows_in_the_source_format_score_as_in_the_pipeline(repo, tmp_path):
    """The skew test: the raw test and val splits, written back in the source's format, go
    through `traincycle predict`; the probabilities equal the shipped model's on the processed
    rows (joined to their raw twins), and the val AUC is the one optimize recorded."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from traincycle.export import columns_from_meta, to_feeds
    from traincycle.featurize import raw_rows
    from traincycle.optimize import session

    manifest = json.loads((repo / "models/optimized/manifest.json").read_text())
    recorded = json.loads((repo / "reports/optimize.json").read_text())  # the full optimize report
    target, positive = manifest["target"], manifest["positive_label"]
    header = [orig for orig, snake in manifest["parsing"]["names"].items() if snake != target]
    onnx = session((repo / "models/optimized/model.onnx").read_bytes())
    columns = columns_from_meta(manifest["inputs"])
    for split in ("test", "val"):
        processed = pd.read_parquet(repo / f"data/processed/{split}.parquet")
        raw = raw_rows(processed, pd.read_parquet(repo / f"data/interim/{split}.parquet"), split)
        source = as_source(raw.drop(columns=target), header, tmp_path / f"{split}.csv")
        result = sh("traincycle", "predict", "models/optimized", str(source), "-o",
                    str(tmp_path / f"{split}_scored.csv"), cwd=repo)
        assert result.returncode == 0, result.stderr
        assert "flagged" in result.stderr  # the summary line
        scored = pd.read_csv(tmp_path / f"{split}_scored.csv", keep_default_na=False)
        expected = onnx.run([manifest["output"]], to_feeds(raw, columns))[0]
        np.testing.assert_allclose(scored[f"proba_{positive}"], expected[:, -1], rtol=0, atol=1e-6)
        auc = roc_auc_score(raw[target].astype(str) == positive, scored[f"proba_{positive}"])
        if split == "val":
            assert auc == pytest.approx(recorded["variants"][recorded["chosen"]]["val_metric"], abs=1e-6)
        missing = raw.drop(columns=target).isna().any(axis=1).to_numpy()
        assert ((scored["flags"] != "") >= missing).all()  # every row with a missing value is flagged


def test_monitor_passes_the_unshifted_test_split(repo, tmp_path):
    """`traincycle monitor` on the test split (the same population as train) finds no drift."""
    result = sh("traincycle", "monitor", "data/interim/test.parquet", "-o", str(tmp_path), cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "drift.json").read_text())
    assert report["drifted"] == [] and report["prediction"]["severity"] != "critical"
    assert (tmp_path / "drift.html").read_text().startswith("<!doctype html>")
