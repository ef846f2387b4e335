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


# --------------------------------------------------------------------------- the service's intake
# A request goes through TableIntake.parse_request, which types regular rows by a plan made once
# per key order (inputs.Layout) and screens the numeric columns without a step per column. Every
# answer and error must equal the field-by-field path's (record_columns/screen without a layout)
# and, at wide widths, the column-by-column path's (one tensor per numeric column, stacked).

WIDE = [InputSpec(f"g{j}", "numeric", "float64", low=0.0 if j % 2 == 0 else None,
                  high=1.0 if j % 2 == 0 else None) for j in range(70)]
WIDE[3:3] = [InputSpec("c", "categorical", "str", ("a", "b"))]
WIDE[10:10] = [InputSpec("flag", "numeric", "bool"), InputSpec("n", "numeric", "int64", low=-5.0)]
NARROW = [InputSpec("age", "numeric", "int64", low=17.0, high=90.0),
          InputSpec("workclass", "categorical", "str", ("Private", "State-gov")),
          InputSpec("hours_per_week", "numeric", "int64", low=1.0, high=99.0),
          InputSpec("sex", "categorical", "str", ("Female", "Male"))]
ORIGINAL = {"g5": "G 5", "hours_per_week": "hours-per-week"}  # the source's own header names


def base_row(specs: list[InputSpec]) -> dict:
    return {s.name: (s.categories[0] if s.is_categorical else True if s.dtype == "bool"
                     else s.low + 0.5 if s.low is not None else 3) for s in specs}


def variants(specs: list[InputSpec]) -> dict[str, list[dict]]:
    """Edge cases of one to three rows: every one either scored with flags or refused."""
    row = base_row(specs)
    num = next(s.name for s in specs if s.low is not None)
    cat = next(s.name for s in specs if s.is_categorical)
    free = next(s.name for s in specs if s.kind == "numeric" and s.low is None and s.dtype != "bool"
                ) if len(specs) > 10 else "age"
    orig = next(k for k in ORIGINAL if k in row)
    renamed = {(ORIGINAL[k] if k == orig else k): v for k, v in row.items()}
    out = {
        "regular": [row, dict(row)],
        "unknown-category": [row, {**row, cat: "zzz"}],
        "out-of-range": [{**row, num: 1e6}, row, {**row, num: -1e6}],
        "null": [{**row, num: None, cat: None}, {k: None for k in row}],
        "missing-field": [row, {k: v for k, v in row.items() if k != num}],
        "missing-column": [{k: v for k, v in row.items() if k != num}] * 2,
        "numeric-as-text": [row, {**row, free: "7"}],
        "numeric-as-boolean": [{**row, free: True}],
        "category-as-number": [{**row, cat: 5}],
        "integer-past-float": [{**row, free: 10**400}, row],
        "unknown-field": [{**row, "salary": 1}],
        "original-name": [renamed, renamed],
        "both-names": [{**row, ORIGINAL[orig]: row[orig]}],
        "key-order": [row, dict(reversed(row.items()))],
        "reordered": [dict(reversed(row.items()))] * 3,
        "beyond-float32": [{**row, free: 1e300}],
    }
    if any(s.dtype == "bool" for s in specs):
        out["boolean-as-text"] = [{**row, "flag": "yes"}]
        out["boolean-null"] = [row, {**row, "flag": None}]
    return out


def outcome(fn) -> tuple:
    """What a request comes to: its flags, counts and feeds to the byte, or its error message."""
    try:
        out = fn()
    except DataError as exc:
        return ("error", str(exc))
    return (out.flags, dict(out.counts), out.rows,
            {k: (v.dtype.str, v.shape, v.tolist() if v.dtype == object else v.tobytes())
             for k, v in sorted(out.feeds.items())})


def intake_for(specs: list[InputSpec], cfg: PredictConfig):
    from traincycle.intake.table import TableIntake

    manifest = {"inputs": [{"name": s.name, "kind": s.kind, "dtype": s.dtype,
                            "categories": list(s.categories),
                            **({"min": s.low} if s.low is not None else {}),
                            **({"max": s.high} if s.high is not None else {})} for s in specs],
                "parsing": {"names": {v: k for k, v in ORIGINAL.items()}}}
    return TableIntake(manifest, cfg)


CONFIGS = [PredictConfig(), PredictConfig(unknown="error"), PredictConfig(missing_columns="impute"),
           PredictConfig(unknown="error", missing_columns="impute")]


def through(rows: list[dict], specs: list[InputSpec], cfg: PredictConfig, intake, planned: bool):
    """record_columns + screen, with the intake's layout (the request path) or without."""
    layout = intake.layout if planned else None
    columns, absent = record_columns(rows, specs, intake.names, intake.missing, layout=layout)
    assert planned or not isinstance(columns, inputs.RowColumns)
    return screen(columns, specs, cfg, len(rows), where="request", absent=absent, layout=layout)


@pytest.mark.parametrize("width", ["narrow", "wide"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.unknown}-{c.missing_columns}")
def test_request_path_equals_field_by_field(width: str, cfg: PredictConfig,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    specs = WIDE if width == "wide" else NARROW
    intake = intake_for(specs, cfg)
    assert intake.layout.wide == (width == "wide")
    for case, rows in variants(specs).items():
        new = outcome(lambda rows=rows: through(rows, specs, cfg, intake, planned=True))
        assert new == outcome(lambda rows=rows: through(rows, specs, cfg, intake, planned=False)), case
        if case != "integer-past-float":  # not JSON to orjson (400 before any row is read)
            body = json.dumps({"rows": rows}).encode()
            served = outcome(lambda body=body: intake.parse_request(body, "application/json", 10).screened)
            assert served == new, case
        if width == "wide":  # the column-by-column path, numeric feeds stacked as export does
            with monkeypatch.context() as m:
                m.setattr(inputs, "TENSOR_MIN_COLUMNS", 1000)
                old = outcome(lambda rows=rows: through(rows, specs, cfg, intake, planned=False))
            if old[0] != "error":
                feeds = dict(old[3])
                numeric = [feeds.pop(s.name) for s in specs if s.kind == "numeric"]
                stacked = np.hstack([np.frombuffer(b, np.float32).reshape(shape) for _, shape, b in numeric])
                feeds[inputs.NUMERIC_TENSOR] = ("<f4", stacked.shape, stacked.tobytes())
                old = (*old[:3], dict(sorted(feeds.items())))
            assert new == old, case


def test_regular_wide_rows_take_the_plan() -> None:
    """Regular rows (one key order, every number a number) are typed as one matrix; rows the
    plan cannot take go field by field."""
    import json

    intake = intake_for(WIDE, PredictConfig())
    cases = variants(WIDE)
    for case in ("regular", "missing-column", "original-name", "reordered", "null", "out-of-range"):
        columns, _ = record_columns(cases[case], WIDE, intake.names, intake.missing, layout=intake.layout)
        plain, _ = record_columns(json.loads(json.dumps(cases[case])), WIDE, intake.names, intake.missing)
        assert isinstance(columns, inputs.RowColumns) and not isinstance(plain, inputs.RowColumns), case
        assert sorted(columns) == sorted(plain) and len(columns) == len(plain), case
        for name in plain:
            np.testing.assert_array_equal(columns[name], plain[name])
    for case in ("missing-field", "key-order", "both-names", "numeric-as-text", "integer-past-float"):
        try:
            columns, _ = record_columns(cases[case], WIDE, intake.names, intake.missing, layout=intake.layout)
        except DataError:
            continue
        assert not isinstance(columns, inputs.RowColumns), case
