"""Your own data, versioned, end to end in a temporary git+DVC repo.

The README's "Your own data" walk-through runs exactly as written (its fenced blocks are read
from README.md): a CSV with a 0/1 integer target, made from scikit-learn's diabetes data. The
project then goes through a real S3 server (SeaweedFS on loopback): push every output, clone,
pull, nothing to rerun; an experiment through a bare git remote plus the same storage; an s3://
source watched by DVC. Last, new bytes in the CSV show in `dvc status` and rerun ingest (slow).
Tests share one project and run in file order.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from s3server import S3Server, client, environment, seaweedfs
from test_pipeline import copy_project, sh, shrink

from conftest import ROOT

#: fast settings for the small CSV; the data/problem sections come from the README
FAST = {
    "train.model": "logistic",
    "featurize.label_scan.folds": 3,
    "evaluate.bootstrap": 50,
    "evaluate.explain_rows": 100,
    "evaluate.shap_rows": 20,
    "optimize.latency_rows": 5,
}
GIT = ["git", "-c", "user.email=e2e@test", "-c", "user.name=e2e"]
OUTPUT_DIRS = ("metrics", "plots", "reports", "models", "data/raw", "data/interim", "data/processed")


def readme_blocks() -> list[tuple[str, str]]:
    """(language, body) of each fenced block in the README's "Your own data" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Your own data\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^ *```(\w+)\n(.*?)^ *```", section, flags=re.S | re.M)
    assert [lang for lang, _ in blocks] == ["sh", "sh", "yaml", "sh", "sh", "sh"], blocks
    return [(lang, textwrap.dedent(body)) for lang, body in blocks]


