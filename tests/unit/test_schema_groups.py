"""Schema patterns for wide tables: one entry for many columns, drafted from runs, checked per column."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.config import DataConfig
from traincycle.errors import ConfigError, GateFailed
from traincycle.schema import draft_schema_file, group_columns, infer_schema, load_schema, parse_schema
from traincycle.synth import wide_frame
from traincycle.validate import ValidateConfig, gate, validate_frame

DATA = DataConfig(target="label", task="multiclass", sensitive=())


def pattern_schema(count: int | None = 30) -> dict:
    return {
        "target": "label",
        "columns": {
            "g00": {"dtype": "float", "min": 0.0, "max": 100.0},
            "g*": {"dtype": "float", "min": 0.0, "max": 20.0, **({"count": count} if count else {})},
            "label": {"dtype": "category"},
        },
    }


def test_resolve_expands_patterns_in_place_and_named_columns_win() -> None:
    schema = parse_schema(pattern_schema(), "s.yaml")
    resolved, matches = schema.resolve(wide_frame(10, 30).columns)
    assert matches == {"g*": [f"g{i:02d}" for i in range(1, 30)]}
    assert list(resolved.columns)[:3] == ["g00", "g01", "g02"] and list(resolved.columns)[-1] == "label"
    assert resolved.columns["g00"].max == 100.0 and resolved.columns["g07"].max == 20.0
    assert resolved.columns["g07"].count is None


@pytest.mark.parametrize(
    ("columns", "needle"),
    [({"age": {"dtype": "integer", "count": 3}}, "count is only for patterns"),
     ({"g*": {"dtype": "float", "count": 0}}, "count: expected at least 1")],
)
def test_count_belongs_to_patterns(columns, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_schema({"columns": columns}, "s.yaml")


def test_pattern_checks_name_each_column_and_the_count() -> None:
    df = wide_frame(40, 30)
    schema = parse_schema(pattern_schema(count=29), "s.yaml")
    outcomes, _ = validate_frame(df, schema, DATA, ValidateConfig())
    gate(outcomes)
    bad = df.drop(columns="g05")
    bad.loc[2, "g11"] = np.nan
    bad.loc[3, "g12"] = 50.0
    outcomes, _ = validate_frame(bad, schema, DATA, ValidateConfig())
    with pytest.raises(GateFailed) as info:
        gate(outcomes)
    message = str(info.value)
    assert "nulls:g11" in message and "range:g12" in message and "columns:g* (observed 28)" in message


def test_draft_groups_runs_of_numbered_columns(tmp_path) -> None:
    df = wide_frame(30, 200)
    df.insert(0, "age", np.arange(30))
    data = tmp_path / "wide.parquet"
    df.to_parquet(data, index=False)
    out = tmp_path / "schema.yaml"
    assert draft_schema_file(data, out, target="label") == (202, 3, [], [])
    text = out.read_text()
    assert len(text.splitlines()) < 60 and "  g*:\n    count: 200" in text
    schema = load_schema(out)
    outcomes, _ = validate_frame(df, schema, DATA, ValidateConfig())
    gate(outcomes)
    assert len(outcomes) == 1 + 1 + 4 + 5 * 200 + 3 + 2  # columns, group, age, g*, label, target_missing


def test_group_takes_the_widest_limits_and_skips_ambiguous_patterns() -> None:
    df = wide_frame(30, 12)
    df["g_extra"] = 1.0  # would be caught by g*: the run stays listed column by column
    schema, observed = infer_schema(df, target="label")
    kept, _ = group_columns(schema, observed)
    assert "g*" not in kept.columns and len(kept.columns) == 14
    grouped, seen = group_columns(*infer_schema(wide_frame(30, 12), target="label"))
    members = [c for n, c in schema.columns.items() if n.startswith("g") and n != "g_extra"]
    assert grouped.columns["g*"].min == min(c.min for c in members)
    assert grouped.columns["g*"].max == max(c.max for c in members)
    assert seen["g*"]["columns"] == 12
    assert list(group_columns(schema, observed, min_run=0)[0].columns) == list(schema.columns)
