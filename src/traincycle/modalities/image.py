"""Images: folders of PNG/JPEG, .npz or Parquet pixel tables, and the built-in digits.

The raw table holds one flat float32 pixel array per row; validate checks readability, one
shape, channels, value range and classes; split keeps identical images together; the
featurizer is a per-channel normaliser fitted on train; evaluate slices by true class,
explains by occlusion and draws the worst-predicted images; the ONNX graph takes raw pixels
(the normaliser is part of it). Helpers live in :mod:`traincycle.images`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from traincycle.config import DataConfig
from traincycle.images import PIXELS, check_images, featurize_images, ingest_images, pixel_matrix
from traincycle.modalities.shared import class_frame, fit_inputs, model_scores
from traincycle.validate import require_rows

NAME = "image"
#: whether train also scores the simple family (logistic / ridge) as a baseline
SIMPLE_BASELINE = False
FAIRNESS = False
#: the module under traincycle.intake that reads new image inputs (predict, serve)
INTAKE = "image"
WORST_IMAGES = "worst_images.png"

__all__ = ["FAIRNESS", "INTAKE", "NAME", "check", "evaluation_files", "evaluation_inputs",
           "explain", "export_onnx", "featurize", "fit_inputs", "identity_columns", "ingest",
           "manifest_fields", "requests"]


def ingest(data: DataConfig, cfg: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The image table (file, pixels, shape, label) and its provenance."""
    return ingest_images(data, cfg.max_rows)


def check(df: pd.DataFrame, schema: Any, data: DataConfig,
          cfg: Any) -> tuple[list[Any], dict[str, pd.DataFrame]]:
    """The image gate (the schema applies to tables only)."""
    require_rows(df)
    return check_images(df, data, cfg.image), {}


def identity_columns(df: pd.DataFrame, data: DataConfig) -> list[str]:
    """An image is its pixels, not its file name."""
    return [PIXELS]


featurize = featurize_images


def evaluation_inputs(raw: pd.DataFrame, processed: pd.DataFrame, meta: dict[str, Any],
                      data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Slices by true class; the error table shows the file, not the pixels."""
    return class_frame(processed, meta), raw.drop(columns=[PIXELS], errors="ignore")


def explain(model: Any, X: np.ndarray, y: np.ndarray, meta: dict[str, Any], metric: str, cfg: Any,
            seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Occlusion importance: the accuracy lost when a patch of every test image is greyed out."""
    from traincycle.images import occlusion_importance

    shape = meta["image_shape"]
    patch = max(1, min(shape[0], shape[1]) // 4)
    rows = min(cfg.explain_rows, 500)
    values = occlusion_importance(model, X, y, shape, patch, rows, seed)
    ranked = dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
    report = {"method": "occlusion", "metric": "accuracy", "patch": patch, "rows": min(rows, len(X)),
              "importance": ranked}
    return report, ranked


def evaluation_files(raw: pd.DataFrame, y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray,
                     classes: list[str], limit: int = 32) -> dict[str, bytes]:
    """A PNG grid of the misclassified test images the model was surest about (none without Pillow)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return {}
    from traincycle.images import SHAPE_COLUMNS, display_range, error_grid

    wrong = np.flatnonzero(pred != y)
    if not len(wrong) or proba is None:
        return {}
    order = wrong[np.lexsort((wrong, proba[wrong, y[wrong]]))][:limit]
    shape = tuple(int(raw[c].iloc[0]) for c in SHAPE_COLUMNS)
    images = display_range(np.stack([raw[PIXELS].iloc[i] for i in order]).reshape(-1, *shape))
    captions = [f"{classes[y[i]]}>{classes[pred[i]]} {proba[i, pred[i]]:.2f}" for i in order]
    scale = max(1, 64 // shape[0])
    return {WORST_IMAGES: error_grid(list(images), captions, scale)}


def export_onnx(featurizer: Any, model: Any, native: Any = None) -> bytes:
    """The normaliser's graph over raw ``pixels`` merged with the family's graph."""
    from traincycle import export

    head = model.hooks.export_onnx(model.native if native is None else native, model.task,
                                   len(model.feature_names))
    front = export.export_matrix_featurizer(featurizer.pipeline, PIXELS, len(model.feature_names))
    return export.export_pipeline(front, head, model.task)


def requests(featurizer: Any, model: Any, processed: pd.DataFrame, raw: pd.DataFrame) -> tuple[
        Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], dict[str, np.ndarray]]]:
    """Requests are images: raw pixels for ONNX, the normalised pixels for the native model."""
    from traincycle.featurize import raw_rows

    pixels = pixel_matrix(raw_rows(processed, raw))
    return model_scores(model, processed), lambda at: {PIXELS: pixels[at]}


def manifest_fields(featurizer: Any, model: Any) -> dict[str, Any]:
    """One ``pixels`` input: raw values, height x width x channels flattened."""
    return {
        "modality": NAME,
        "inputs": [{"name": PIXELS, "kind": "image", "dtype": "float32",
                    "shape": featurizer.meta["image_shape"],
                    "layout": "height x width x channels, flattened row-major; raw values (not normalised)"}],
    }
