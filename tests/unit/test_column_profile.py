"""The column profile: bulk pandas/numpy results equal GX's one-expectation-per-column results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincycle import column_profile, validate
from traincycle.config import DataConfig
from traincycle.schema import infer_schema, parse_schema
from traincycle.synth import wide_frame
from traincycle.validate import DATA_BATCH, ValidateConfig, evaluate_checks, run_checks, schema_checks

from conftest import make_frame


def mixed_frame() -> pd.DataFrame:
    """Adult-like columns plus floats with missing values, infinities and a constant column."""
    df = make_frame(300)
    rng = np.random.default_rng(3)
    df["score"] = rng.normal(size=300)
    df["ratio"] = np.where(np.arange(300) % 17 == 0, np.nan, rng.random(300))
    df["const"] = 2.0
    df["note"] = pd.Series(rng.choice(["a", "b"], 300), dtype="str")
    return df


def strict_schema(df: pd.DataFrame):
    """The inferred schema, tightened so that most check kinds fail somewhere."""
    inferred, _ = infer_schema(df, target="income")
    columns = {
        name: {"dtype": c.dtype, "max_null_share": c.max_null_share, "min": c.min, "max": c.max,
               "values": list(c.values) if c.values is not None else None}
        for name, c in inferred.columns.items()
    }
    columns["age"].update(min=20, max=60)
    columns["score"].update(min=-1.0, max=None)
    columns["ratio"].update(max_null_share=0.01)
    columns["education"].update(values=["HS", "Masters"])
    columns["note"].update(values=["a"])
    return parse_schema({"target": "income", "labels": list(inferred.labels), "columns": columns}, "s.yaml")


def as_json(outcome) -> str:
    fields = {"success": outcome.success, "observed": outcome.observed}
    return json.dumps(fields, sort_keys=True, default=repr)


def test_profiled_checks_equal_one_gx_expectation_per_column() -> None:
    df = mixed_frame()
    df.loc[[4, 9], "score"] = [np.inf, -np.inf]
    checks = schema_checks(strict_schema(df), df.columns)
    batches = {DATA_BATCH: df}
    per_column = {o.check.name: o for o in run_checks(checks, batches)}
    bulk = {o.check.name: o for o in evaluate_checks(checks, batches)}
    assert list(bulk) == list(per_column)
    failed = {name for name, o in bulk.items() if not o.success}
    assert {"range:age", "range:score", "finite:score", "nulls:ratio", "values:education",
            "values:note", "constant:const"} <= failed
    for name in per_column:
        assert as_json(bulk[name]) == as_json(per_column[name]), name


def test_gx_expectations_do_not_grow_with_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = []
    real = validate.run_checks

    def counting(checks, batches, complete=()):
        sizes.append(len(checks))
        return real(checks, batches, complete)

    monkeypatch.setattr(validate, "run_checks", counting)
    data = DataConfig(target="label", task="multiclass", sensitive=())
    for cols in (5, 120):
        df = wide_frame(40, cols)
        schema, _ = infer_schema(df, target="label")
        outcomes, _ = validate.validate_frame(df, schema, data, ValidateConfig())
        assert len(outcomes) == 1 + 5 * cols + 5  # columns, 5 per g, 5 on the target
    assert sizes[0] == sizes[1]


def test_small_blocks_give_the_same_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    df = mixed_frame()
    checks = [c for c in schema_checks(strict_schema(df), df.columns)
              if column_profile.profiled(c, df.dtypes.to_dict())]
    whole = column_profile.observe(checks, df)
    monkeypatch.setattr(column_profile, "BLOCK_ELEMENTS", 700)  # two columns per block
    assert column_profile.observe(checks, df) == whole


def test_range_on_text_is_left_to_gx() -> None:
    df = mixed_frame().assign(age=lambda d: d.age.astype(str))
    dtypes = df.dtypes.to_dict()
    checks = {c.name: c for c in schema_checks(strict_schema(mixed_frame()), df.columns)}
    assert not column_profile.profiled(checks["range:age"], dtypes)
    assert column_profile.profiled(checks["nulls:age"], dtypes)
    outcome = {o.check.name: o for o in evaluate_checks(list(checks.values()), {DATA_BATCH: df})}
    assert not outcome["dtype:age"].success and "error" in outcome["range:age"].observed
