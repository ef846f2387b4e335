"""Reading raw tabular rows: one parser for the training source, `traincycle predict` and the service.

ingest reads the source with :func:`parse_csv` (or Parquet) and :func:`tidy`; predict streams new
files through :func:`csv_chunks` with the same options and the same :func:`tidy`, and the service
cleans JSON values with :func:`clean_text`. The options travel from ingest to the model directory
in the manifest (:func:`parsing_record`), so a raw row in the source's format is read alike
everywhere: no training/serving skew from parsing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from traincycle.errors import ConfigError, DataError


class CsvFormat(Protocol):
    """What a CSV reader needs to know (ingest's params section has these fields)."""

    delimiter: str
    encoding: str
    na_values: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """A recorded CSV format (the manifest's `parsing`); defaults are pandas' own."""

    delimiter: str = ","
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    #: the source's column names -> snake_case names
    names: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> ReadOptions:
        """From :func:`parsing_record`'s output (None: the defaults)."""
        record = record or {}
        return cls(str(record.get("delimiter", ",")), str(record.get("encoding", "utf-8")),
                   tuple(map(str, record.get("na_values", ()))), dict(record.get("names", {})))


def csv_options(fmt: CsvFormat) -> dict[str, Any]:
    """pandas.read_csv options shared by every reader of raw CSV rows."""
    return {"sep": fmt.delimiter, "skipinitialspace": True, "na_values": list(fmt.na_values)}


def decode(raw: bytes, source: str, encoding: str) -> str:
    """Bytes to text, or a one-line error naming the offending byte."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: not {encoding} text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8 or set params ingest.encoding"
        ) from None
    except LookupError:
        raise ConfigError(f"params ingest.encoding: unknown encoding {encoding!r}") from None


def check_header(first_line: str, source: str, fmt: CsvFormat) -> list[str]:
    """The header's names; duplicates are an error."""
    header = next(csv.reader(io.StringIO(first_line), delimiter=fmt.delimiter), [])
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"{source}: duplicate column name {dupes[0]!r} in the header")
    return names


def parse_csv(raw: bytes, source: str, fmt: CsvFormat) -> pd.DataFrame:
    """A whole CSV file (header row first) as a frame, read with :func:`csv_options`."""
    if not raw.strip():
        raise DataError(f"{source}: file is empty, expected a CSV with a header row")
    text = decode(raw, source, fmt.encoding)
    header = check_header(text.split("\n", 1)[0], source, fmt)
    try:
        df = pd.read_csv(io.StringIO(text), **csv_options(fmt), low_memory=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{source}: not a readable CSV ({str(exc).strip()})") from None
    _check_delimiter(df, header, source, fmt)
    return df


def csv_chunks(path: Path, fmt: CsvFormat, rows: int, text: Sequence[str] = ()) -> Iterator[pd.DataFrame]:
    """Stream a CSV file in frames of `rows` rows; columns whose snake_case name is in `text`
    are read as strings (never guessed as numbers)."""
    with path.open("rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise DataError(f"{path}: the file is empty")
    header = check_header(decode(first, str(path), fmt.encoding), str(path), fmt)
    dtype = {h: "string" for h in header if snake_case(h) in set(text)}
    first_chunk = True
    try:
        for chunk in pd.read_csv(path, **csv_options(fmt), encoding=fmt.encoding, dtype=dtype,
                                 chunksize=rows):
            if first_chunk:
                _check_delimiter(chunk, header, str(path), fmt)
                first_chunk = False
            yield chunk
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not {fmt.encoding} text ({exc.reason} at byte {exc.start} of a "
                        "block); re-save it or set params ingest.encoding") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).strip()})") from None


def _check_delimiter(df: pd.DataFrame, header: list[str], source: str, fmt: CsvFormat) -> None:
    if df.shape[1] == 1 and header and any(d in header[0] for d in ";\t|" if d != fmt.delimiter):
        raise DataError(
            f"{source}: found a single column {header[0][:40]!r}; the file looks delimited by "
            "something else than params ingest.delimiter "
            f"{fmt.delimiter!r}"
        )


def snake_case(name: str) -> str:
    """'Hours-per-week ' -> 'hours_per_week'; 'capitalGain' -> 'capital_gain'."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower() or "column"


def tidy(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Snake-case column names; strip strings; text columns as `category` with sorted categories."""
    renamed = [snake_case(c) for c in df.columns]
    clashes = sorted({n for n in renamed if renamed.count(n) > 1})
    if clashes:
        raise DataError(f"{source}: several columns become {clashes[0]!r} after snake_case naming")
    out = df.copy()
    out.columns = renamed
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.CategoricalDtype) or _is_text(series):
            out[col] = _tidy_categorical(series)
    return out


def _tidy_categorical(series: pd.Series) -> pd.Series:
    """Strip whitespace and sort categories, working on the unique values only (fast at 10M rows)."""
    cat = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    stripped = cat.cat.categories.astype("string").str.strip()
    codes = cat.cat.codes.to_numpy()
    categories = sorted(set(stripped.dropna()) - {""})
    position = {c: i for i, c in enumerate(categories)}
    remap = np.array([position.get(c, -1) if pd.notna(c) else -1 for c in stripped] + [-1])
    return pd.Series(
        pd.Categorical.from_codes(remap[codes], categories=categories), index=series.index,
        name=series.name,
    )


def _is_text(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)


def na_strings(na_values: Sequence[str]) -> frozenset[str]:
    """Every text read as missing: pandas' defaults ("", "NA", "NaN", ...) plus `na_values`."""
    from pandas._libs.parsers import STR_NA_VALUES

    return frozenset(STR_NA_VALUES) | frozenset(na_values)


def clean_text(value: str, missing: frozenset[str]) -> str | None:
    """One text value as ingest leaves it: None for a missing-value marker (matched after the
    leading blanks read_csv skips) or a blank; else stripped (tidy strips trailing blanks)."""
    text = value.lstrip()
    if text in missing:
        return None
    return text.rstrip() or None


def parsing_record(fmt: CsvFormat, original: Sequence[Any], df: pd.DataFrame) -> dict[str, Any]:
    """How ingest read the source, for the manifest: CSV options, original -> snake_case names,
    dtypes after tidying."""
    return {
        "delimiter": fmt.delimiter,
        "encoding": fmt.encoding,
        "na_values": list(fmt.na_values),
        "names": {str(o): snake_case(o) for o in original},
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
    }
