"""Column kinds: inference at ingest, the dtype that carries each kind, and their featurizers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.column_kinds import apply_kinds, infer_kind, kinds_of, parse_booleans, parse_dates
from traincycle.config import DataConfig
from traincycle.kind_features import DateParts, TextTerms

WORDS = ["late", "delivery", "refund", "great", "service", "broken", "app", "thanks", "slow", "login"]


def customers(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    notes = [" ".join(rng.choice(WORDS, size=5)) + f" ticket {i}" for i in range(n)]
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "plan": rng.choice(["basic", "pro", "team"], size=n),
        "active": rng.choice(["yes", "no"], size=n),
        "spend": rng.normal(50, 10, size=n),
        "zip": rng.integers(10000, 10005, size=n),
        "note": notes,
    })


def test_each_kind_is_inferred_from_the_values() -> None:
    df = customers()
    got = {c: infer_kind(df[c], c) for c in df.columns}
    assert got == {"customer_id": "identifier", "signup": "datetime", "plan": "category",
                   "active": "boolean", "spend": "numeric", "zip": "numeric", "note": "text"}


def test_unique_integers_are_ids_only_with_an_id_like_name() -> None:
    codes = pd.Series(np.arange(100))
    assert infer_kind(codes, "order_id") == "identifier"
    assert infer_kind(codes, "income") == "numeric"


def test_apply_kinds_stores_each_kind_in_its_dtype_and_overrides_win() -> None:
    df = customers()
    out, kinds = apply_kinds(df, {"zip": "category"}, skip=("spend",))
    assert kinds["zip"] == "category" and "spend" not in kinds
    assert isinstance(out["zip"].dtype, pd.CategoricalDtype) and "10000" in set(out["zip"].astype(str))
    assert pd.api.types.is_datetime64_any_dtype(out["signup"].dtype)
    assert out["active"].dtype == "boolean"
    # every later stage reads the same kinds back from the dtypes alone
    data = DataConfig(target="spend", kinds={"zip": "category"})
    assert kinds_of(out.drop(columns="spend"), data) == kinds
    with pytest.raises(KeyError):
        apply_kinds(df, {"nope": "text"})


def test_dates_parse_iso_offsets_and_a_forced_format() -> None:
    iso = parse_dates(pd.Series(["2024-03-01T10:00:00+02:00", "2024-03-01", None]))
    assert iso.iloc[0] == pd.Timestamp("2024-03-01 08:00") and pd.isna(iso.iloc[2])
    day_first = parse_dates(pd.Series(["31/12/2024", "01/02/2025"]), "%d/%m/%Y")
    assert list(day_first.dt.month) == [12, 2]


def test_booleans_read_as_users_write_them() -> None:
    got = parse_booleans(pd.Series(["Yes", "no", "TRUE", "0", "maybe", None]))
    assert got.tolist() == [True, False, True, False, pd.NA, pd.NA]


def test_date_parts_are_fitted_on_train_and_missing_dates_stay_missing() -> None:
    train = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-01-08"])})
    parts = DateParts().fit(train)
    names = ["d_year", "d_month", "d_dayofweek", "d_dayofyear", "d_days"]  # no hour: train has none
    assert list(parts.get_feature_names_out()) == names
    out = parts.transform(pd.DataFrame({"d": pd.to_datetime(["2024-01-15", None])}))
    np.testing.assert_array_equal(out[0], [2024, 1, 0, 15, 14])
    assert np.isnan(out[1]).all()


def test_text_terms_keep_a_bounded_vocabulary_per_column() -> None:
    notes = pd.Series(["late delivery again", "late refund", "great service", "late app"], name="note")
    terms = TextTerms(max_features=2, min_df=1).fit(notes)
    names = list(terms.get_feature_names_out())
    assert len(names) == 2 and "note_late" in names
    assert terms.transform(pd.Series(["nothing known"])).shape == (1, 2)
    empty = TextTerms().fit(pd.Series(["", None], name="note"))
    assert empty.transform(pd.Series(["x"])).shape == (1, 0)
