"""Small image and text model directories (model.onnx + manifest.json) built in-process by the
stage functions, for the predict and serve tests of images and texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _optimized(root: Path, fz, model, processed, raw, parsing=None) -> Path:
    from traincycle.io import write_bytes, write_json
    from traincycle.optimize import (
        MANIFEST_FILE,
        MODEL_FILE,
        Inputs,
        OptimizeConfig,
        build_variants,
        manifest,
    )
    from traincycle.quantize import QuantizeConfig

    cfg = OptimizeConfig(quantize=QuantizeConfig(dynamic=False, static=False))
    chosen = build_variants(Inputs(fz, model, processed["val"], raw["val"]), cfg, 0)[0]
    write_bytes(chosen.onnx, root / MODEL_FILE)
    write_json(manifest(chosen, fz, model, "source", parsing), root / MANIFEST_FILE)
    return root


def _splits(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    n = len(df)
    cut = [0, int(0.6 * n), int(0.8 * n), n]
    return {s: df.iloc[a:b] for s, a, b in zip(("train", "val", "test"), cut, cut[1:], strict=False)}


def image_model(root: Path, n: int = 300):
    """Logistic regression on n 8x8 digits: (model dir, raw test rows, native test probabilities)."""
    from sklearn.datasets import load_digits

    from traincycle.config import DataConfig, build
    from traincycle.featurize import FeaturizeConfig
    from traincycle.images import featurize_images, image_frame
    from traincycle.train import TrainConfig, train

    digits = load_digits()
    images = [img[..., None].astype(np.float32) for img in digits.images[:n]]
    df = image_frame(images, digits.target[:n], [f"digits/{i}" for i in range(n)], "label")
    data = DataConfig(source="builtin:digits", target="label", task="multiclass", modality="image",
                      sensitive=())
    raw = _splits(df)
    fcfg = build(FeaturizeConfig, {"label_scan": {"enabled": False}}, "featurize")
    fz, processed, _issues, _report = featurize_images(raw, data, fcfg, 0)
    tcfg = build(TrainConfig, {"model": "logistic"}, "train")
    model, _fit, _report = train(processed["train"], processed["val"], fz.meta, data, tcfg, 0)
    proba = model.scores(processed["test"][model.feature_names])
    return _optimized(root, fz, model, processed, raw), raw["test"], proba


#: train.finetune for the predict/serve tests: one short epoch, a few CPU seconds on 2 cores
FINETUNE = {"epochs": 1, "batch_size": 16, "max_length": 24, "lr": 1e-4, "num_threads": 1}


def text_model(root: Path, n: int = 300, embeddings: bool = False, family: str | None = None):
    """TF-IDF + logistic (or MiniLM embeddings + logistic, or `family`: finetune) on n review
    snippets: (model dir, raw test rows, native test probabilities)."""
    from traincycle.config import DataConfig, build
    from traincycle.featurize import FeaturizeConfig
    from traincycle.ingest import IngestConfig
    from traincycle.text import featurize_text, ingest_text
    from traincycle.train import TrainConfig, train

    data = DataConfig(source="builtin:rotten_tomatoes", target="label", task="binary", modality="text",
                      text_column="text", positive_label="fresh", sensitive=())
    df, provenance = ingest_text(data, IngestConfig(max_rows=n))
    raw = _splits(df)
    fcfg = build(FeaturizeConfig, {"label_scan": {"enabled": False},
                                   "text": {"min_df": 1, "embeddings": embeddings}}, "featurize")
    fz, processed, _issues, _report = featurize_text(raw, data, fcfg, 0)
    family = family or ("logistic" if embeddings else "tfidf_logistic")
    tcfg = build(TrainConfig, {"model": family, "finetune": FINETUNE}, "train")
    vectorizer = None if embeddings else fz.pipeline
    model, _fit, _report = train(processed["train"], processed["val"], fz.meta, data, tcfg, 0, vectorizer)
    test = processed["test"]
    proba = model.scores(test if not embeddings else test[model.feature_names])
    return _optimized(root, fz, model, processed, raw, provenance["parsing"]), raw["test"], proba
