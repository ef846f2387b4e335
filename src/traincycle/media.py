"""evaluate and optimize for images and text: the same outputs as for tables, other inputs.

evaluate: headline metric with bootstrap CIs, per-class metrics, confusion matrix and curves
(the tabular writers), per-class (and, for text, length) slices, the worst-predicted rows,
a readable importance (image occlusion, TF-IDF terms) and, for images, a PNG grid of the worst
misclassified test images in ``plots/evaluate/worst_images.png``. No sensitive columns: the
fairness gate reads "not applicable".

optimize: one ONNX graph over the raw input — pixel values (the featurizer's normalisation is
part of the graph) or the documents themselves (TF-IDF + logistic); for embedding heads the
graph takes the cached sentence embeddings (the encoder stays in Python). int8 variants
(MatMul/Gemm, and Conv for the CNN) go through the same parity gate on val as for tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincycle.comparison import predictions_frame

WORST_IMAGES = "worst_images.png"


def is_media(meta: dict[str, Any]) -> bool:
    """Whether a featurizer.json describes image or text data."""
    return meta.get("modality") in ("image", "text")


def model_inputs(model: Any, processed: pd.DataFrame) -> np.ndarray:
    """What the model takes from a processed split: float features or the documents."""
    return model.as_matrix(processed[model.feature_names])


# ----------------------------------------------------------------------------- evaluate


def evaluate_media(
    model: Any, processed: pd.DataFrame, raw: pd.DataFrame, meta: dict[str, Any], data: Any,
    problem: Any, cfg: Any, seed: int,
) -> tuple[Any, bytes | None]:
    """Score `model` on test; return the Evaluation and the worst-images PNG (images, else None)."""
    from traincycle import metrics as m
    from traincycle import plots, slices
    from traincycle.evaluate import (
        Evaluation,
        Timer,
        align,
        check_problem,
        metrics_report,
        plot_records,
        targets,
    )
    from traincycle.featurize import ROW_ID

    task = data.task
    check_problem(problem, task)
    clock = Timer()
    text_input = meta["modality"] == "text" and model.feature_names == [meta.get("text_column")]
    needed = [] if text_input else list(model.feature_names)
    raw = align(processed, raw, needed, data.target)
    classes = list(model.classes)
    y = targets(processed, data.target, task, len(classes), "processed test")
    X = model_inputs(model, processed)
    proba = model.predict_proba(X)
    pred = proba.argmax(axis=1)
    clock.lap("predict")
    point = m.point_metrics(y, proba, pred, task)
    names = tuple(dict.fromkeys((problem.metric, *m.HEADLINE["classification"])))
    ci = (m.bootstrap_ci(y, proba, pred, task, names, cfg.bootstrap, cfg.ci_level, seed)
          if cfg.bootstrap else {})
    clock.lap("bootstrap")
    gate = {"status": "not applicable", "severity": cfg.fairness.severity, "findings": []}
    metrics = metrics_report(task, len(y), point, ci, problem, cfg, {}, {}, gate,
                             m.class_report(y, pred, classes))
    # slices: by true class, and by text length (quartiles) for documents
    labels = np.asarray(classes, dtype=object)
    frame = pd.DataFrame({"true_class": pd.Series(labels[y], dtype="string")})
    if meta["modality"] == "text":
        frame["length_chars"] = processed[meta["text_column"]].astype("string").str.len().to_numpy()
    correct = (y == pred).astype(np.float64)
    slice_report = slices.slice_table(frame, list(frame.columns), correct, "accuracy", True,
                                      cfg.slice_bins, cfg.min_slice_rows, cfg.worst_slices)
    shown = raw.drop(columns=["pixels"], errors="ignore")
    if meta["modality"] == "text" and meta["text_column"] in processed.columns:
        shown = shown.assign(**{meta["text_column"]: processed[meta["text_column"]].to_numpy()})
    row_id = processed[ROW_ID].to_numpy()
    errors = slices.worst_rows(shown, row_id, y, proba, pred, task, classes, data.target, cfg.error_rows)
    clock.lap("slices")
    importance = explain_media(model, X, y, meta, cfg, seed)
    clock.lap("explain")
    plot_data = plot_records(y, proba, pred, task, classes, metrics,
                             {"permutation": {"importance": {}}}, cfg, seed)
    plot_data["importance.json"] = plots.importance_records(importance.get("importance", {}))
    png = worst_images_png(raw, y, proba, pred, classes) if meta["modality"] == "image" else None
    rows = predictions_frame(row_id, y, proba, pred)
    return Evaluation(metrics, plot_data, errors, slice_report, importance, gate, clock.laps, rows), png


def explain_media(model: Any, X: np.ndarray, y: np.ndarray, meta: dict[str, Any], cfg: Any,
                  seed: int) -> dict[str, Any]:
    """Occlusion importance for images, top TF-IDF weights for text, nothing for embeddings."""
    if meta["modality"] == "image":
        from traincycle.images import occlusion_importance

        shape = meta["image_shape"]
        patch = max(1, min(shape[0], shape[1]) // 4)
        rows = min(cfg.explain_rows, 500)
        values = occlusion_importance(model, X, y, shape, patch, rows, seed)
        return {"method": "occlusion", "metric": "accuracy", "patch": patch,
                "rows": min(rows, len(X)),
                "importance": dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))}
    explain = getattr(model.hooks, "explain", None)  # a family with readable weights
    if explain is not None:
        return explain(model.native, model.classes)
    return {"method": "none", "importance": {},
            "reason": "sentence-embedding dimensions have no readable meaning"}


def worst_images_png(raw: pd.DataFrame, y: np.ndarray, proba: np.ndarray, pred: np.ndarray,
                     classes: list[str], limit: int = 32) -> bytes | None:
    """PNG grid of the misclassified test images the model was surest about (None: no Pillow)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return None
    from traincycle.images import SHAPE_COLUMNS, display_range, error_grid

    wrong = np.flatnonzero(pred != y)
    if not len(wrong):
        return None
    order = wrong[np.lexsort((wrong, proba[wrong, y[wrong]]))][:limit]
    shape = tuple(int(raw[c].iloc[0]) for c in SHAPE_COLUMNS)
    images = display_range(np.stack([raw["pixels"].iloc[i] for i in order]).reshape(-1, *shape))
    captions = [f"{classes[y[i]]}>{classes[pred[i]]} {proba[i, pred[i]]:.2f}" for i in order]
    scale = max(1, 64 // shape[0])
    return error_grid(list(images), captions, scale)


# ----------------------------------------------------------------------------- optimize


def export_media(featurizer: Any, model: Any, native: Any = None) -> bytes:
    """The float ONNX graph: raw pixels (normalised inside) or documents in, probabilities out."""
    from traincycle import export

    native = model.native if native is None else native
    head = model.hooks.export_onnx(native, model.task, len(model.feature_names))
    if featurizer.meta["modality"] == "image":
        front = export.export_matrix_featurizer(featurizer.pipeline, "pixels", len(model.feature_names))
        return export.export_pipeline(front, head, model.task)
    return export.export_model_only(head, _text_input(model))


def _text_input(model: Any) -> str:
    """A text model's graph input: the documents (family takes text) or their embeddings."""
    return "text" if getattr(model.hooks, "INPUT", "features") == "text" else "embeddings"


def feeds_of(
    featurizer: Any, model: Any, processed: pd.DataFrame, raw: pd.DataFrame
) -> dict[str, np.ndarray]:
    """The ONNX input for processed rows: raw pixels, documents [N, 1] or embeddings."""
    from traincycle.featurize import ROW_ID
    from traincycle.images import pixel_matrix

    meta = featurizer.meta
    if meta["modality"] == "image":
        return {"pixels": pixel_matrix(raw.iloc[processed[ROW_ID].to_numpy()])}
    if _text_input(model) == "text":
        texts = processed[meta["text_column"]].astype("string").fillna("").to_numpy(dtype=object)
        return {"text": texts.astype(str).reshape(-1, 1)}
    return {"embeddings": processed[model.feature_names].to_numpy(np.float32)}


def optimize_media(
    featurizer: Any, model: Any, val: pd.DataFrame, raw_val: pd.DataFrame, train: pd.DataFrame,
    raw_train: pd.DataFrame, cfg: Any, seed: int,
) -> tuple[list[Any], Any, float]:
    """Float ONNX + int8 variants, each judged against the native model on val."""
    from traincycle import quantize
    from traincycle.export import output_name
    from traincycle.optimize import Variant, choose, quiet_onnxruntime, session
    from traincycle.parity import compare, judge, metric_value

    base = export_media(featurizer, model)
    variants = [Variant("onnx_float", base, lossless=True)]
    ops = getattr(model.hooks, "INT8_OPS", quantize.WEIGHT_OPS)
    if quantize.has_weights(base, ops):
        quiet_onnxruntime()
        if cfg.quantize.dynamic:
            variants.append(Variant("int8_dynamic", quantize.quantize_dynamic(
                base, cfg.quantize.per_channel, ops), lossless=False))
        if cfg.quantize.static:
            feeds = feeds_of(featurizer, model, train, raw_train)
            (name, values), = feeds.items()
            n = min(cfg.quantize.calibration_rows, len(values))
            pick = np.sort(np.random.default_rng(seed).choice(len(values), n, replace=False))
            batches = [{name: values[pick[i:i + 64]]} for i in range(0, n, 64)]
            variants.append(Variant("int8_static", quantize.quantize_static(
                base, batches, cfg.quantize.per_channel, ops), lossless=False,
                info={"calibration_rows": n}))
    reference = model.predict_proba(model_inputs(model, val))
    y = val[featurizer.meta["target"]].to_numpy()
    feeds = feeds_of(featurizer, model, val, raw_val)
    for variant in variants:
        scores = session(variant.onnx).run([output_name(model.task)], feeds)[0]
        variant.figures = compare(reference, scores, y, model.task)
        variant.verdict = judge(variant.name, variant.figures, cfg.parity, variant.lossless)
    return variants, choose(variants, cfg), metric_value(model.task, y, reference)


def media_manifest(chosen: Any, featurizer: Any, model: Any, source_sha256: str) -> dict[str, Any]:
    """The serving contract next to model.onnx for image/text models."""
    import onnx

    from traincycle.export import output_name
    from traincycle.io import sha256_bytes

    meta = featurizer.meta
    onx = onnx.load_from_string(chosen.onnx)
    (inp,) = onx.graph.input
    if inp.name == "pixels":
        spec = {"name": "pixels", "kind": "image", "dtype": "float32", "shape": meta["image_shape"],
                "layout": "height x width x channels, flattened row-major; raw values (not normalised)"}
    elif inp.name == "text":
        spec = {"name": "text", "kind": "text", "dtype": "string", "shape": [1]}
    else:
        spec = {"name": "embeddings", "kind": "embedding", "dtype": "float32",
                "shape": [len(model.feature_names)], "encoder": (meta.get("embedding") or {}).get("model")}
    return {
        "format": "onnx",
        "variant": chosen.name,
        "modality": meta["modality"],
        "task": model.task,
        "family": model.family,
        "target": meta["target"],
        "classes": list(model.classes),
        "positive_label": meta.get("positive_label"),
        "output": output_name(model.task),
        "inputs": [spec],
        "opset": {(imp.domain or "ai.onnx"): imp.version for imp in onx.opset_import},
        "model_sha256": sha256_bytes(chosen.onnx),
        "source_sha256": source_sha256,
    }


def media_latency(variants: list[Any], featurizer: Any, model: Any, val: pd.DataFrame,
                  raw_val: pd.DataFrame, rows: int) -> dict[str, Any]:
    """Batch-1 median latency (ms) of native and each variant on val rows (timings file only)."""
    from traincycle.export import output_name
    from traincycle.optimize import median_seconds, session

    X = model_inputs(model, val)
    feeds = feeds_of(featurizer, model, val, raw_val)
    (name, values), = feeds.items()
    n = len(X)
    counter = iter(range(10**9))
    out = {"native": {"batch1_ms": 1e3 * median_seconds(
        lambda: model.predict_proba(X[[next(counter) % n]]), rows)}}
    for v in variants:
        sess = session(v.onnx)
        ticks = iter(range(10**9))
        ms = 1e3 * median_seconds(
            lambda sess=sess, ticks=ticks: sess.run([output_name(model.task)],
                                                    {name: values[[next(ticks) % n]]}), rows)
        out[v.name] = {"batch1_ms": ms, "batch1_vs_native": ms / out["native"]["batch1_ms"]}
    return out
