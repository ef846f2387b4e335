"""Column kinds of a table: numeric, category, boolean, datetime, text, identifier.

Ingest decides each text column's kind from its values (`infer_kind`) and stores the column
in the dtype that carries the kind downstream (`apply_kinds`): datetime64 for dates, pandas
``str`` for free text and identifiers, ``boolean`` for yes/no columns, ``category`` for the
rest. Every later stage reads the kind back from the dtype (`kind_of`), with `data.kinds`
overrides and `data.id_columns` winning, so all stages agree without another file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "category", "boolean", "datetime", "text", "identifier"]
KINDS: tuple[str, ...] = ("numeric", "category", "boolean", "datetime", "text", "identifier")
#: spellings of yes/no read as booleans (two of them, case-insensitive)
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})
#: names that look like keys: id, customer_id, CustomerID, uuid, key
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|[a-z]id$", re.IGNORECASE)
#: share of rows with a distinct value above which a column counts as unique per row
UNIQUE_SHARE = 0.95
#: values checked when guessing dates (the distinct values, at most this many)
DATE_SAMPLE = 2000
DATE_SHAPE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
#: a text column: several words per value on average
TEXT_WORDS = 3.0
#: the words TF-IDF counts: scikit-learn's default token pattern restricted to ASCII word
#: characters, because the ONNX graph's RE2 tokenizer knows only ASCII ``\w``
TOKEN_PATTERN = r"(?a)\b\w\w+\b"


def id_like_name(name: str) -> bool:
    """True for names such as id, customer_id, CustomerID, order_key, uuid."""
    return bool(ID_NAME.search(name))


def infer_kind(series: pd.Series, name: str, date_format: str | None = None) -> Kind:
    """The kind of one freshly read column, from its dtype and values."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    present = series.dropna()
    if pd.api.types.is_numeric_dtype(series.dtype):
        whole = pd.api.types.is_integer_dtype(series.dtype)
        unique = len(present) > 0 and present.nunique() >= UNIQUE_SHARE * len(present)
        return "identifier" if whole and unique and id_like_name(name) else "numeric"
    values = present.astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return "category"
    distinct = pd.Series(values.unique())
    if len(distinct) == 2 and set(distinct.str.lower()) <= TRUE_WORDS | FALSE_WORDS \
            and set(distinct.str.lower()) & TRUE_WORDS and set(distinct.str.lower()) & FALSE_WORDS:
        return "boolean"
    if _dates(distinct, date_format):
        return "datetime"
    unique = len(distinct) >= UNIQUE_SHARE * len(values)
    words = float(distinct.head(DATE_SAMPLE).str.split().str.len().mean())
    if unique and words < 2 and (id_like_name(name) or len(values) > 20):
        return "identifier"
    if words >= TEXT_WORDS and len(distinct) > 0.2 * len(values):
        return "text"
    return "category"


def _dates(distinct: pd.Series, date_format: str | None) -> bool:
    """Whether (nearly) every distinct value parses as a date of the expected shape."""
    sample = distinct.head(DATE_SAMPLE)
    if date_format is None and not sample.str.match(DATE_SHAPE).mean() >= 0.95:
        return False
    parsed = parse_dates(sample, date_format)
    return bool(parsed.notna().mean() >= 0.95)


def parse_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates from strings (ISO 8601 or `date_format`); what does not parse becomes NaT."""
    text = values.astype("string")
    fmt = date_format or "ISO8601"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    if date_format is None and parsed.notna().mean() < 0.95:
        # common non-ISO forms (31/12/2024, 12/31/2024): let pandas infer one format
        parsed = pd.to_datetime(text, format="mixed", errors="coerce", utc=True, dayfirst=False)
    # naive UTC: one comparable scale for every row, whatever offset it was written with
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def parse_booleans(values: pd.Series) -> pd.Series:
    """yes/no, true/false, y/n, t/f, 1/0 (any case) as pandas booleans; others missing."""
    lower = values.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[lower.isin(TRUE_WORDS).fillna(False).to_numpy()] = True
    out[lower.isin(FALSE_WORDS).fillna(False).to_numpy()] = False
    return out


def apply_kinds(
    df: pd.DataFrame, overrides: Mapping[str, str], skip: tuple[str, ...] = (),
    date_format: str | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Store every column in the dtype of its kind; return the frame and the kinds.

    `overrides` (params data.kinds) win over inference; `skip` columns (the target) keep their
    dtype. Integer codes declared `category` become categories of their decimal text.
    """
    unknown = sorted(set(overrides) - set(df.columns))
    if unknown:
        raise KeyError(unknown[0])
    out, kinds = df.copy(), {}
    for col in df.columns:
        if col in skip:
            continue
        kind = overrides.get(col) or infer_kind(df[col], col, date_format)
        kinds[col] = kind
        out[col] = convert(df[col], kind, date_format)
    return out, kinds


