"""Wide requests (more numeric columns than TENSOR_MIN_COLUMNS): the numeric columns are typed
and screened as one matrix; rows, flags, counts, feeds and errors equal the column-by-column
path's. The manifest gives pattern-matched columns (schema `g*`) their pattern's range."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle import inputs
from traincycle.errors import DataError
from traincycle.inputs import InputSpec, PredictConfig, record_columns, screen

SPECS = [InputSpec("g0", "numeric", "float64", low=0.0, high=1.0),
         InputSpec("c", "categorical", "str", ("a", "b")),
         InputSpec("g1", "numeric", "float64"), InputSpec("flag", "numeric", "bool"),
         InputSpec("g2", "numeric", "int64", low=-5.0)]
NAMES = {s.name: s.name for s in SPECS}
ROWS = [{"g0": 0.5, "c": "a", "g1": 1e40, "flag": True, "g2": 3},
        {"g0": 2.0, "c": "z", "g1": None, "flag": None, "g2": -9},
        {"g0": None, "c": None, "g1": -1.0, "flag": False, "g2": 10**400}]


def screened(rows: list[dict], cfg: PredictConfig, monkeypatch: pytest.MonkeyPatch,
             wide: bool) -> inputs.Screened:
    monkeypatch.setattr(inputs, "TENSOR_MIN_COLUMNS", 1 if wide else 1000)
    columns, absent = record_columns(rows, SPECS, NAMES, frozenset())
    out = screen(columns, SPECS, cfg, len(rows), where="request", absent=absent)
    if not wide:  # the column-by-column path feeds one tensor per column: stack them as export does
        numeric = [s.name for s in SPECS if s.kind == "numeric"]
        out.feeds[inputs.NUMERIC_TENSOR] = np.hstack([out.feeds.pop(n) for n in numeric])
    return out


@pytest.mark.parametrize("rows", [
    ROWS,
    [*ROWS[:2], {**ROWS[2], "g2": 7}],  # every value a float: typed as one array
    [ROWS[0], {k: ROWS[1][k] for k in ("g2", "c", "g0", "flag")}],
], ids=["integer-past-float", "regular", "absent-field"])
def test_wide_screen_equals_column_by_column(rows: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = PredictConfig(unknown="flag", missing_columns="impute")
    narrow, wide = (screened(rows, cfg, monkeypatch, w) for w in (False, True))
    assert wide.flags == narrow.flags and wide.counts == narrow.counts
    assert set(wide.feeds) == set(narrow.feeds)
    for name, feed in narrow.feeds.items():
        np.testing.assert_array_equal(wide.feeds[name], feed)
        assert wide.feeds[name].dtype == feed.dtype and wide.feeds[name].flags["C_CONTIGUOUS"]
    assert "out_of_range:g0" in wide.flags[1] and "out_of_range:g2" in wide.flags[1]
    assert len(rows) == 2 or "missing:g0" in wide.flags[2]


def test_wide_screen_refuses_as_column_by_column(monkeypatch: pytest.MonkeyPatch) -> None:
    for wide in (False, True):
        with pytest.raises(DataError, match=r"column 'g0' row 1: 2 is outside the schema range"):
            screened(ROWS, PredictConfig(unknown="error"), monkeypatch, wide)
        with pytest.raises(DataError, match=r"row 0: field 'g1': expected a number or null, got str"):
            screened([{**ROWS[0], "g1": "7"}], PredictConfig(unknown="flag"), monkeypatch, wide)


def test_manifest_ranges_come_from_patterns(tmp_path) -> None:
    from traincycle.optimize import _ranges, serving_inputs

    schema = tmp_path / "schema.yaml"
    schema.write_text("version: 1\ncolumns:\n  g7: {dtype: float}\n"
                      "  g*: {count: 3, dtype: float, min: 0, max: 1}\n"
                      "  h*: {dtype: float}\n  label: {dtype: category}\ntarget: label\n")
    _parsing, ranges, _version = serving_inputs(None, schema)
    assert _ranges(["g1", "g7", "h1", "label"], ranges) == {"g1": {"min": 0, "max": 1}, "g7": {}, "h1": {},
                                                          "label": {}}
