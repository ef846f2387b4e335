"""JSON rows to typed columns (the service's intake): the one-pass transpose of regular rows and
the field-by-field path of irregular ones (key order, original names, absent fields) agree, and
category membership is exact at every batch size."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.errors import DataError
from traincycle.inputs import InputSpec, in_training, record_columns
from traincycle.parsing import na_strings

SPECS = [InputSpec("age", "numeric", "float64"), InputSpec("education", "categorical", "str"),
         InputSpec("hours_per_week", "numeric", "int64")]
NAMES = {"age": "age", "education": "education", "hours_per_week": "hours_per_week",
         "hours-per-week": "hours_per_week"}
MISSING = na_strings(("?",))
REGULAR = [{"age": 30, "education": " HS ", "hours_per_week": None},
           {"age": 41.5, "education": "?", "hours_per_week": 40},
           {"age": None, "education": "HS", "hours_per_week": 10**400}]


def check(columns: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(columns["age"], [30.0, 41.5, np.nan])
    assert columns["education"].tolist() == ["HS", None, "HS"]
    np.testing.assert_array_equal(columns["hours_per_week"], [np.nan, 40.0, np.inf])


@pytest.mark.parametrize("rows", [
    REGULAR,
    [REGULAR[0], dict(reversed(REGULAR[1].items())), REGULAR[2]],  # another key order
    [REGULAR[0], {"age": 41.5, "education": "?", "hours-per-week": 40}, REGULAR[2]],  # original name
], ids=["regular", "key-order", "original-name"])
def test_every_row_shape_gives_the_same_columns(rows: list[dict]) -> None:
    columns, absent = record_columns(rows, SPECS, NAMES, MISSING)
    check(columns)
    assert absent == {}


def test_absent_fields_are_marked_and_wrong_types_named() -> None:
    rows = [dict(REGULAR[0]), {"education": "HS"}]
    columns, absent = record_columns(rows, SPECS, NAMES, MISSING)
    assert absent["age"].tolist() == [False, True] and np.isnan(columns["age"][1])
    with pytest.raises(DataError, match="row 1: field 'age': expected a number or null, got bool"):
        record_columns([REGULAR[0], {**REGULAR[1], "age": True}], SPECS, NAMES, MISSING)
    with pytest.raises(DataError, match="row 0: unknown field 'salary'"):
        record_columns([{"salary": 1}], SPECS, NAMES, MISSING)


@pytest.mark.parametrize("rows", [1, 256, 1000])
def test_category_membership_is_exact(rows: int) -> None:
    spec = InputSpec("education", "categorical", "str", ("Bachelors", "HS", "Masters"))
    values = np.array(np.random.default_rng(rows).choice(["Bachelors", "HS", "Masters", "PhD", ""], rows),
                      dtype=object)
    expected = [v in spec.categories for v in values.tolist()]
    assert in_training(values, spec).tolist() == expected
