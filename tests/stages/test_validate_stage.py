"""stages/validate.py on fixture frames: gate exit codes, one-line errors, deterministic outputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import assert_user_error, make_frame, run_stage, write_params
from traincycle.schema import infer_schema, render_schema

BIAS = {"bias": {"min_group_share": 0.01, "min_label_rate_ratio": 0.8,
                 "max_group_missing_share": 0.2}}


@pytest.fixture
def workdir(tmp_path):
    df = make_frame(400)
    df.to_parquet(tmp_path / "raw.parquet", index=False)
    schema, observed = infer_schema(df, target="income")
    (tmp_path / "schema.yaml").write_text(render_schema(schema, observed, "raw.parquet"))
    write_params(tmp_path / "params.yaml", validate=BIAS)
    return tmp_path


def validate(cwd, data="raw.parquet"):
    return run_stage(
        "validate", "--params", "params.yaml", "--data", data, "--schema", "schema.yaml",
        "--out", "validated.parquet", "--report", "reports/validation.json", "--docs", "reports/data_docs",
        "--metrics", "metrics/data_quality.json", "--details", "reports/data_quality.json",
        "--timings", "timings.json", cwd=cwd,
    )


def outputs(cwd):
    paths = ["reports/validation.json", "reports/data_docs/index.html", "metrics/data_quality.json",
             "reports/data_quality.json"]
    return {p: (cwd / p).read_bytes() for p in paths}


def test_passing_data_writes_deterministic_outputs_and_warnings_exit_zero(workdir):
    result = validate(workdir)
    assert result.returncode == 0, result.stderr
    assert "passed the gate" in result.stdout
    first = outputs(workdir)
    report = json.loads(first["reports/validation.json"])
    assert report["success"] is True
    # the fixture's label rates differ by sex/race: a warning by default, reported on stdout
    warned = [e["name"] for e in report["expectations"] if not e["success"]]
    assert all(e["severity"] == "warning" for e in report["expectations"] if not e["success"])
    for name in warned:
        assert f"warning: {name}" in result.stdout
    metrics = json.loads(first["metrics/data_quality.json"])
    assert metrics == {"rows": 400, "failed_critical": 0, "failed_warning": len(warned)}
    details = json.loads(first["reports/data_quality.json"])
    assert details["rows"] == 400 and "min_group_share" in details["sex"]
    assert json.loads((workdir / "timings.json").read_text())["seconds"] > 0
    assert validate(workdir).returncode == 0
    assert outputs(workdir) == first  # byte-identical rerun


def test_critical_failure_exits_3_with_one_line_and_no_outputs(workdir):
    df = make_frame(400)
    df.loc[0, "age"] = 999
    df.to_parquet(workdir / "bad.parquet", index=False)
    result = validate(workdir, "bad.parquet")
    assert_user_error(result, "critical check(s) failed", "range:age", code=3)
    assert not (workdir / "reports").exists()
    assert not (workdir / "metrics").exists()


def test_critical_failure_keeps_previous_outputs_untouched(workdir):
    assert validate(workdir).returncode == 0
    before = outputs(workdir)
    make_frame(400).drop(columns="age").to_parquet(workdir / "bad.parquet", index=False)
    result = validate(workdir, "bad.parquet")
    assert_user_error(result, "columns (missing: age)", code=3)
    assert outputs(workdir) == before


def test_bad_schema_is_a_user_error(workdir):
    text = (workdir / "schema.yaml").read_text().replace("columns_match:", "colour: red\ncolumns_match:")
    (workdir / "schema.yaml").write_text(text)
    assert_user_error(validate(workdir), "schema.yaml", "unknown key 'colour'")


def test_bad_bias_param_is_a_user_error(workdir):
    write_params(workdir / "params.yaml", validate={"bias": {"min_group_share": 2}})
    assert_user_error(validate(workdir), "validate.bias.min_group_share")


def test_personal_data_fails_with_one_line_naming_column_and_kind_not_value(workdir):
    df = make_frame(400).assign(email=[f"someone{i}@example.org" for i in range(400)])
    df.to_parquet(workdir / "pii.parquet", index=False)
    result = validate(workdir, "pii.parquet")
    assert_user_error(result, "privacy", "'email'", "e-mail", code=3)
    assert "example.org" not in result.stderr + result.stdout
    assert not (workdir / "reports").exists() and not (workdir / "validated.parquet").exists()


def test_drop_policy_writes_the_table_without_the_column(workdir):
    df = make_frame(400).assign(email=[f"someone{i}@example.org" for i in range(400)])
    df.to_parquet(workdir / "pii.parquet", index=False)
    write_params(workdir / "params.yaml", validate={**BIAS, "privacy": {"columns": {"email": "drop"}}})
    result = validate(workdir, "pii.parquet")
    assert result.returncode == 0, result.stderr
    assert "email" not in pd.read_parquet(workdir / "validated.parquet").columns
    assert "example.org" not in (workdir / "reports/validation.json").read_text()


def test_clean_data_passes_through_byte_for_byte(workdir):
    assert validate(workdir).returncode == 0
    assert (workdir / "validated.parquet").read_bytes() == (workdir / "raw.parquet").read_bytes()
