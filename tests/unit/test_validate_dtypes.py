"""Range and finite checks on numeric dtypes GX would scan row by row (float32, int32, Int64).

The column profile compares them as float64 (missing as NaN): same verdicts and counts as float64 data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.bias import BiasConfig
from traincycle.config import DataConfig
from traincycle.schema import infer_schema, parse_schema
from traincycle.validate import ValidateConfig, validate_frame

from conftest import make_frame

DATA = DataConfig(target="income", positive_label=">50K", sensitive=("sex", "race"))
LENIENT = ValidateConfig(bias=BiasConfig(min_group_share=0.0, min_label_rate_ratio=0.0,
                                         max_group_missing_share=1.0))


def with_score(dtype: str, n: int = 400) -> pd.DataFrame:
    """The shared Adult-like frame plus a `score` column: 3 values out of [0, 1], 2 missing."""
    df = make_frame(n)
    score = np.linspace(0.0, 1.0, n)
    score[[5, 50, 150]] = [1.5, 2.0, -0.5]
    score[[7, 9]] = np.nan
    if dtype == "Int64":  # whole numbers: scale to a 0..10 range, out-of-range stays out
        df["score"] = pd.array(np.where(np.isnan(score), None, np.round(score * 10)), dtype="Int64")
    else:
        df["score"] = score.astype(dtype)
    return df


def schema(dtype: str, df: pd.DataFrame):
    """The inferred schema with the score range set to [0, 1] (0..10 for Int64)."""
    inferred, _ = infer_schema(df, target="income")
    columns = {
        name: {"dtype": c.dtype, "max_null_share": 0.1, "min": c.min, "max": c.max,
               "values": list(c.values) if c.values is not None else None}
        for name, c in inferred.columns.items()
    }
    columns["score"].update(min=0, max=10 if dtype == "Int64" else 1.0)
    return parse_schema({"target": "income", "labels": list(inferred.labels), "columns": columns},
                        "schema.yaml")


def range_outcome(dtype: str):
    df = with_score(dtype)
    outcomes, _ = validate_frame(df, schema(dtype, df), DATA, LENIENT)
    return {o.check.name: o for o in outcomes}


@pytest.mark.parametrize("dtype", ["float32", "Int64"])
def test_narrow_dtypes_get_the_same_verdicts_as_float64(dtype: str) -> None:
    narrow, wide = range_outcome(dtype), range_outcome("float64")
    assert not narrow["range:score"].success
    count = narrow["range:score"].observed["unexpected_count"]
    assert count == 3 == wide["range:score"].observed["unexpected_count"]
    assert narrow["nulls:score"].success and narrow["dtype:score"].success
    if dtype == "float32":
        assert narrow["finite:score"].success