def convert(series: pd.Series, kind: str, date_format: str | None = None) -> pd.Series:
    """`series` in the dtype that carries `kind` (see the module docstring)."""
    if kind == "datetime":
        return series if pd.api.types.is_datetime64_any_dtype(series.dtype) \
            else parse_dates(series, date_format)
    if kind == "boolean":
        return series.astype("boolean") if pd.api.types.is_bool_dtype(series.dtype) \
            else parse_booleans(series)
    if kind in ("text", "identifier"):
        text = series.astype("string").astype(object)
        return pd.Series(text.where(series.notna(), None), index=series.index, dtype="str")
    if kind == "category":
        if isinstance(series.dtype, pd.CategoricalDtype):
            return series
        text = series.astype("string").str.strip()
        return text.astype("category")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series
    return pd.to_numeric(series, errors="coerce")


def kind_of(series: pd.Series, name: str, data: Any = None) -> str:
    """The kind of a column after ingest: params first, else what its dtype carries."""
    overrides: Mapping[str, str] = getattr(data, "kinds", None) or {}
    if name in overrides:
        return overrides[name]
    if data is not None and name in getattr(data, "id_columns", ()):
        return "identifier"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    # str columns are text or identifiers: ingest only leaves those as str
    present = series.dropna()
    distinct = present.nunique()
    words = float(present.head(DATE_SAMPLE).astype(str).str.split().str.len().mean()) if len(present) else 0.0
    if distinct >= UNIQUE_SHARE * max(len(present), 1) and words < 2:
        return "identifier"
    return "text"


def kinds_of(df: pd.DataFrame, data: Any = None) -> dict[str, str]:
    """`kind_of` for every column (looking into a column only when its dtype is not enough)."""
    out = {}
    for name, dtype in df.dtypes.items():
        plain = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        overridden = name in (getattr(data, "kinds", None) or {}) or name in getattr(data, "id_columns", ())
        if (plain and not isinstance(dtype, pd.CategoricalDtype)) or overridden:
            out[name] = kind_of(df[name], name, data)
        else:
            out[name] = kind_of(pd.Series([], dtype=dtype), name, data)
    return out


def date_parts(values: pd.Series, reference: np.datetime64) -> dict[str, np.ndarray]:
    """Calendar parts of datetimes (NaN where missing) and days since `reference`."""
    when = pd.to_datetime(values, errors="coerce")
    missing = when.isna().to_numpy()

    def part(array: Any) -> np.ndarray:
        out = np.array(array, dtype=np.float64)  # a copy: pandas may hand out read-only views
        out[missing] = np.nan
        return out

    days = (when - pd.Timestamp(reference)).dt.total_seconds() / 86400.0
    return {
        "year": part(when.dt.year), "month": part(when.dt.month), "dayofweek": part(when.dt.dayofweek),
        "dayofyear": part(when.dt.dayofyear), "hour": part(when.dt.hour), "days": part(days),
    }


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """Datetimes as float64 seconds since 1970-01-01 (NaN where missing): how a date column
    reaches the ONNX graph, whose calendar arithmetic mirrors `date_parts` (kind_onnx)."""
    when = pd.to_datetime(values, errors="coerce").astype("datetime64[ns]")
    ns = when.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out = ns / 1e9
    out[when.isna().to_numpy()] = np.nan
    return out
