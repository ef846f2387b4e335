"""Texts: a CSV/Parquet with the model's text column or a .txt (one text per line) for predict;
``{"texts": [...]}`` for the service.

CSV files are parsed as ingest parsed the source (the manifest's ``parsing``), and every text is
cleaned as featurize cleaned the training texts (:func:`traincycle.text.clean_text`) before the
graph sees it. An empty text is scored (the graph takes it) and flagged ``missing:<column>``.
A model over sentence embeddings keeps its encoder in Python: the intake loads it once (the
packaged offline MiniLM, :func:`traincycle.text.load_encoder`) and feeds the graph its embeddings.
A fine-tuned model's graph takes token ids (input kind ``tokens``): the intake loads the
manifest's tokenizer once (:func:`traincycle.text.load_tokenizer`) and feeds it padded ids.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.inputs import FLAG_MISSING, PredictConfig, Screened, flag_counts, row_flags
from traincycle.intake.base import JSON, Batch, json_items, kind
from traincycle.parsing import ReadOptions

FORMATS = (".csv", ".parquet", ".txt")
#: texts embedded per encoder call (featurize's default batch size)
ENCODER_BATCH = 64


class TextIntake:
    """New documents for a model over ``text`` (TF-IDF in the graph), ``tokens`` or ``embeddings``."""

    ID = "row"
    BATCH = 4096
    KEY = "texts"

    def __init__(self, manifest: dict[str, Any], cfg: PredictConfig) -> None:
        spec = manifest["inputs"][0]
        self.input = spec["name"]
        self.column = manifest.get("text_column", "text")
        self.options = ReadOptions.from_record(manifest.get("parsing"))
        self.cfg = cfg
        self.encoder = _load_encoder(spec["encoder"]) if spec.get("encoder") else None
        self.tokenizer = None
        if spec.get("tokenizer"):
            from traincycle.text import load_tokenizer

            self.tokenizer, self.max_length = load_tokenizer(spec["tokenizer"]), int(spec["shape"][0])

    # ------------------------------------------------------------------ predict

    def count(self, path: Path) -> int | None:
        from traincycle.intake.table import count_rows

        if path.suffix.lower() not in FORMATS:
            raise DataError(f"{path}: expected a .csv or .parquet file with a {self.column!r} column, "
                            "or a .txt with one text per line")
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        return count_rows(path)

    def batches(self, path: Path, batch_rows: int) -> Iterator[Batch]:
        offset = 0
        for texts in self._read(path, batch_rows):
            if not texts:
                continue
            yield self.screen(texts, offset)
            offset += len(texts)

    def _read(self, path: Path, batch_rows: int) -> Iterator[list[str | None]]:
        suffix = path.suffix.lower()
        if suffix == ".txt":
            yield from _lines(path, self.options.encoding, batch_rows)
            return
        if suffix == ".csv":
            from traincycle.parsing import csv_chunks

            frames: Iterator[pd.DataFrame] = csv_chunks(path, self.options, batch_rows, [self.column])
        else:
            from traincycle.intake.table import parquet_batches

            frames = parquet_batches(path, batch_rows)
        for frame in frames:
            yield self._column(frame, path)

    def _column(self, frame: pd.DataFrame, path: Path) -> list[str | None]:
        from traincycle.parsing import snake_case

        names = {snake_case(c): c for c in frame.columns}
        if self.column not in names:
            shown = ", ".join(map(str, list(frame.columns)[:20]))
            raise DataError(f"{path}: no text column {self.column!r} (the model's, params "
                            f"data.text_column); columns: {shown}")
        values = frame[names[self.column]]
        if pd.api.types.is_numeric_dtype(values) and values.notna().any():
            bad = int(np.flatnonzero(values.notna().to_numpy())[0])
            raise DataError(f"{path}: column {self.column!r} row {bad}: expected text, got "
                            f"number {values.iloc[bad]!r}")
        return values.astype("string").to_numpy(dtype=object, na_value=None).tolist()

    # ------------------------------------------------------------------ the one rule

    def screen(self, texts: list[str | None], offset: int = 0) -> Batch:
        """Clean as featurize cleaned the training texts; flag the empty ones; make the feeds."""
        from traincycle.text import clean_text

        cleaned = [clean_text(t) if t is not None else "" for t in texts]
        empty = np.fromiter((not t for t in cleaned), bool, len(cleaned))
        marks = [(f"{FLAG_MISSING}:{self.column}", empty)] if empty.any() else []
        screened = Screened({self.input: self.feed(cleaned)}, row_flags(marks, len(texts)),
                            flag_counts(marks), len(texts))
        return Batch(np.arange(offset, offset + len(texts)), screened)

    def feed(self, cleaned: list[str]) -> np.ndarray:
        """The graph's input: documents [N, 1], their token ids [N, max_length] or their
        embeddings [N, dim]."""
        if self.tokenizer is not None:
            from traincycle.text import token_ids

            return token_ids(self.tokenizer, cleaned, self.max_length)
        if self.encoder is None:
            return np.array(cleaned, dtype=object).astype(str).reshape(-1, 1)
        from traincycle.text import embed

        return embed(self.encoder, cleaned, types.SimpleNamespace(batch_size=ENCODER_BATCH))

    # ------------------------------------------------------------------ serve

    def request_content(self, max_items: int) -> dict[str, Any]:
        about = ("Documents to classify, as written: they are cleaned as the training texts were "
                 "(Unicode NFC, whitespace collapsed); an empty one is scored and flagged.")
        return {JSON: {"schema": {
            "title": "TextRequest", "type": "object", "required": [self.KEY], "additionalProperties": False,
            "properties": {self.KEY: {"type": "array", "minItems": 1, "maxItems": max_items,
                                      "items": {"type": "string"}, "description": about}}}}}

    def parse_request(self, raw: bytes, content_type: str, max_items: int) -> Batch:
        texts = json_items(raw, self.KEY, max_items, "texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"request: texts[{i}]: expected text, got {kind(text)}")
        return self.screen(texts)


def _load_encoder(name: str) -> Any:
    """The sentence encoder featurize used (offline), loaded once per intake."""
    from traincycle.text import load_encoder

    settings = types.SimpleNamespace(embedding_model=name, num_threads=2, batch_size=ENCODER_BATCH)
    return load_encoder(settings, seed=0)


def _lines(path: Path, encoding: str, batch_rows: int) -> Iterator[list[str | None]]:
    """A .txt file, one text per line (line ends removed), in batches."""
    batch: list[str | None] = []
    try:
        with path.open(encoding=encoding, newline="") as fh:
            for line in fh:
                batch.append(line.rstrip("\r\n"))
                if len(batch) == batch_rows:
                    yield batch
                    batch = []
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not {encoding} text ({exc.reason} at byte {exc.start} of a "
                        "block); re-save it as UTF-8") from None
    yield batch


def make(manifest: dict[str, Any], cfg: PredictConfig) -> TextIntake:
    """This module's intake for a model directory's manifest (see :func:`traincycle.intake.intake`)."""
    return TextIntake(manifest, cfg)
