"""Schema per column kind: date ranges, text lengths and blanks, high-cardinality categories,
and the share of missing target values."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from traincycle.column_kinds import apply_kinds
from traincycle.config import DataConfig
from traincycle.errors import ConfigError
from traincycle.schema import ColumnSchema, infer_schema, parse_schema, render_schema
from traincycle.validate import ValidateConfig, validate_frame

DATA = DataConfig(target="churn", task="binary", positive_label="yes")


def table(n: int = 200) -> pd.DataFrame:
    raw = pd.DataFrame({
        "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "note": [f"asked about invoice {i} and the app" if i % 10 else "" for i in range(n)],
        "city": [f"town{i % 150}" for i in range(n)],
        "plan": ["basic", "pro"] * (n // 2),
        "churn": ["yes", "no"] * (n // 2),
    })
    return apply_kinds(raw, {}, skip=("churn",))[0]


def outcomes(df: pd.DataFrame, schema, cfg: ValidateConfig | None = None) -> dict[str, tuple[bool, str]]:
    found, _ = validate_frame(df, schema, DATA, cfg or ValidateConfig())
    return {o.check.name: (o.success, o.check.severity) for o in found}


def test_each_kind_is_drafted_by_its_nature_and_reads_back() -> None:
    schema, observed = infer_schema(table(), target="churn", max_values=100)
    cols = schema.columns
    assert (cols["signup"].min, cols["signup"].max) == ("2024-01-01", "2024-07-18")
    assert cols["signup"].severity == {"range": "warning"} and cols["signup"].values is None
    assert cols["note"].kind == "text" and cols["note"].values is None
    assert cols["note"].max_length == len("asked about invoice 199 and the app")
    assert cols["note"].max_empty_share == 0.15  # 10% blank, with slack
    assert cols["city"].values is None and observed["city"]["high_cardinality"]
    assert cols["plan"].values == ("basic", "pro")
    text = render_schema(schema, observed)
    assert "150 distinct values (above --max-values)" in text
    assert parse_schema(yaml.safe_load(text), "schema.yaml") == schema


def test_validate_checks_dates_lengths_blanks_and_the_target() -> None:
    df = table()
    schema, _ = infer_schema(df, target="churn")
    assert all(ok for ok, _ in outcomes(df, schema).values())
    fresh = df.copy()
    fresh.loc[0, "signup"] = pd.Timestamp("2025-06-01")  # a later customer: reported, not fatal
    fresh.loc[1, "note"] = "x" * 500
    fresh.loc[2:60, "note"] = " "
    fresh.loc[3, "churn"] = None
    got = outcomes(fresh, schema)
    assert got["range:signup"] == (False, "warning")
    assert got["length:note"] == (False, "warning")
    assert got["empty:note"] == (False, "critical")
    assert got["target_missing:churn"] == (False, "warning")
    assert got["target_missing_limit:churn"] == (True, "critical")
    many = df.copy()
    many.loc[:40, "churn"] = None
    strict = ValidateConfig(max_missing_target_share=0.1)
    assert outcomes(many, schema, strict)["target_missing_limit:churn"] == (False, "critical")


def test_bounds_must_fit_the_dtype() -> None:
    with pytest.raises(ConfigError, match="expected numbers"):
        ColumnSchema(dtype="float", min="2024-01-01")
    with pytest.raises(ConfigError, match="not an ISO 8601"):
        ColumnSchema(dtype="datetime", min="last tuesday")
    with pytest.raises(ConfigError, match="greater than max"):
        ColumnSchema(dtype="datetime", min="2024-02-01", max="2024-01-01")
    with pytest.raises(ConfigError, match="max_empty_share"):
        ColumnSchema(dtype="string", kind="text", max_empty_share=2.0)
