"""The validate gate: each check kind passes on good data and fails on bad, with its severity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.bias import BiasConfig, BiasSeverity, summarize_groups
from traincycle.config import DataConfig
from traincycle.errors import DataError, GateFailed
from traincycle.schema import infer_schema, parse_schema
from traincycle.validate import (
    ValidateConfig,
    build_report,
    failed,
    gate,
    quality_metrics,
    render_html,
    schema_checks,
    validate_frame,
)

DATA = DataConfig(target="income", positive_label=">50K", sensitive=("sex", "race"))
# lenient bias limits: these tests look at schema checks unless they say otherwise
LENIENT = ValidateConfig(bias=BiasConfig(min_group_share=0.0, min_label_rate_ratio=0.0,
                                         max_group_missing_share=1.0))


def schema_for(df: pd.DataFrame, **column_edits: dict):
    schema, _ = infer_schema(df, target="income")
    values = {
        "target": schema.target,
        "labels": list(schema.labels),
        "columns": {
            name: {"dtype": c.dtype, "max_null_share": c.max_null_share, "min": c.min, "max": c.max,
                   "values": list(c.values) if c.values is not None else None,
                   **column_edits.get(name, {})}
            for name, c in schema.columns.items()
        },
    }
    return parse_schema(values, "schema.yaml")


def failures(df, schema, cfg=LENIENT):
    outcomes, _ = validate_frame(df, schema, DATA, cfg)
    return {o.check.name for o in outcomes if not o.success}, outcomes


def test_clean_data_passes_every_check(frame):
    bad, outcomes = failures(frame, schema_for(frame))
    assert bad == set()
    kinds = {o.check.kind for o in outcomes}
    assert {"columns", "dtype", "nulls", "range", "values", "labels", "group_share"} <= kinds
    gate(outcomes)  # no exception


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.assign(extra=1), "columns"),
        (lambda d: d.drop(columns="hours_per_week"), "columns"),
        (lambda d: d.assign(age=d.age.astype("float64")), "dtype:age"),
        (lambda d: d.assign(education=d.education.astype("string")), "dtype:education"),
        (lambda d: d.assign(age=d.age.where(d.index % 3 != 0)), "nulls:age"),
        (lambda d: d.assign(age=d.age.where(d.index != 0, 500)), "range:age"),
        (lambda d: d.assign(
            education=d.education.cat.add_categories("PhD").where(d.index != 5, "PhD")), "values:education"),
        (lambda d: d.assign(income=d.income.cat.set_categories(["<=50K", ">50K", "maybe"])
                            .where(d.index != 1, "maybe")), "labels:income"),
        (lambda d: d.assign(income=pd.Categorical(["<=50K"] * len(d))), "labels:income"),
    ],
)
def test_each_check_kind_fails_on_bad_data(frame, mutate, expected):
    schema = schema_for(frame)
    bad, outcomes = failures(mutate(frame.copy()), schema)
    assert expected in bad
    with pytest.raises(GateFailed, match=expected):
        gate(outcomes)


def test_missing_column_is_named_in_the_gate_message(frame):
    _, outcomes = failures(frame.drop(columns="hours_per_week"), schema_for(frame))
    with pytest.raises(GateFailed, match="columns \\(missing: hours_per_week\\)"):
        gate(outcomes)


def test_float_columns_reject_infinity(frame):
    df = frame.assign(score=np.linspace(0, 1, len(frame)))
    schema = schema_for(df, score={"min": None, "max": None})
    assert failures(df, schema)[0] == set()
    bad, _ = failures(df.assign(score=df.score.where(df.index != 3, np.inf)), schema)
    assert bad == {"finite:score"}


def test_warning_severity_is_reported_but_does_not_gate(frame):
    schema = schema_for(frame, age={"max": 30, "severity": {"range": "warning"}})
    bad, outcomes = failures(frame, schema)
    assert bad == {"range:age"}
    assert [o.check.name for o in failed(outcomes, "warning")] == ["range:age"]
    gate(outcomes)
    report = build_report(frame, outcomes, {})
    assert report["success"] is True
    assert report["statistics"]["failed_warning"] == 1
    entry = next(e for e in report["expectations"] if e["name"] == "range:age")
    assert entry["severity"] == "warning" and entry["observed"]["unexpected_count"] > 0


def test_null_share_within_allowance_passes(frame):
    df = frame.assign(age=frame.age.where(frame.index % 10 != 0))  # 10% missing
    assert "nulls:age" in failures(df, schema_for(frame, age={"max_null_share": 0.05}))[0]
    assert "nulls:age" not in failures(df, schema_for(frame, age={"max_null_share": 0.15}))[0]


def test_summarize_groups_computes_shares_rates_and_missing():
    df = pd.DataFrame({
        "sex": ["F", "F", "M", "M", "M", None],
        "x": [1.0, None, 1.0, 1.0, 1.0, 1.0],
        "income": ["<=50K", ">50K", ">50K", ">50K", "<=50K", "<=50K"],
    })
    s = summarize_groups(df, "sex", "income", ">50K").set_index("group")
    assert list(s.index) == ["<NA>", "F", "M"]
    assert s.loc["M", "row_share"] == pytest.approx(0.5)
    assert s.loc["F", "positive_rate"] == pytest.approx(0.5)
    assert s.loc["M", "label_rate_ratio"] == pytest.approx(1.0)
    assert s.loc["F", "label_rate_ratio"] == pytest.approx(0.75)
    assert s.loc["F", "missing_share"] == pytest.approx(0.5)


def biased_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    sex = np.where(np.arange(n) < n // 2, "Female", "Male")
    income = np.where((sex == "Male") & (rng.random(n) < 0.5), ">50K", "<=50K")
    income[0] = ">50K"  # women: 1 positive in 200; men: about half
    race = np.where(np.arange(n) < 2, "Other", "White")  # 0.5% of rows
    return pd.DataFrame({
        "age": rng.integers(20, 60, n), "sex": pd.Categorical(sex), "race": pd.Categorical(race),
        "income": pd.Categorical(income),
    })


def test_bias_checks_fail_on_skewed_groups_with_configured_severity():
    df = biased_frame()
    cfg = ValidateConfig(bias=BiasConfig(min_group_share=0.01, min_label_rate_ratio=0.8,
                                         max_group_missing_share=0.2))
    bad, outcomes = failures(df, schema_for(df), cfg)
    assert bad == {"group_share:race", "label_rate_ratio:sex", "label_rate_ratio:race"}
    by_name = {o.check.name: o for o in outcomes}
    assert by_name["group_share:race"].observed["failing_groups"] == ["Other"]
    assert by_name["label_rate_ratio:sex"].observed["failing_groups"] == ["Female"]
    assert by_name["label_rate_ratio:sex"].observed["observed_value"] < 0.05
    with pytest.raises(GateFailed, match=r"1 critical check\(s\) failed: group_share:race \(groups: Other"):
        gate(outcomes)  # the label-rate ratio is a warning by default
    strict = ValidateConfig(bias=BiasConfig(
        min_group_share=0.001, severity=BiasSeverity(label_rate_ratio="critical")))
    with pytest.raises(GateFailed, match="label_rate_ratio:sex"):
        gate(failures(df, schema_for(df), strict)[1])


def test_group_missing_share_check():
    df = biased_frame().astype({"age": "float64"})
    df.loc[df.sex == "Female", "age"] = np.where(np.arange(200) % 2 == 0, np.nan, 30.0)
    schema = schema_for(df, age={"max_null_share": 1.0})
    cfg = ValidateConfig(bias=BiasConfig(min_group_share=0.0, min_label_rate_ratio=0.0,
                                         max_group_missing_share=0.2,
                                         severity=BiasSeverity(group_missing="critical")))
    bad, outcomes = failures(df, schema, cfg)
    assert bad == {"group_missing:sex", "group_missing:race"}  # race Other: 2 women, one missing
    assert {o.check.name: o for o in outcomes}["group_missing:sex"].observed["failing_groups"] == ["Female"]


def test_missing_sensitive_column_is_a_data_error(frame):
    with pytest.raises(DataError, match="sensitive column 'race'"):
        validate_frame(frame.drop(columns="race"), schema_for(frame.drop(columns="race")), DATA, LENIENT)


def test_ordered_columns_match(frame):
    schema = schema_for(frame)
    ordered = parse_schema({**_as_values(schema), "columns_match": "ordered"}, "s")
    assert schema_checks(ordered, frame.columns)[0].expectation == "ExpectTableColumnsToMatchOrderedList"
    assert failures(frame[list(reversed(frame.columns))], ordered)[0] == {"columns"}
    assert failures(frame[list(reversed(frame.columns))], schema)[0] == set()


def _as_values(schema):
    return {
        "target": schema.target, "labels": list(schema.labels),
        "columns": {n: {"dtype": c.dtype, "values": list(c.values) if c.values else None}
                    for n, c in schema.columns.items()},
    }


def test_report_metrics_and_html_are_deterministic(frame):
    schema = schema_for(frame)
    runs = [validate_frame(frame, schema, DATA, LENIENT) for _ in range(2)]
    reports = [build_report(frame, *run) for run in runs]
    assert reports[0] == reports[1]
    assert render_html(reports[0]) == render_html(reports[1])
    metrics = quality_metrics(frame, *runs[0])
    assert metrics["rows"] == len(frame) and metrics["failed_critical"] == 0
    assert set(metrics["sex"]) >= {"min_group_share", "label_rate_ratio", "share_Female"}
    page = render_html(reports[0])
    assert "<script" not in page and "http" not in page and "range:age" in page


def test_constant_column_is_a_warning_by_default_and_critical_on_request(frame):
    df = frame.assign(hours_per_week=40)
    bad, outcomes = failures(df, schema_for(df))
    assert bad == {"constant:hours_per_week"}
    assert [o.check.name for o in failed(outcomes, "warning")] == ["constant:hours_per_week"]
    gate(outcomes)  # a warning does not stop the pipeline
    strict = schema_for(df, hours_per_week={"severity": {"constant": "critical"}})
    _, outcomes = failures(df, strict)
    with pytest.raises(GateFailed, match="constant:hours_per_week"):
        gate(outcomes)


def test_a_time_series_time_column_is_checked_and_reported():
    from traincycle.config import TimeConfig

    data = DataConfig(target="y", task="regression", time=TimeConfig(column="ts", series="shop"))
    times = pd.date_range("2024-01-01", periods=30, freq="D").strftime("%Y-%m-%d").tolist()
    clean = pd.DataFrame({"ts": times * 2, "shop": ["a"] * 30 + ["b"] * 30,
                          "y": np.arange(60, dtype=float)})
    schema, _ = infer_schema(clean, target="y")
    outcomes, _ = validate_frame(clean, schema, data, LENIENT)
    kinds = {o.check.kind: o for o in outcomes if o.check.kind.startswith("time_")}
    assert set(kinds) == {"time_parse", "time_duplicates", "time_order", "time_grid", "time_gaps"}
    assert all(o.success for o in kinds.values())
    assert kinds["time_gaps"].observed["step"] == "1 days 00:00:00"

    bad = clean.drop(index=[3, 4]).iloc[::-1].reset_index(drop=True)  # a hole, and newest first
    bad = pd.concat([bad, bad.iloc[[7]]], ignore_index=True)  # one time twice in one series
    outcomes, _ = validate_frame(bad, schema, data, LENIENT)
    report = {e["name"]: e for e in build_report(bad, outcomes, {})["expectations"]}
    twins = report["time_duplicates:ts"]
    assert not twins["success"] and twins["severity"] == "critical"
    assert report["time_order:ts"]["observed"]["sorted"] is False
    assert report["time_gaps:ts"]["observed"] == {
        "unexpected_count": 2, "unexpected_percent": pytest.approx(200 / 59), "step": "1 days 00:00:00",
        "missing_steps": 2, "holes": 1, "largest_hole_steps": 2}
    with pytest.raises(GateFailed, match=r"^validate: 1 critical check\(s\) failed: time_duplicates:ts \(1 "):
        gate(outcomes)
    unparsed = clean.assign(ts=clean["ts"].where(clean.index != 5, "soon"))
    outcomes, _ = validate_frame(unparsed, schema, data, LENIENT)
    parse = next(o for o in outcomes if o.check.name == "time_parse:ts")
    assert not parse.success and parse.observed["partial_unexpected_list"] == ["soon"]
