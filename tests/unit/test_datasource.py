"""data.path (what DVC watches) must cover data.source; labels as written in the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, build
from traincycle.datasource import check_watched
from traincycle.errors import ConfigError, DataError
from traincycle.ingest import label_text
from traincycle.schema import ColumnSchema, Schema, check_describes


@pytest.mark.parametrize(("source", "path"), [
    ("data/mine.csv", "data/mine.csv"),
    ("./data/mine.csv", "data/mine.csv"),
    ("data/shop/part-0.parquet", "data/shop"),      # a folder holding the source
    ("data/images", "data/images/"),
    ("/srv/share/table.parquet", "/srv/share/table.parquet"),
    ("https://example.org/t.csv", "https://example.org/t.csv"),
    ("s3://bucket/t.csv", "s3://bucket/t.csv"),
    ("builtin:adult", "src/traincycle/datasets/adult"),
    ("builtin:digits", "src/traincycle/datasets"),
    ("data/mine.csv", None),                        # unset: nothing to check (library use)
])
def test_path_covering_the_source_is_accepted(source, path):
    check_watched(DataConfig(source=source, path=path))


@pytest.mark.parametrize(("source", "path", "needle"), [
    ("data/mine.csv", "src/traincycle/datasets/adult", "set data.path: data/mine.csv"),
    ("data/mine.csv", "data/other.csv", "does not hold data.source 'data/mine.csv'"),
    ("data/shop", "data/shop/part-0.parquet", "does not hold"),
    ("data/mine.csv", "data/min", "does not hold"),   # a name prefix is not a parent folder
    ("builtin:adult", "data/mine.csv", "set data.path: src/traincycle/datasets"),
    ("https://example.org/t.csv", "data/t.csv", "expected the URL itself"),
])
def test_path_not_covering_the_source_is_one_clear_error(source, path, needle):
    with pytest.raises(ConfigError, match=r"params data\.path") as err:
        check_watched(DataConfig(source=source, path=path))
    assert needle in str(err.value) and "\n" not in str(err.value)


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
