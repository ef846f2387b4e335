"""Schema loading (strict, typed) and inference (deterministic, commented YAML)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from traincycle.errors import ConfigError, DataError
from traincycle.schema import (
    infer_schema,
    load_schema,
    null_allowance,
    parse_schema,
    read_table,
    render_schema,
)


def small_schema() -> dict:
    return {
        "version": 1,
        "target": "y",
        "labels": ["no", "yes"],
        "columns": {
            "age": {"dtype": "integer", "min": 0, "max": 120},
            "y": {"dtype": "category"},
        },
    }


def test_load_schema_reads_typed_columns(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(small_schema()))
    schema = load_schema(path)
    assert schema.columns["age"].dtype == "integer"
    assert schema.columns["age"].max == 120
    assert schema.labels == ("no", "yes")
    assert schema.severity_of("range", "age") == "critical"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda s: s.update(colour="red"), "unknown key 'colour'"),
        (lambda s: s["columns"]["age"].update(maxx=3), "columns.age: unknown key 'maxx'"),
        (lambda s: s["columns"]["age"].update(dtype="int"), "columns.age.dtype"),
        (lambda s: s["columns"]["age"].update(min=5, max=1), "columns.age: min 5 is greater than max 1"),
        (lambda s: s["columns"]["age"].update(values=["a"]), "columns.age: values: only for category"),
        (lambda s: s["columns"]["age"].update(max_null_share=2), "max_null_share"),
        (lambda s: s["columns"]["age"].update(severity={"colour": "warning"}), "unknown check kind"),
        (lambda s: s["columns"]["age"].update(severity={"range": "fatal"}), "severity.range"),
        (lambda s: s.update(target="nope"), "target: 'nope' is not one of the columns"),
    ],
)
def test_parse_schema_rejects_bad_entries(edit, needle):
    values = small_schema()
    edit(values)
    with pytest.raises(ConfigError, match=r"^schema\.yaml: ") as exc:
        parse_schema(values, "schema.yaml")
    assert needle in str(exc.value)


def test_load_schema_missing_file_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="traincycle schema infer"):
        load_schema(tmp_path / "schema.yaml")


def test_severity_override_per_column():
    values = small_schema()
    values["columns"]["age"]["severity"] = {"range": "warning"}
    values["severity"] = {"nulls": "warning"}
    schema = parse_schema(values, "s")
    assert schema.severity_of("range", "age") == "warning"
    assert schema.severity_of("range", "y") == "critical"
    assert schema.severity_of("nulls", "age") == "warning"


def test_null_allowance_adds_slack_and_rounds_up():
    assert null_allowance(0.0) == 0.0
    assert null_allowance(0.0573) == 0.09
    assert null_allowance(0.001) == 0.02
    assert null_allowance(0.9) == 1.0


def test_infer_schema_observes_dtypes_ranges_and_categories(frame):
    frame = frame.copy()
    frame["score"] = np.linspace(-1.5, 2.5, len(frame))
    frame.loc[:9, "education"] = pd.NA
    schema, observed = infer_schema(frame, target="income")
    assert schema.columns["age"].dtype == "integer"
    assert (schema.columns["age"].min, schema.columns["age"].max) == (frame.age.min(), frame.age.max())
    assert schema.columns["score"].dtype == "float"
    assert schema.columns["score"].min == -1.5
    assert schema.columns["education"].values == ("Bachelors", "HS", "Masters")
    assert schema.columns["education"].max_null_share == null_allowance(10 / len(frame))
    assert observed["education"]["null_share"] == 10 / len(frame)
    assert schema.labels == ("<=50K", ">50K")
    assert schema.columns["income"].values is None  # carried by `labels`


def test_infer_schema_unknown_target_is_a_data_error(frame):
    with pytest.raises(DataError, match="target column 'nope' not found"):
        infer_schema(frame, target="nope")


def test_render_round_trips_and_is_deterministic(frame):
    schema, observed = infer_schema(frame, target="income")
    text = render_schema(schema, observed, "train.parquet")
    assert text == render_schema(*infer_schema(frame, target="income"), "train.parquet")
    assert "# observed" in text and "dtype: integer" in text
    assert parse_schema(yaml.safe_load(text), "s") == schema


def test_read_table_reads_csv_as_categories(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("Age,Work Class\n30,Private\n40,?\n")
    df = read_table(path)
    assert list(df.columns) == ["age", "work_class"]
    assert isinstance(df["work_class"].dtype, pd.CategoricalDtype)
    assert df["work_class"].isna().sum() == 1


def test_committed_schema_loads():
    from tests.conftest import ROOT

    schema = load_schema(ROOT / "schema.yaml")
    assert schema.target == "income"
    assert schema.labels == ("<=50K", ">50K")
    assert {"sex", "race"} <= set(schema.columns)
