"""Score raw rows with an optimised model directory (model.onnx + manifest.json).

Input is checked against the manifest's schema before any scoring: a missing column, a
non-numeric value in a numeric column, a category never seen in training or an empty file is
a one-line error naming the column and row. Large files stream in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.io import atomic_path, read_json, sha256_file

BATCH_ROWS = 65_536
FORMATS = (".csv", ".parquet")


@dataclass(frozen=True)
class Predictor:
    """A loaded model directory: the ONNX session and its manifest."""

    manifest: dict[str, Any]
    session: Any
    version: str

    @property
    def columns(self) -> list[Any]:
        from traincycle.export import Column

        return [Column(c["name"], c["kind"], c["dtype"], tuple(c.get("categories", ())))
                for c in self.manifest["inputs"]]

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    def scores(self, df: pd.DataFrame) -> np.ndarray:
        """Probabilities (or predictions) for rows already checked by :func:`check_rows`."""
        from traincycle.export import to_feeds

        return self.session.run([self.manifest["output"]], to_feeds(df, self.columns))[0]


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


def check_rows(df: pd.DataFrame, columns: list[Any], offset: int = 0, where: str = "input") -> pd.DataFrame:
    """Validate and type raw rows against the schema; raise DataError naming column and row.

    Rows are numbered from 0 in the input file (`offset` is the first row of this batch).
    Missing values are allowed (the graph imputes them as the featurizer did).
    """
    out = {}
    for col in columns:
        if col.name not in df.columns:
            raise DataError(f"{where}: column {col.name!r} is missing (expected {col.dtype})")
        series = df[col.name]
        if col.is_categorical:
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            if numeric and series.notna().any():
                bad = int(np.flatnonzero(series.notna().to_numpy())[0])
                raise DataError(f"{where}: column {col.name!r} row {offset + bad}: expected a "
                                f"category (text), got number {series.iloc[bad]!r}")
            text = series.astype("string")
            unseen = text.notna() & ~text.isin(col.categories)
            if unseen.any():
                bad = int(np.flatnonzero(unseen.to_numpy())[0])
                raise DataError(f"{where}: column {col.name!r} row {offset + bad}: unseen category "
                                f"{text.iloc[bad]!r} (known: {', '.join(col.categories[:8])}"
                                f"{', ...' if len(col.categories) > 8 else ''})")
            out[col.name] = text
        else:
            numbers = _numeric(series)
            bad_mask = series.notna().to_numpy() & numbers.isna().to_numpy()
            if bad_mask.any():
                bad = int(np.flatnonzero(bad_mask)[0])
                raise DataError(f"{where}: column {col.name!r} row {offset + bad}: expected a number "
                                f"({col.dtype}), got {series.iloc[bad]!r}")
            out[col.name] = numbers
    return pd.DataFrame(out, index=df.index)


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("Float64").astype("float64")
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce").astype("float64")


def read_batches(
    path: str | Path, columns: list[Any], batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """Stream a CSV or Parquet file in batches (categoricals read as text, never guessed)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"{path}: expected a .csv or .parquet file")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                yield batch.to_pandas()
        else:
            text = {c.name: "string" for c in columns}
            yield from pd.read_csv(path, chunksize=batch_rows, dtype=text, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not readable ({type(exc).__name__}: {exc})") from None


def count_rows(path: Path) -> int | None:
    """Rows in a Parquet file from its footer (None for CSV: counting would read it twice)."""
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def result_frame(pred: Predictor, scores: np.ndarray) -> pd.DataFrame:
    """Labels and per-class probabilities (or the prediction, for regression)."""
    if pred.manifest["task"] == "regression":
        return pd.DataFrame({"prediction": scores.reshape(-1).astype(np.float64)})
    classes = pred.classes
    frame = pd.DataFrame({"label": pd.array([classes[i] for i in scores.argmax(axis=1)], dtype="string")})
    for i, name in enumerate(classes):
        frame[f"proba_{name}"] = scores[:, i].astype(np.float64)
    return frame


def predict_file(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path,
    batch_rows: int = BATCH_ROWS, progress: bool = False,
) -> int:
    """Score `input_path` into `output_path` (.csv or .parquet) atomically; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pred = load_predictor(model_dir)
    output_path, input_path = Path(output_path), Path(input_path)
    if output_path.suffix.lower() not in FORMATS:
        raise DataError(f"{output_path}: output must end in .csv or .parquet")
    columns = pred.columns
    total = count_rows(input_path)
    bar = _progress(total, progress)
    rows = 0
    with atomic_path(output_path) as tmp:
        writer = None
        for batch in read_batches(input_path, columns, batch_rows):
            if batch.empty:
                continue
            checked = check_rows(batch, columns, rows, str(input_path))
            frame = result_frame(pred, pred.scores(checked))
            if output_path.suffix.lower() == ".csv":
                frame.to_csv(tmp, mode="a", header=rows == 0, index=False)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
            rows += len(batch)
            bar.update(len(batch))
        if writer is not None:
            writer.close()
        bar.close()
        if rows == 0:
            raise DataError(f"{input_path}: the file has no rows to score")
    return rows


def _progress(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", disable=not enabled, leave=False)