def churn_csv(seed: int, rows: int = 700) -> bytes:
    """A small customer-churn table: ids, numbers, categories, a sensitive column, 0/1 target."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, rows)
    charges = np.round(rng.uniform(20, 120, rows), 2)
    plan = rng.choice(["monthly", "yearly", "two_year"], rows, p=[0.5, 0.3, 0.2])
    gender = rng.choice(["female", "male"], rows)
    score = 1.5 - 0.05 * tenure + 0.02 * (charges - 70) + 1.2 * (plan == "monthly") + rng.normal(0, 1, rows)
    return pd.DataFrame({
        "customer_id": np.arange(1, rows + 1), "tenure": tenure, "monthly_charges": charges,
        "plan": plan, "gender": gender, "churned": (score > 0).astype(int),
    }).to_csv(index=False).encode()


def run_lines(block: str, cwd: Path) -> dict[str, subprocess.CompletedProcess]:
    """Run each command of a README block as a user would (`\\` continues a line); all must succeed."""
    results = {}
    for command in block.strip().replace("\\\n", "").splitlines():
        result = sh("bash", "-c", command, cwd=cwd)
        assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
        results[command] = result
    return results


def commit(repo: Path, message: str) -> None:
    for cmd in (["git", "add", "-A"], [*GIT, "commit", "-qm", message]):
        result = sh(*cmd, cwd=repo)
        assert result.returncode == 0, result.stdout + result.stderr


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every pipeline output file (and dvc.lock) by path, bytes."""
    files = {"dvc.lock": (repo / "dvc.lock").read_bytes()}
    for folder in OUTPUT_DIRS:
        for path in sorted((repo / folder).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(repo))] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project after the README walk-through (blocks 1-5 of 6), committed."""
    make, add, data_yaml, schema, run, _change = readme_blocks()
    params = shrink(yaml.safe_load((ROOT / "params.yaml").read_text()), FAST)
    repo = copy_project(tmp_path_factory.mktemp("own") / "repo", params)
    run_lines(make[1], repo)
    run_lines(add[1], repo)
    params.update(yaml.safe_load(data_yaml[1]))  # <!-- apply: params.yaml -->: problem and data
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_lines(schema[1], repo)
    run_lines(run[1], repo)
    commit(repo, "my data")
    return repo


def test_walkthrough_trains_on_the_csv_with_an_integer_target(project):
    provenance = json.loads((project / "data/raw/provenance.json").read_text())
    assert provenance["source"] == "data/source/my_table.csv" and provenance["rows"] == 442
    meta = json.loads((project / "models/featurizer.json").read_text())
    assert meta["positive_label"] == "1"  # params positive_label: 1, as written in the CSV
    evaluate = json.loads((project / "metrics/evaluate.json").read_text())
    assert evaluate["test"]["roc_auc"] > 0.7
    status = sh("dvc", "status", cwd=project)
    assert "up to date" in status.stdout, status.stdout


def test_card_manifest_and_health_name_the_data_version(project):
    from fastapi.testclient import TestClient

    from traincycle.provenance import params_digest, source_digest
    from traincycle.serve import create_app

    provenance = json.loads((project / "data/raw/provenance.json").read_text())
    raw = hashlib.sha256((project / "data/raw/dataset.parquet").read_bytes()).hexdigest()
    csv = hashlib.sha256((project / "data/source/my_table.csv").read_bytes()).hexdigest()
    assert provenance["raw_sha256"] == raw and provenance["sha256"] == {"my_table.csv": csv}
    params = params_digest(yaml.safe_load((project / "params.yaml").read_text()))
    version = {"source": "data/source/my_table.csv", "source_sha256": source_digest({"my_table.csv": csv}),
               "raw_sha256": raw, "params_sha256": params}
    manifest = json.loads((project / "models/optimized/manifest.json").read_text())
    assert manifest["data"] == version
    card = (project / "reports/model_card.md").read_text()
    assert all(f"| {key} | {value} |" in card for key, value in version.items()), card
    health = TestClient(create_app(project / "models/optimized")).get("/health").json()
    assert health["data_version"] == manifest["data_version"] and len(health["model_version"]) == 12
    found = sh("git", "log", "--format=%s", "-S", raw[:12], "--", "reports/model_card.md", cwd=project)
    assert found.stdout.strip() == "my data"  # the README's way to find the commit


def test_committed_adult_schema_names_the_infer_command(project, tmp_path):
    """Skipping the schema step: validate stops with one line naming `traincycle schema infer`."""
    adult = tmp_path / "schema.yaml"
    adult.write_bytes((ROOT / "schema.yaml").read_bytes())
    result = sh("python", str(ROOT / "stages/validate.py"), "--data", "data/raw/dataset.parquet",
                "--schema", str(adult), "--out", str(tmp_path / "v.parquet"),
                "--report", str(tmp_path / "r.json"), "--docs", str(tmp_path / "d"),
                "--metrics", str(tmp_path / "m.json"), "--details", str(tmp_path / "q.json"), cwd=project)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "does not describe this data (its target is 'income'" in lines[0]
    assert "`traincycle schema infer data/raw/dataset.parquet --target target -o" in lines[0]


# --- remote storage on a real S3 server -----------------------------------------------------


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> S3Server:
    with seaweedfs(tmp_path_factory.mktemp("s3")) as server:
        yield server


def add_credentials(repo: Path, s3: S3Server, secret: str | None = None) -> None:
    """Credentials in .dvc/config.local only (git-ignored), as the README says."""
    for key, value in (("access_key_id", s3.access_key), ("secret_access_key", secret or s3.secret_key)):
        result = sh("dvc", "remote", "modify", "--local", "storage", key, value, cwd=repo)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def pushed(project, s3) -> Path:
    """The project with an S3 remote (endpoint in git, credentials local) after `dvc push`."""
    for cmd in (["dvc", "remote", "add", "-d", "storage", f"s3://{s3.bucket}/traincycle"],
                ["dvc", "remote", "modify", "storage", "endpointurl", s3.endpoint]):
        assert sh(*cmd, cwd=project).returncode == 0
    add_credentials(project, s3)
    commit(project, "remote storage")
    push = sh("dvc", "push", cwd=project)
    assert push.returncode == 0, push.stdout + push.stderr
    return project


def test_credentials_stay_out_of_git(pushed, s3):
    shared = (pushed / ".dvc/config").read_text()
    assert s3.endpoint in shared and s3.access_key not in shared and s3.secret_key not in shared
    assert s3.secret_key in (pushed / ".dvc/config.local").read_text()
    tracked = sh("git", "ls-files", cwd=pushed).stdout.split()
    assert ".dvc/config.local" not in tracked
    assert sh("git", "grep", "-q", s3.secret_key, cwd=pushed).returncode == 1


def test_push_clone_pull_runs_nothing(pushed, s3, tmp_path):
    in_sync = sh("dvc", "status", "--cloud", cwd=pushed)
    assert in_sync.returncode == 0 and "in sync" in in_sync.stdout, in_sync.stdout
    clone = tmp_path / "clone"
    assert sh("git", "clone", "-q", str(pushed), str(clone), cwd=tmp_path).returncode == 0
    add_credentials(clone, s3)
    pull = sh("dvc", "pull", cwd=clone)
    assert pull.returncode == 0, pull.stdout + pull.stderr
    status = sh("dvc", "status", cwd=clone)
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    repro = sh("dvc", "repro", cwd=clone)
    assert repro.returncode == 0 and "Running stage" not in repro.stdout, repro.stdout
    assert snapshot(clone) == snapshot(pushed)
    table = "data/source/my_table.csv"
    assert (clone / table).read_bytes() == (pushed / table).read_bytes()


def test_wrong_credentials_are_dvcs_one_error(pushed, s3, tmp_path):
    clone = tmp_path / "clone"
    assert sh("git", "clone", "-q", str(pushed), str(clone), cwd=tmp_path).returncode == 0
    add_credentials(clone, s3, secret="not-the-secret")
    pull = sh("dvc", "pull", cwd=clone)
    assert pull.returncode != 0
    assert "ERROR" in pull.stderr and "Traceback" not in pull.stderr + pull.stdout


def test_experiment_push_and_pull_through_git_and_storage(pushed, s3, tmp_path):
    baseline = snapshot(pushed)
    bare = tmp_path / "origin.git"
    assert sh("git", "init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path).returncode == 0
    for cmd in (["git", "remote", "add", "origin", str(bare)], ["git", "push", "-q", "origin", "main"],
                ["dvc", "exp", "run", "-n", "more-resamples", "-S", "evaluate.bootstrap=60"],
                ["dvc", "exp", "push", "origin", "more-resamples"]):
        result = sh(*cmd, cwd=pushed)
        assert result.returncode == 0, (cmd, result.stdout[-2000:], result.stderr[-2000:])
    ran = snapshot(pushed)  # dvc exp run leaves the experiment's results in the workspace
    assert ran["metrics/evaluate.json"] != baseline["metrics/evaluate.json"]
    clone = tmp_path / "exp-clone"
    assert sh("git", "clone", "-q", str(bare), str(clone), cwd=tmp_path).returncode == 0
    add_credentials(clone, s3)
    for cmd in (["dvc", "exp", "pull", "origin", "more-resamples"],
                ["dvc", "exp", "apply", "more-resamples"]):
        result = sh(*cmd, cwd=clone)
        assert result.returncode == 0, (cmd, result.stdout[-2000:], result.stderr[-2000:])
    status = sh("dvc", "status", cwd=clone)
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    assert snapshot(clone) == ran
    assert yaml.safe_load((clone / "params.yaml").read_text())["evaluate"]["bootstrap"] == 60
    # back to the committed baseline for the next test
    for cmd in (["git", "checkout", "--", "."], ["dvc", "checkout", "--force"]):
        assert sh(*cmd, cwd=pushed).returncode == 0
    assert snapshot(pushed) == baseline


def test_s3_source_is_read_by_ingest_and_watched_by_dvc(s3, tmp_path):
    """data.source = an s3:// URL listed in ingest's deps: a new upstream version shows in `dvc status`."""
    url, key = f"s3://{s3.bucket}/upstream/churn.csv", "upstream/churn.csv"
    client(s3).put_object(Bucket=s3.bucket, Key=key, Body=churn_csv(seed=1))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"] = {"source": url, "target": "churned", "positive_label": 1,
                      "sensitive": ["gender"], "id_columns": ["customer_id"]}
    repo = copy_project(tmp_path / "repo", params)
    spec = (repo / "dvc.yaml").read_text()  # the URL as an ingest dep, as the README says
    spec = spec.replace("      - data/source ", f"      - {url}\n      - data/source ", 1)
    (repo / "dvc.yaml").write_text(spec)

    def run(*cmd: str, secret: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, cwd=repo, env=environment(s3, secret), capture_output=True,
                              text=True, timeout=600)

    ingest = run("dvc", "repro", "ingest")
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    provenance = json.loads((repo / "data/raw/provenance.json").read_text())
    assert provenance["sha256"] == {"churn.csv": hashlib.sha256(churn_csv(seed=1)).hexdigest()}
    assert "up to date" in run("dvc", "status", "ingest").stdout
    client(s3).put_object(Bucket=s3.bucket, Key=key, Body=churn_csv(seed=2))
    status = run("dvc", "status", "ingest").stdout
    assert re.search(rf"ingest:\s+changed deps:\s+modified:\s+{re.escape(url)}", status), status
    # wrong credentials: our stage says so in one line with a hint, no traceback
    bad = run(sys.executable, str(ROOT / "stages/ingest.py"), "--out", "x.parquet",
              "--provenance", "x.json", secret="not-the-secret")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith(f"error: {url}: cannot read") and "AWS_SECRET_ACCESS_KEY" in lines[0]


