"""Read a data source into one clean table: snake_case columns, categoricals as `category`."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd

from traincycle.config import DataConfig, check_range
from traincycle.datasource import is_remote, remote_hint
from traincycle.errors import ConfigError, DataError
from traincycle.io import sha256_bytes, sha256_file
from traincycle.parsing import parse_csv, parsing_record, tidy


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    """How to parse a CSV source (ignored for Parquet and built-in data)."""

    delimiter: str = ","
    encoding: str = "utf-8"
    #: extra strings read as missing, on top of pandas' defaults ("", "NA", "NaN", ...)
    na_values: tuple[str, ...] = ("?",)
    #: rows kept from the source (0 = all); a quick way to shrink runs
    max_rows: int = 0

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise ConfigError(f"params ingest.delimiter: expected one character, got {self.delimiter!r}")
        check_range("ingest.max_rows", self.max_rows, 0)


def read_source(source: str, cfg: IngestConfig) -> tuple[pd.DataFrame, dict[str, str]]:
    """Load `source` (builtin:NAME, local CSV/Parquet path or URL); return the frame and file hashes."""
    if source.startswith("builtin:"):
        from traincycle.datasets import BUILTINS

        name = source.removeprefix("builtin:")
        if name not in BUILTINS:
            raise ConfigError(
                f"params data.source: unknown built-in dataset {name!r}; "
                f"available: {', '.join('builtin:' + n for n in BUILTINS)}"
            )
        df, files = BUILTINS[name]()
        return df, {fname: sha256_bytes(blob) for fname, blob in files.items()}
    name = source.rsplit("/", 1)[-1]
    is_parquet = name.lower().endswith((".parquet", ".pq"))
    if is_remote(source):
        raw = _read_remote(source)
        df = _parse_parquet(io.BytesIO(raw), source) if is_parquet else parse_csv(raw, source, cfg)
        return df, {name: sha256_bytes(raw)}
    path = _local_file(source)
    # Parquet is read straight from disk (column projection, no second copy in memory)
    df = _parse_parquet(path, source) if is_parquet else parse_csv(path.read_bytes(), source, cfg)
    return df, {name: sha256_file(path)}


def _read_remote(source: str) -> bytes:
    import fsspec

    try:
        with fsspec.open(source, "rb") as fh:
            return fh.read()
    except Exception as exc:  # network and auth errors vary by filesystem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(
            f"{source}: cannot read ({type(exc).__name__}: {first}); {remote_hint(source)}"
        ) from None


def _local_file(source: str) -> Path:
    path = Path(source)
    if not path.is_absolute() and not path.resolve().is_relative_to(Path.cwd().resolve()):
        raise ConfigError(
            f"params data.source: relative path {source!r} leads outside the repository; "
            "give an absolute path if you mean it"
        )
    if not path.exists():
        raise DataError(f"{source}: file not found (params data.source)")
    if path.is_dir():
        raise DataError(f"{source}: is a directory, expected a CSV or Parquet file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{source}: cannot read (permission denied)")
    return path


def _parse_parquet(file: Path | io.BytesIO, source: str) -> pd.DataFrame:
    if isinstance(file, Path) and file.stat().st_size == 0:
        raise DataError(f"{source}: file is empty, expected Parquet data")
    try:
        return pd.read_parquet(file, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several types for corrupt or truncated files
        raise DataError(f"{source}: not a readable Parquet file ({exc})") from None


def with_kinds(df: pd.DataFrame, data: DataConfig) -> pd.DataFrame:
    """Each column in the dtype of its kind (dates, text, ids, booleans; see `column_kinds`)."""
    from traincycle.column_kinds import apply_kinds

    try:
        out, _ = apply_kinds(df, data.kinds, skip=(data.target,), date_format=data.date_format)
    except KeyError as exc:
        raise ConfigError(f"params data.kinds: column {exc.args[0]!r} is not in the data") from None
    return out


def check_target(df: pd.DataFrame, data: DataConfig, source: str) -> None:
    """Fail early on data no model can learn from: no rows, target absent/empty/constant."""
    if len(df) == 0:
        raise DataError(f"{source}: has a header but no rows")
    if data.target not in df.columns:
        cols = ", ".join(map(str, df.columns[:20]))
        raise DataError(
            f"{source}: target column {data.target!r} (params data.target) not found; columns: {cols}"
        )
    labels = df[data.target].dropna()
    if labels.empty:
        raise DataError(f"{source}: target column {data.target!r} has no values (all missing)")
    if data.task != "regression" and labels.nunique() < 2:
        raise DataError(
            f"{source}: target column {data.target!r} has a single class {labels.iloc[0]!r}; "
            "classification needs at least two"
        )
    if data.task == "regression" and not pd.api.types.is_numeric_dtype(labels):
        raise DataError(f"{source}: target column {data.target!r} is not numeric; regression needs numbers")
    for col in (*data.sensitive, *data.id_columns):
        if col not in df.columns:
            raise DataError(f"{source}: column {col!r} named in params data not found")
    for col in data.sensitive:
        groups = df[col].dropna().unique()
        if len(groups) < 2:
            only = repr(groups[0]) if len(groups) else "no values"
            raise DataError(
                f"{source}: sensitive column {col!r} has a single group ({only}); "
                "bias and fairness checks need at least two (or remove it from params data.sensitive)"
            )


def label_text(labels: pd.Series) -> pd.Series:
    """Class labels as text categories; 0/1 read as floats (a missing label) stay "0"/"1"."""
    if pd.api.types.is_float_dtype(labels):
        present = labels.dropna()
        if (present == present.round()).all():
            labels = labels.astype("Int64")
    return labels.astype("string").astype("category")


def ingest(data: DataConfig, cfg: IngestConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read, tidy and check a table; return it and its provenance record."""
    df, hashes = read_source(data.source, cfg)
    original = list(df.columns)
    df = tidy(df, data.source)
    if cfg.max_rows:
        df = df.iloc[: cfg.max_rows].reset_index(drop=True)
    check_target(df, data, data.source)
    df = with_kinds(df, data)
    if data.task != "regression":
        df[data.target] = label_text(df[data.target])
    provenance = {
        "source": data.source,
        "sha256": hashes,
        "rows": len(df),
        "columns": len(df.columns),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
        # how to read new rows alike (predict, serve): optimize copies it into the manifest
        "parsing": parsing_record(cfg, original, df),
    }
    return df, provenance
