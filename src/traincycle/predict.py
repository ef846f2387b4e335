"""Score new inputs with an optimised model directory (model.onnx + manifest.json).

The manifest's modality supplies the intake (:mod:`traincycle.intake`): table rows are read the
way ingest read the training source (the manifest's ``parsing``: the same delimiter, encoding,
missing-value markers, snake_case names and cleaning) and checked by
:func:`traincycle.inputs.screen`; images are decoded by ingest's reader and checked against the
model's shape; texts are cleaned as featurize cleaned them. The service applies the same rules.
Large inputs stream in batches; output is written atomically, one row per input: its row number
or file name, the label, per-class probabilities, confidence and ``flags``.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.inputs import InputSpec, PredictConfig, Screened, specs_from_manifest
from traincycle.intake.base import Intake
from traincycle.io import atomic_path, read_json, sha256_file
from traincycle.parsing import ReadOptions

BATCH_ROWS = 65_536
#: fewest rows per part when a batch is split across threads: below it, handing a part to
#: another thread costs more than scoring it (one row: 0.09 ms in the graph)
SPLIT_ROWS = 256
#: output formats
FORMATS = (".csv", ".parquet")


@dataclass(frozen=True)
class Predictor:
    """A loaded model directory: the ONNX session and its manifest."""

    manifest: dict[str, Any]
    session: Any
    version: str
    #: threads a large batch is scored on (see `_run`), and the pool of the extra ones
    threads: int = 1
    pool: Any = None

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
        """Probabilities (or predictions) for screened rows; NaN for rows not in the feeds."""
        if screened.scored is None:
            return self._run(screened.feeds)
        width = 1 if self.manifest["task"] == "regression" else len(self.classes)
        out = np.full((screened.rows, width), np.nan)
        if screened.scored.any():
            out[screened.scored] = self._run(screened.feeds).reshape(-1, width)
        return out

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's output for `feeds`; with a pool, a large batch is cut into consecutive
        parts scored at once on the one session (onnxruntime runs concurrently and releases the
        GIL). Each row is scored alone either way: the answers are the same to the bit, unlike
        the session's own intra-op threads, which split the trees and sum them in another order."""
        run = functools.partial(self.session.run, [self.manifest["output"]])
        rows = len(next(iter(feeds.values())))
        parts = min(self.threads, rows // SPLIT_ROWS)
        if parts < 2:
            return run(feeds)[0]
        bounds = np.linspace(0, rows, parts + 1).astype(int).tolist()
        chunks = [{name: v[a:b] for name, v in feeds.items()} for a, b in itertools.pairwise(bounds)]
        others = [self.pool.submit(run, chunk) for chunk in chunks[1:]]
        return np.concatenate([run(chunks[0])[0], *(f.result()[0] for f in others)])

    def intake(self, cfg: PredictConfig) -> Intake:
        """How this model takes new inputs (its modality's readers and checks), under `cfg`."""
        from traincycle.intake import intake

        return intake(self.manifest, cfg)


def load_predictor(model_dir: str | Path, threads: int = 1) -> Predictor:
    """Load model.onnx and manifest.json, checking the model's hash against the manifest; a large
    batch is scored on up to `threads` threads (the service passes its CPU count)."""
    from traincycle.optimize import MANIFEST_FILE, MODEL_FILE, session

    model_dir = Path(model_dir)
    manifest = read_json(model_dir / MANIFEST_FILE)
    onnx_path = model_dir / MODEL_FILE
    if not onnx_path.exists():
        raise DataError(f"{onnx_path}: file not found")
    digest = sha256_file(onnx_path)
    if digest != manifest.get("model_sha256"):
        raise DataError(f"{onnx_path}: sha256 does not match {MANIFEST_FILE} (model replaced or corrupt)")
    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="traincycle-score")
    return Predictor(manifest, session(onnx_path.read_bytes()), digest[:12], max(threads, 1), pool)


def read_batches(path: str | Path, pred: Predictor, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Stream a table file (CSV or Parquet) in tidied batches, parsed as ingest parsed the source."""
    from traincycle.intake.table import read_batches as read_table

    return read_table(path, pred.specs, pred.read_options, batch_rows)


def check_input(path: str | Path) -> Path:
    """An existing .csv or .parquet file, or a one-line error."""
    from traincycle.intake.table import check_input as check_table

    return check_table(path)


def result_frame(pred: Predictor, scores: np.ndarray, id_name: str = "row",
                 ids: Any = None) -> pd.DataFrame:
    """The input's id (row number or file name), labels, per-class probabilities and confidence
    (or the prediction, for regression). Rows without scores (NaN: an unreadable image) get none."""
    frame = pd.DataFrame({id_name: np.arange(len(scores)) if ids is None else np.asarray(ids)})
    if pred.manifest["task"] == "regression":
        frame["prediction"] = scores.reshape(-1).astype(np.float64)
        return frame
    classes = pred.classes
    scored = ~np.isnan(scores).any(axis=1)
    top = np.nan_to_num(scores, nan=-1.0).argmax(axis=1)
    frame["label"] = pd.array([classes[i] if ok else None for i, ok in zip(top, scored, strict=True)],
                              dtype="string")
    for i, name in enumerate(classes):
        frame[f"proba_{name}"] = scores[:, i].astype(np.float64)
    frame["confidence"] = np.where(scored, scores[np.arange(len(scores)), top], np.nan).astype(np.float64)
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
    batch_rows: int | None = None, progress: bool = False, cfg: PredictConfig | None = None,
) -> Outcome:
    """Score `input_path` into `output_path` (.csv or .parquet) atomically, in batches of
    `batch_rows` inputs (default: the modality's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cfg = cfg or PredictConfig()
    pred = load_predictor(model_dir)
    output_path, input_path = Path(output_path), Path(input_path)
    if output_path.suffix.lower() not in FORMATS:
        raise DataError(f"{output_path}: output must end in .csv or .parquet")
    intake = pred.intake(cfg)
    bar = _progress(intake.count(input_path), progress)
    rows, flagged, counts = 0, 0, Counter[str]()
    with atomic_path(output_path) as tmp:
        writer = None
        for batch in intake.batches(input_path, batch_rows or intake.BATCH):
            screened = batch.screened
            frame = result_frame(pred, pred.scores(screened), intake.ID, batch.ids)
            frame["flags"] = pd.array(screened.flags, dtype="string")
            if output_path.suffix.lower() == ".csv":
                frame.to_csv(tmp, mode="a", header=rows == 0, index=False)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
            rows += batch.rows
            flagged += screened.flagged
            counts.update(screened.counts)
            bar.update(batch.rows)
        if writer is not None:
            writer.close()
        bar.close()
        if rows == 0:
            raise DataError(f"{input_path}: the file has no rows to score")
    return Outcome(rows, flagged, counts)


def _progress(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", disable=not enabled, leave=False)