# --- new data ---------------------------------------------------------------------------------


def revise(project: Path) -> None:
    """A revision of the data: 42 rows fewer, some labels corrected (within the reviewed schema)."""
    table = pd.read_csv(project / "data/source/my_table.csv").iloc[:400]
    table.loc[::7, "target"] = 1 - table.loc[::7, "target"]
    (project / "data/source/my_table.csv").write_bytes(table.to_csv(index=False).encode())


STATUS_CHANGED = r"ingest:\s+changed deps:\s+modified:\s+data/source\n"


def test_new_csv_bytes_show_in_dvc_status(project):
    """New bytes in the CSV: `dvc status` names ingest, nothing else needed (then put back)."""
    original = (project / "data/source/my_table.csv").read_bytes()
    revise(project)
    status = sh("dvc", "status", cwd=project).stdout
    (project / "data/source/my_table.csv").write_bytes(original)
    assert re.search(STATUS_CHANGED, status), status
    assert "up to date" in sh("dvc", "status", cwd=project).stdout


@pytest.mark.slow
def test_new_csv_bytes_rerun_ingest(project):
    """The README's last block: new bytes show in `dvc status`, `dvc repro` reruns ingest."""
    change = readme_blocks()[5]
    before = (project / "data/source/my_table.csv.dvc").read_text()
    revise(project)
    results = list(run_lines(change[1], project).values())
    status, repro = results[0].stdout, results[1].stdout
    assert re.search(STATUS_CHANGED, status), status
    assert "Running stage 'ingest'" in repro and "Running stage 'train'" in repro, repro
    assert (project / "data/source/my_table.csv.dvc").read_text() != before
    assert json.loads((project / "data/raw/provenance.json").read_text())["rows"] == 400
    again = sh("dvc", "repro", cwd=project)
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
