"""Shared fixtures: tiny Adult-like frames, params files and a stage runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """An Adult-like frame with numeric, categorical, sensitive and label columns."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], n, p=[0.35, 0.65])
    race = rng.choice(["Black", "White", "Asian"], n, p=[0.2, 0.7, 0.1])
    age = rng.integers(18, 80, n)
    hours = rng.integers(10, 70, n)
    edu = rng.choice(["HS", "Bachelors", "Masters"], n)
    score = 0.04 * (age - 40) + 0.05 * (hours - 40) + (edu == "Masters") + rng.normal(0, 1, n)
    income = np.where(score > 0.8, ">50K", "<=50K")
    df = pd.DataFrame(
        {"age": age, "hours_per_week": hours, "education": edu, "sex": sex, "race": race,
         "income": income}
    )
    for col in ("education", "sex", "race", "income"):
        df[col] = df[col].astype("category")
    return df


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


def write_params(path: Path, **sections: object) -> Path:
    """Write a params.yaml with Adult-like `data` defaults, overridden by `sections`."""
    params: dict[str, object] = {
        "data": {"source": "builtin:adult", "target": "income", "task": "binary",
                 "positive_label": ">50K", "sensitive": ["sex", "race"]},
        "seed": 0,
    }
    params.update(sections)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_stage(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run stages/<name>.py as DVC would, capturing output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRACEBACK", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def assert_user_error(result: subprocess.CompletedProcess, *needles: str, code: int = 2) -> None:
    """A user error: the given exit code, one line on stderr naming the problem, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- optimize / predict / serve: a tiny fitted featurizer + model of any family -------------

#: fast settings per family for tiny data (train.<family> params)
TINY_TRAIN = {
    "xgboost": {"n_estimators": 30, "early_stopping_rounds": 0, "n_jobs": 1},
    "random_forest": {"n_estimators": 12, "n_jobs": 1},
    "mlp": {"epochs": 3, "hidden": [16, 8]},
    "svm": {"n_components": 20},
}


def tiny_pipeline(family: str = "logistic", n: int = 400, seed: int = 0, **featurize: object):
    """(featurizer, model, processed splits, raw splits) fitted on make_frame rows in memory."""
    from traincycle.config import DataConfig, build
    from traincycle.featurize import FeaturizeConfig
    from traincycle.featurize import featurize as run_featurize
    from traincycle.train import TrainConfig, train

    df = make_frame(n, seed)
    df["age"] = df["age"].astype("float64")
    df.loc[::37, "age"] = np.nan  # missing numerics exercise the imputer
    df["education"] = df["education"].astype(object)
    df.loc[5::41, "education"] = None  # and missing categoricals
    df["education"] = df["education"].astype("category")
    cut = [0, int(0.6 * n), int(0.8 * n), n]
    raw = {s: df.iloc[a:b].reset_index(drop=True) for s, a, b in
           zip(("train", "val", "test"), cut, cut[1:], strict=False)}
    data = DataConfig(target="income", positive_label=">50K", sensitive=("sex", "race"))
    fcfg = build(FeaturizeConfig, {"rare_min_count": 5, "label_scan": {"enabled": False},
                                   **featurize}, "featurize")
    fz, processed, _issues, _report = run_featurize(raw, data, fcfg, seed)
    tcfg = build(TrainConfig, {"model": family, family: TINY_TRAIN.get(family, {})}, "train")
    model, _fit, _report = train(processed["train"], processed["val"], fz.meta, data, tcfg, seed)
    return fz, model, processed, raw


def write_tiny_artifacts(root: Path, family: str = "logistic", **featurize: object) -> dict[str, Path]:
    """Write a tiny pipeline's artifacts as the stages would (models/, data/interim, processed)."""
    from traincycle.io import write_json, write_parquet
    from traincycle.models import save_model
    from traincycle.storage import dump_skops

    fz, model, processed, raw = tiny_pipeline(family, **featurize)
    for split in ("train", "val", "test"):
        write_parquet(raw[split], root / "data/interim" / f"{split}.parquet")
        write_parquet(processed[split], root / "data/processed" / f"{split}.parquet")
    dump_skops(fz.pipeline, root / "models/featurizer.skops")
    write_json(fz.meta, root / "models/featurizer.json")
    save_model(model, root / "models/model")
    return {"featurizer": root / "models/featurizer.skops", "model": root / "models/model",
            "processed": root / "data/processed", "interim": root / "data/interim"}


#: the schema ranges of make_frame's numeric columns (generated in [18, 80) and [10, 70))
TINY_RANGES = {"age": (18, 79), "hours_per_week": (10, 69)}


def write_optimized_model(root: Path) -> tuple[Path, pd.DataFrame]:
    """An optimised model directory (float ONNX + manifest) from a tiny pipeline, and raw val rows.

    The manifest records a CSV source written with '?' for missing values and schema ranges.
    """
    from traincycle.io import write_bytes, write_json
    from traincycle.optimize import (
        MANIFEST_FILE,
        MODEL_FILE,
        Inputs,
        OptimizeConfig,
        build_variants,
        manifest,
    )
    from traincycle.parsing import ReadOptions, parsing_record
    from traincycle.quantize import QuantizeConfig

    fz, model, processed, raw = tiny_pipeline("logistic")
    cfg = OptimizeConfig(quantize=QuantizeConfig(dynamic=False, static=False))
    chosen = build_variants(Inputs(fz, model, processed["val"], raw["val"]), cfg, 0)[0]
    write_bytes(chosen.onnx, root / MODEL_FILE)
    parsing = parsing_record(ReadOptions(na_values=("?",)), list(raw["train"].columns), raw["train"])
    write_json(manifest(chosen, fz, model, "source", parsing, TINY_RANGES), root / MANIFEST_FILE)
    return root, raw["val"]
