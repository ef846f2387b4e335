"""Table rows: CSV/Parquet files for predict, JSON rows for the service (``{"rows": [...]}``).

Files are parsed as ingest parsed the source (the manifest's ``parsing``, :mod:`traincycle.parsing`)
and every row is checked by :func:`traincycle.inputs.screen`: one rule for predict and serve.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.inputs import InputSpec, Layout, PredictConfig, specs_from_manifest
from traincycle.intake.base import JSON, Batch, json_items, kind
from traincycle.parsing import ReadOptions

FORMATS = (".csv", ".parquet")
#: columns sent as strings that are neither numbers nor categories
STRING_KINDS = {"text": "free text",
                "datetime": "a date or time, ISO 8601 (2024-05-31, 2024-05-31T14:00:00Z)"}


def check_input(path: str | Path) -> Path:
    """An existing .csv or .parquet file, or a one-line error."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"{path}: expected a .csv or .parquet file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return path


def read_batches(path: str | Path, specs: Sequence[InputSpec], options: ReadOptions,
                 batch_rows: int) -> Iterator[pd.DataFrame]:
    """Stream a CSV or Parquet file in tidied batches, parsed as ingest parsed the source."""
    from traincycle.parsing import csv_chunks, tidy

    path = check_input(path)
    if path.suffix.lower() == ".csv":
        text = [s.name for s in specs if s.is_string or s.kind == "datetime"]
        batches: Iterator[pd.DataFrame] = csv_chunks(path, options, batch_rows, text)
    else:
        batches = parquet_batches(path, batch_rows)
    for batch in batches:
        yield tidy(batch, str(path))


def parquet_batches(path: Path, batch_rows: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A Parquet file in frames of `batch_rows` rows (only `columns` when given)."""
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
            yield batch.to_pandas()
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable ({type(exc).__name__}: {exc})") from None


def count_rows(path: Path) -> int | None:
    """Rows in a Parquet file from its footer (None for CSV: counting would read it twice)."""
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError):  # unreadable: the reader says so in one line
        return None


def row_schema(manifest: dict[str, Any], cfg: PredictConfig) -> dict[str, Any]:
    """JSON schema of one raw row: numbers or null, text or null (an enum of the training
    categories when unknown ones are refused); every field required unless absent ones are
    imputed."""
    props: dict[str, Any] = {}
    for col in manifest["inputs"]:
        if col["kind"] in STRING_KINDS:
            described = f"a date or time written as {col['format']}" if col.get("format") \
                else STRING_KINDS[col["kind"]]
            prop: dict[str, Any] = {"type": ["string", "null"], "description": described}
        elif col["kind"] == "categorical":
            cats = col.get("categories") or []
            if cfg.unknown == "error" and cats:
                prop = {"enum": [*cats, None]}
            else:
                prop = {"type": ["string", "null"],
                        "description": "known: " + ", ".join(cats[:20]) + (", ..." if len(cats) > 20 else "")}
        else:
            prop = {"type": ["boolean", "null"] if col["dtype"] == "bool" else ["number", "null"]}
            if cfg.unknown == "error":  # out-of-range values are refused: part of the contract
                prop.update({key: col[k] for k, key in (("min", "minimum"), ("max", "maximum"))
                             if k in col})
        props[col["name"]] = prop
    schema: dict[str, Any] = {"title": "Row", "type": "object", "properties": props,
                              "additionalProperties": False}
    if cfg.missing_columns == "error":
        schema["required"] = list(props)
    return schema


def request_schema(manifest: dict[str, Any], cfg: PredictConfig, max_rows: int) -> dict[str, Any]:
    """JSON schema of the /predict body."""
    return {"title": "PredictRequest", "type": "object", "required": ["rows"],
            "additionalProperties": False,
            "properties": {"rows": {"type": "array", "minItems": 1, "maxItems": max_rows,
                                    "items": row_schema(manifest, cfg)}}}


class TableIntake:
    """Raw table rows, as the source was written."""

    ID = "row"
    BATCH = 65_536
    KEY = "rows"

    def __init__(self, manifest: dict[str, Any], cfg: PredictConfig) -> None:
        from traincycle.parsing import na_strings

        self.manifest, self.cfg = manifest, cfg
        self.specs = specs_from_manifest(manifest)
        self.layout = Layout(self.specs)  # once: a wide request is then checked without a step per column
        self.options = ReadOptions.from_record(manifest.get("parsing"))
        names = {s.name: s.name for s in self.specs}
        names.update({orig: snake for orig, snake in self.options.names.items() if snake in names})
        self.names = names
        self.missing = na_strings(self.options.na_values)

    def count(self, path: Path) -> int | None:
        return count_rows(check_input(path))

    def batches(self, path: Path, batch_rows: int) -> Iterator[Batch]:
        from traincycle.inputs import frame_columns, screen

        offset, where = 0, str(path)
        for frame in read_batches(path, self.specs, self.options, batch_rows):
            if frame.empty:
                continue
            columns = frame_columns(frame, self.specs, offset, where)
            screened = screen(columns, self.specs, self.cfg, len(frame), offset, where,
                              layout=self.layout)
            yield Batch(np.arange(offset, offset + len(frame)), screened)
            offset += len(frame)

    def request_content(self, max_items: int) -> dict[str, Any]:
        return {JSON: {"schema": request_schema(self.manifest, self.cfg, max_items)}}

    def parse_request(self, raw: bytes, content_type: str, max_items: int) -> Batch:
        from traincycle.inputs import record_columns, screen

        records = json_items(raw, self.KEY, max_items, "row objects")
        for i, row in enumerate(records):
            if not isinstance(row, dict):
                raise DataError(f"request: row {i}: expected an object of fields, got {kind(row)}")
        columns, absent = record_columns(records, self.specs, self.names, self.missing,
                                         layout=self.layout)
        screened = screen(columns, self.specs, self.cfg, len(records), where="request", absent=absent,
                          layout=self.layout)
        return Batch(np.arange(len(records)), screened)


def make(manifest: dict[str, Any], cfg: PredictConfig) -> TableIntake:
    """This module's intake for a model directory's manifest (see :func:`traincycle.intake.intake`)."""
    return TableIntake(manifest, cfg)
