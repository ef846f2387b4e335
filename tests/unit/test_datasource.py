"""One of ingest's dvc.yaml deps must cover data.source; labels as written in the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, build
from traincycle.datasource import check_watched
from traincycle.errors import ConfigError, DataError
from traincycle.ingest import label_text
from traincycle.pipeline import stage_deps
from traincycle.schema import ColumnSchema, Schema, check_describes

DEFAULT = [".sources/ingest.sha256", "data/source"]


@pytest.mark.parametrize(("source", "deps"), [
    ("data/source/mine.csv", DEFAULT),
    ("./data/source/mine.csv", DEFAULT),
    ("data/source/shop/part-0.parquet", DEFAULT),
    ("data/source", DEFAULT),
    ("data/mine.csv", [*DEFAULT, "data/mine.csv"]),          # a path listed itself
    ("data/shop/part-0.parquet", ["data/shop/"]),            # a folder holding it
    ("/srv/share/table.parquet", ["/srv/share/table.parquet"]),
    ("https://example.org/t.csv", [*DEFAULT, "https://example.org/t.csv"]),
    ("s3://bucket/t.csv", ["${data.source}"]),                # interpolated: switched with -S
    ("builtin:adult", [".sources/ingest.sha256"]),           # in the code fingerprint
    ("builtin:digits", []),
])
def test_a_dep_covering_the_source_is_accepted(source, deps):
    check_watched(source, deps)


@pytest.mark.parametrize(("source", "deps", "needle"), [
    ("data/mine.csv", DEFAULT, "move it under data/source/ or add `- data/mine.csv`"),
    ("data/shop", [*DEFAULT, "data/shop/part-0.parquet"], "no ingest dependency holds"),
    ("data/source2/t.csv", DEFAULT, "no ingest dependency holds"),   # a name prefix is no folder
    ("https://example.org/t.csv", DEFAULT, "add `- https://example.org/t.csv` under its deps"),
    ("s3://bucket/t.csv", [*DEFAULT, "s3://bucket"], "does not depend on data.source s3://bucket/t.csv"),
])
def test_a_source_no_dep_covers_is_one_clear_error(source, deps, needle):
    with pytest.raises(ConfigError, match=r"^dvc\.yaml: ") as err:
        check_watched(source, deps)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_ingest_deps_are_read_from_the_pipeline_file(tmp_path):
    spec = tmp_path / "dvc.yaml"
    spec.write_text("stages:\n  ingest:\n    cmd: x\n    deps:\n      - data/source\n"
                    "      - s3://b/t.csv:\n          cache: false\n")
    assert stage_deps(spec, "ingest") == ["data/source", "s3://b/t.csv"]
    spec.write_text("stages: [\n")
    with pytest.raises(ConfigError, match=r"dvc\.yaml: cannot read the pipeline file"):
        stage_deps(spec, "ingest")


def test_data_path_is_no_longer_a_key():
    with pytest.raises(ConfigError, match=r"params data"):
        build(DataConfig, {"source": "x.csv", "target": "y", "path": "x.csv"}, "data")


@pytest.mark.parametrize(("written", "label"), [(1, "1"), (0, "0"), (True, "True"), (">50K", ">50K")])
def test_positive_label_as_written_in_the_data(written, label):
    data = build(DataConfig, {"source": "x.csv", "target": "y", "positive_label": written}, "data")
    assert data.positive_label == label


def test_positive_label_rejects_a_list():
    with pytest.raises(ConfigError, match=r"params data\.positive_label"):
        build(DataConfig, {"source": "x.csv", "target": "y", "positive_label": [1]}, "data")


@pytest.mark.parametrize(("values", "expected"), [
    ([0, 1, 1], ["0", "1"]),
    ([0.0, 1.0, np.nan], ["0", "1"]),      # a missing label makes pandas read 0/1 as floats
    ([0.5, 1.0], ["0.5", "1.0"]),
    ([True, False], ["False", "True"]),
    (["yes", "no"], ["no", "yes"]),
])
def test_label_text_matches_the_labels_as_written(values, expected):
    assert list(label_text(pd.Series(values)).cat.categories) == expected


SCHEMA = Schema(columns={c: ColumnSchema(dtype="integer") for c in ("a", "b", "c", "income")},
                target="income", labels=("<=50K", ">50K"))


def test_schema_of_other_data_names_the_infer_command():
    with pytest.raises(DataError) as err:
        check_describes(SCHEMA, ["tenure", "plan", "churned"], "churned", "schema.yaml", "data/raw/d.parquet")
    msg = str(err.value)
    assert msg.startswith("schema.yaml does not describe this data (its target is 'income'")
    assert "`traincycle schema infer data/raw/d.parquet --target churned -o schema.yaml`" in msg


def test_schema_with_most_columns_absent_is_other_data():
    untargeted = Schema(columns=SCHEMA.columns)
    with pytest.raises(DataError, match="3 of its 4 columns are absent"):
        check_describes(untargeted, ["a", "churned"], "churned", "schema.yaml", "raw.parquet")


def test_schema_missing_a_column_is_left_to_the_checks():
    check_describes(SCHEMA, ["a", "b", "income", "extra"], "income", "schema.yaml", "raw.parquet")
