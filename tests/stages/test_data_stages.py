"""ingest and split as DVC runs them: arguments in, files out, one-line errors."""

import json

import pandas as pd
import pytest

from conftest import assert_user_error, run_stage, write_params


@pytest.fixture
def source(tmp_path, frame):
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    return path


def ingest_args(tmp_path):
    return ("--out", str(tmp_path / "raw" / "d.parquet"), "--provenance", str(tmp_path / "raw" / "p.json"))


def test_ingest_then_split(tmp_path, source):
    params = write_params(tmp_path / "params.yaml", data={
        "source": str(source), "target": "income", "positive_label": ">50K", "sensitive": ["sex"]})
    result = run_stage("ingest", "--params", str(params), *ingest_args(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "400 rows" in result.stdout
    prov = json.loads((tmp_path / "raw" / "p.json").read_text())
    assert prov["rows"] == 400 and "people.csv" in prov["sha256"]
    result = run_stage("split", "--params", str(params), "--data", str(tmp_path / "raw" / "d.parquet"),
                       "--out-dir", str(tmp_path / "interim"), "--metrics", str(tmp_path / "head.json"),
                       "--details", str(tmp_path / "split.json"))
    assert result.returncode == 0, result.stderr
    sizes = {n: len(pd.read_parquet(tmp_path / "interim" / f"{n}.parquet")) for n in ("train", "val", "test")}
    assert sum(sizes.values()) == 400
    report = json.loads((tmp_path / "split.json").read_text())
    assert report["rows"] == sizes and "group_share_sex" in report
    assert json.loads((tmp_path / "head.json").read_text()) == {"rows": sizes}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"data": {"source": "missing.csv"}}, "missing.csv: file not found"),
        ({"data": {"source": "builtin:adult", "target": "salary"}}, "target column 'salary'"),
        ({"ingest": {"delimter": ";"}}, "params ingest: unknown key 'delimter'; allowed keys"),
        ({"ingest": {"max_rows": -5}}, "params ingest.max_rows: expected a value >= 0"),
    ],
)
def test_ingest_bad_input(tmp_path, params, needle):
    path = write_params(tmp_path / "params.yaml", **params)
    result = run_stage("ingest", "--params", str(path), *ingest_args(tmp_path), cwd=tmp_path)
    assert_user_error(result, needle)
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").iterdir())


def test_split_rejects_fractions_not_summing_to_one(tmp_path, frame):
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    path = write_params(tmp_path / "params.yaml", split={"train": 0.8, "val": 0.15, "test": 0.15})
    result = run_stage("split", "--params", str(path), "--data", str(tmp_path / "d.parquet"),
                       "--out-dir", str(tmp_path / "interim"), "--metrics", str(tmp_path / "s.json"),
                       "--details", str(tmp_path / "d.json"))
    assert_user_error(result, "params split: train + val + test must sum to 1")
    assert not (tmp_path / "interim").exists() and not (tmp_path / "s.json").exists()
