"""featurize stage script on a small Adult sample in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_stage(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def prepare(tmp_path: Path, source: str = "builtin:adult", rows: int = 3000, **sections) -> Path:
    params = {
        "data": {"source": source, "target": "income", "task": "binary", "positive_label": ">50K"},
        "seed": 7,
        "ingest": {"max_rows": rows},
        **sections,
    }
    if source == "builtin:diabetes":
        params["data"] = {"source": source, "target": "target", "task": "regression"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for stage, args in [
        ("ingest", ["--out", "raw.parquet", "--provenance", "prov.json"]),
        ("split", ["--data", "raw.parquet", "--out-dir", "interim", "--metrics", "split.json",
                   "--details", "split_details.json"]),
    ]:
        done = run_stage(stage, "--params", "params.yaml", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    return tmp_path


FEATURIZE = [
    "--params",
    "params.yaml",
    "--in-dir",
    "interim",
    "--out-dir",
    "processed",
    "--featurizer",
    "models/featurizer.skops",
    "--featurizer-meta",
    "models/featurizer.json",
    "--label-issues",
    "reports/label_issues.parquet",
    "--metrics",
    "featurize.json",
    "--details",
    "featurize_details.json",
]


def test_featurize_writes_the_contract(tmp_path: Path) -> None:
    prepare(tmp_path)
    done = run_stage("featurize", *FEATURIZE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "features" in done.stdout
    train = pd.read_parquet(tmp_path / "processed" / "train.parquet")
    assert train.columns[0] == "row_id" and train.columns[-1] == "income"
    interim = pd.read_parquet(tmp_path / "interim" / "train.parquet")
    assert len(train) == len(interim)
    issues = pd.read_parquet(tmp_path / "reports" / "label_issues.parquet")
    assert list(issues.columns) == ["row_id", "given_label", "prob_given"]
    first = {
        p: p.read_bytes() for p in sorted(tmp_path.glob("processed/*")) + sorted(tmp_path.glob("models/*"))
    }
    again = run_stage("featurize", *FEATURIZE, cwd=tmp_path)
    assert again.returncode == 0
    assert first == {p: p.read_bytes() for p in first}  # byte-identical rerun


def test_bad_featurize_param_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    prepare(tmp_path, featurize={"scaling": "zscore"})
    done = run_stage("featurize", *FEATURIZE, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "featurize.scaling" in done.stderr
    assert not (tmp_path / "processed").exists() and not (tmp_path / "models").exists()
