"""ONNX export of the column-kind featurizer parts: calendar parts and TF-IDF terms in the graph
match featurize's, value for value, and predict/serve read dates, text and booleans as sent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer

from traincycle import export
from traincycle.errors import ConfigError, DataError
from traincycle.kind_features import TextTerms, date_pipeline
from traincycle.optimize import session


def graph_and_native(ct: ColumnTransformer, frame: pd.DataFrame, columns: list[export.Column]):
    ct.fit(frame)
    onx = export.export_featurizer(ct, columns)
    got = session(onx.SerializeToString()).run(None, export.to_feeds(frame, columns))[0]
    return got, np.asarray(ct.transform(frame), dtype=np.float32)


def test_calendar_parts_in_the_graph_equal_pandas_over_centuries_times_and_missing() -> None:
    rng = np.random.default_rng(0)
    low, high = pd.Timestamp("1890-01-01").value // 10**9, pd.Timestamp("2150-12-31").value // 10**9
    seconds = rng.integers(low, high, 3000)
    edges = pd.to_datetime(["2000-02-29", "1900-02-28 23:59:59", "1900-03-01", "2024-12-31 23:00",
                            "1970-01-01", "1969-12-31 23:59:59", "2100-03-01 00:00:01"], format="ISO8601")
    a = pd.Series(pd.to_datetime(seconds, unit="s")).astype("datetime64[ns]")
    a.iloc[: len(edges)] = edges
    a.iloc[[10, 20]] = pd.NaT
    b = a.sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame = pd.DataFrame({"a": a, "b": b})
    cols = [export.Column("a", "datetime", "datetime"), export.Column("b", "datetime", "datetime")]
    got, want = graph_and_native(ColumnTransformer([("datetime", date_pipeline(), ["a", "b"])]), frame, cols)
    assert got.shape == want.shape == (3000, 12)  # six parts (hours present) per column
    np.testing.assert_array_equal(got, want)


def test_tfidf_terms_in_the_graph_equal_featurize_on_mixed_text() -> None:
    notes = pd.Series(["Refund please, card charged twice!", "café crème was great", None, "",
                       "late delivery late again", "REFUND requested; late", "42 items missing",
                       "great service", "charged twice for delivery", "naïve question about refund"] * 5,
                      dtype="str", name="note")
    frame = pd.DataFrame({"note": notes})
    ct = ColumnTransformer([("text_note", TextTerms(50, 2, 2), "note")])
    got, want = graph_and_native(ct, frame, [export.Column("note", "text", "text")])
    assert want.shape[1] > 5
    np.testing.assert_array_equal(got, want)  # bit for bit: tree splits sit on these values


def test_a_text_column_without_terms_is_refused_in_one_line() -> None:
    frame = pd.DataFrame({"note": pd.Series(["a", "b", None, "c"], dtype="str")})
    ct = ColumnTransformer([("text_note", TextTerms(), "note")])
    with pytest.raises(ConfigError, match="text column 'note' has no terms") as info:
        graph_and_native(ct, frame, [export.Column("note", "text", "text")])
    assert "\n" not in str(info.value)


def specs():
    from traincycle.inputs import specs_from_manifest

    return specs_from_manifest({"inputs": [
        {"name": "when", "kind": "datetime", "dtype": "datetime", "min": "2020-01-01", "max": "2024-12-31"},
        {"name": "note", "kind": "text", "dtype": "text"},
        {"name": "autopay", "kind": "numeric", "dtype": "bool"},
    ]})


def test_files_give_dates_text_and_yes_no_as_users_write_them() -> None:
    from traincycle.inputs import PredictConfig, frame_columns, screen

    df = pd.DataFrame({"when": ["2021-03-04", "2022-01-01T10:00:00Z", None, "2030-01-01"],
                       "note": ["late again", None, "12", "ok"], "autopay": ["yes", "No", None, "TRUE"]})
    columns = frame_columns(df, specs())
    screened = screen(columns, specs(), PredictConfig(), 4)
    assert screened.feeds["when"].dtype == np.float64
    assert screened.feeds["when"][0, 0] == pd.Timestamp("2021-03-04").value / 1e9
    assert screened.feeds["note"][:, 0].tolist() == ["late again", "", "12", "ok"]
    assert screened.feeds["autopay"][:, 0].tolist()[:2] == [1.0, 0.0]
    assert screened.flags[2] == "missing:when;missing:autopay"
    assert screened.flags[3] == "out_of_range:when"
    with pytest.raises(DataError, match=r"column 'when' row 3: 2030-01-01T00:00:00 is outside"):
        screen(columns, specs(), PredictConfig(unknown="error"), 4)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("when", "next tuesday", r"column 'when' row 1: expected a date \(ISO 8601"),
    ("autopay", "maybe", r"column 'autopay' row 1: expected yes/no, true/false or 1/0, got 'maybe'"),
])
def test_values_of_the_wrong_kind_are_refused_in_one_line(column: str, value: str, message: str) -> None:
    from traincycle.inputs import frame_columns

    df = pd.DataFrame({"when": ["2021-03-04", "2021-03-05"], "note": ["a", "b"], "autopay": ["yes", "no"]})
    df.loc[1, column] = value
    with pytest.raises(DataError, match=message):
        frame_columns(df, specs())


def test_json_rows_take_iso_strings_text_and_true_false() -> None:
    from traincycle.inputs import PredictConfig, record_columns, screen

    rows = [{"when": "2021-03-04T12:30:00+02:00", "note": "  refund  ", "autopay": True},
            {"when": None, "note": None, "autopay": None}]
    names = {s.name: s.name for s in specs()}
    columns, absent = record_columns(rows, specs(), names, frozenset())
    screened = screen(columns, specs(), PredictConfig(), 2, absent=absent)
    assert screened.feeds["when"][0, 0] == pd.Timestamp("2021-03-04T10:30:00").value / 1e9
    assert screened.feeds["note"][:, 0].tolist() == ["refund", ""]
    with pytest.raises(DataError, match=r"field 'when': expected a date \(a string\) or null, got int"):
        record_columns([{"when": 20210304}], specs(), names, frozenset())
