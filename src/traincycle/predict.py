"""Score raw rows with an optimised model directory (model.onnx + manifest.json).

New files are read the way ingest read the training source (the manifest's ``parsing``: the
same delimiter, encoding, missing-value markers, snake_case names and cleaning, through
:mod:`traincycle.parsing`), then checked and flagged by :func:`traincycle.inputs.screen`, the
rule the service applies too. Large files stream in batches; output is written atomically with
a ``flags`` column (see :mod:`traincycle.inputs`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.inputs import InputSpec, PredictConfig, Screened, specs_from_manifest
from traincycle.io import atomic_path, read_json, sha256_file
from traincycle.parsing import ReadOptions

BATCH_ROWS = 65_536
FORMATS = (".csv", ".parquet")


@dataclass(frozen=True)
class Predictor:
    """A loaded model directory: the ONNX session and its manifest."""

    manifest: dict[str, Any]
    session: Any
    version: str

    @property
    def specs(self) -> list[InputSpec]:
        return specs_from_manifest(self.manifest)

    @property
    def read_options(self) -> ReadOptions:
        """How the training source was read (pandas' defaults for manifests that predate it)."""
        return ReadOptions.from_record(self.manifest.get("parsing"))

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    def scores(self, screened: Screened) -> np.ndarray:
        """Probabilities (or predictions) for screened rows."""
        return self.session.run([self.manifest["output"]], screened.feeds)[0]


def load_predictor(model_dir: str | Path) -> Predictor:
    """Load model.onnx and manifest.json, checking the model's hash against the manifest."""
    from traincycle.optimize import MANIFEST_FILE, MODEL_FILE, session

    model_dir = Path(model_dir)
    manifest = read_json(model_dir / MANIFEST_FILE)
    onnx_path = model_dir / MODEL_FILE
    if not onnx_path.exists():
        raise DataError(f"{onnx_path}: file not found")
    digest = sha256_file(onnx_path)
    if digest != manifest.get("model_sha256"):
        raise DataError(f"{onnx_path}: sha256 does not match {MANIFEST_FILE} (model replaced or corrupt)")
    return Predictor(manifest, session(onnx_path.read_bytes()), digest[:12])


def read_batches(path: str | Path, pred: Predictor, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Stream a CSV or Parquet file in tidied batches, parsed as ingest parsed the source."""
    from traincycle.parsing import csv_chunks, tidy

    path = check_input(path)
    if path.suffix.lower() == ".csv":
        text = [s.name for s in pred.specs if s.is_categorical]
        batches: Iterator[pd.DataFrame] = csv_chunks(path, pred.read_options, batch_rows, text)
    else:
        batches = _parquet_batches(path, batch_rows)
    for batch in batches:
        yield tidy(batch, str(path))


def check_input(path: str | Path) -> Path:
    """An existing .csv or .parquet file, or a one-line error."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"{path}: expected a .csv or .parquet file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return path


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
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
    except (OSError, ValueError):  # unreadable: read_batches says so in one line
        return None


def result_frame(pred: Predictor, scores: np.ndarray) -> pd.DataFrame:
    """Labels and per-class probabilities (or the prediction, for regression)."""
    if pred.manifest["task"] == "regression":
        return pd.DataFrame({"prediction": scores.reshape(-1).astype(np.float64)})
    classes = pred.classes
    frame = pd.DataFrame({"label": pd.array([classes[i] for i in scores.argmax(axis=1)], dtype="string")})
    for i, name in enumerate(classes):
        frame[f"proba_{name}"] = scores[:, i].astype(np.float64)
    return frame


@dataclass(frozen=True)
class Outcome:
    """What a predict run did: rows scored, rows flagged, flags per kind."""

    rows: int
    flagged: int
    counts: Counter[str]

    def summary(self) -> str:
        from traincycle.inputs import summary

        return summary(self.counts, self.flagged, self.rows)


def predict_file(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path,
    batch_rows: int = BATCH_ROWS, progress: bool = False, cfg: PredictConfig | None = None,
) -> Outcome:
    """Score `input_path` into `output_path` (.csv or .parquet) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from traincycle.inputs import frame_columns, screen

    cfg = cfg or PredictConfig()
    pred = load_predictor(model_dir)
    output_path, input_path = Path(output_path), Path(input_path)
    if output_path.suffix.lower() not in FORMATS:
        raise DataError(f"{output_path}: output must end in .csv or .parquet")
    specs = pred.specs
    bar = _progress(count_rows(check_input(input_path)), progress)
    rows, flagged, counts = 0, 0, Counter[str]()
    with atomic_path(output_path) as tmp:
        writer = None
        for batch in read_batches(input_path, pred, batch_rows):
            if batch.empty:
                continue
            where = str(input_path)
            screened = screen(frame_columns(batch, specs, rows, where), specs, cfg, len(batch),
                              rows, where)
            frame = result_frame(pred, pred.scores(screened))
            frame["flags"] = pd.array(screened.flags, dtype="string")
            if output_path.suffix.lower() == ".csv":
                frame.to_csv(tmp, mode="a", header=rows == 0, index=False)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
            rows += len(batch)
            flagged += screened.flagged
            counts.update(screened.counts)
            bar.update(len(batch))
        if writer is not None:
            writer.close()
        bar.close()
        if rows == 0:
            raise DataError(f"{input_path}: the file has no rows to score")
    return Outcome(rows, flagged, counts)


def _progress(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", disable=not enabled, leave=False)
