"""Images and text through `dvc repro` in a temporary git+DVC repo, from the example params.

The text run (TF-IDF + logistic on 600 Rotten Tomatoes snippets) is the fast default; the image
run (a small CNN on 600 8x8 digits, three epochs), MiniLM fine-tuned on 300 snippets and the
forced byte-identical rerun are marked slow.
A logistic model on 300 digits (fast) and the text run are then used as a user would: new image
files and texts through `traincycle predict` and the service score as evaluate scored the test items.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_pipeline import copy_project, reproduced, sh, shrink

from conftest import ROOT

TEXT = {
    "ingest.max_rows": 600,
    "evaluate.bootstrap": 50,
    "validate.text.min_class_count": 5,
}
#: text, slow: MiniLM fine-tuned end to end (one short epoch) on 300 snippets
FINETUNE = {
    **TEXT,
    "ingest.max_rows": 300,
    "train.model": "finetune",
    "train.finetune.epochs": 1,
    "train.finetune.batch_size": 16,
    "train.finetune.max_length": 32,
    "optimize.choose": "float",  # evaluate's twin: int8 would pass the gate but not match to 1e-4
    "optimize.quantize.dynamic": False,
    "optimize.quantize.static": False,
    "optimize.latency_rows": 5,
    "optimize.latency_batch": 16,  # a 1024-text batch takes minutes per call through MiniLM
}
IMAGE = {
    "data.source": "builtin:digits",
    "ingest.max_rows": 600,
    "validate.image.max_value": 16.0,
    "train.cnn.channels": [8, 16],
    "train.cnn.epochs": 3,
    "train.cnn.lr": 0.01,
    "train.cnn.batch_size": 32,
    "evaluate.bootstrap": 50,
    "evaluate.explain_rows": 50,
    "optimize.quantize.calibration_rows": 64,
    "optimize.latency_rows": 5,
}


#: images, fast: logistic regression on 300 digits, the float graph shipped (evaluate's twin)
IMAGE_FAST = {
    "data.source": "builtin:digits",
    "ingest.max_rows": 300,
    "validate.image.max_value": 16.0,
    "train.model": "logistic",
    "evaluate.bootstrap": 50,
    "evaluate.explain_rows": 20,
    "optimize.choose": "float",
    "optimize.quantize.calibration_rows": 64,
    "optimize.latency_rows": 5,
}


def make_repo(root: Path, example: str, overrides: dict) -> Path:
    """A fresh git+DVC copy of the project whose params.yaml is the shrunk example, after `dvc repro`."""
    params = shrink(yaml.safe_load((ROOT / "examples" / example).read_text()), overrides)
    return reproduced(copy_project(root / "repo", params))


def read(repo: Path, path: str) -> dict:
    return json.loads((repo / path).read_text())


@pytest.fixture(scope="module")
def text_repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("text"), "params-text.yaml", TEXT)


@pytest.fixture(scope="module")
def finetune_repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("finetune"), "params-text.yaml", FINETUNE)


@pytest.fixture(scope="module")
def image_repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("image"), "params-image.yaml", IMAGE)


@pytest.fixture(scope="module")
def image_fast_repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("image-fast"), "params-image.yaml", IMAGE_FAST)


def evaluated(repo: Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The raw test items, evaluate's probabilities for them (same order) and the class names."""
    test = pd.read_parquet(repo / "data/interim/test.parquet")
    scores = pd.read_parquet(repo / "reports/predictions.parquet").set_index("row_id")
    proba = scores.loc[test.index, [c for c in scores.columns if c[1:].isdigit()]].to_numpy()
    return test, proba, read(repo, "models/optimized/manifest.json")["classes"]


def scored(path: Path, classes: list[str]) -> np.ndarray:
    return pd.read_csv(path, keep_default_na=False)[[f"proba_{c}" for c in classes]].to_numpy()


def test_image_files_through_predict_and_the_service_score_as_evaluate_did(image_fast_repo, tmp_path):
    from fastapi.testclient import TestClient
    from PIL import Image

    from traincycle.serve import create_app

    repo = image_fast_repo
    test, proba, classes = evaluated(repo)
    folder = tmp_path / "photos"
    for i, (row_id, pixels) in enumerate(zip(test.index, test["pixels"], strict=True)):
        path = folder / f"part{i % 3}" / f"{row_id}.png"  # nested: predict reads recursively
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.reshape(8, 8).astype(np.uint8)).save(path)  # digits are 0..16
    result = sh("traincycle", "predict", "models/optimized", str(folder), "-o", str(tmp_path / "scored.csv"),
                cwd=repo)
    assert result.returncode == 0, result.stderr
    assert f"scored {len(test)} rows" in result.stdout
    out = pd.read_csv(tmp_path / "scored.csv", keep_default_na=False)
    position = {row_id: i for i, row_id in enumerate(test.index)}
    order = [position[int(f.rsplit("/", 1)[1].removesuffix(".png"))] for f in out["file"]]
    np.testing.assert_allclose(scored(tmp_path / "scored.csv", classes), proba[order], atol=1e-4)
    files = sorted(folder.rglob("*.png"))[:10]
    uploads = [("files", (p.name, p.read_bytes(), "image/png")) for p in files]
    with TestClient(create_app(repo / "models/optimized")) as client:
        reply = client.post("/predict", files=uploads)
    assert reply.status_code == 200, reply.text
    served = np.array([list(p["probabilities"].values()) for p in reply.json()["predictions"]])
    np.testing.assert_allclose(served, proba[[position[int(p.stem)] for p in files]], atol=1e-4)


def test_texts_through_predict_and_the_service_score_as_evaluate_did(text_repo, tmp_path):
    from fastapi.testclient import TestClient

    from traincycle.predict import predict_file
    from traincycle.serve import create_app

    test, proba, classes = evaluated(text_repo)
    model = text_repo / "models/optimized"
    test[["text", "label"]].to_csv(tmp_path / "new.csv", index=False)
    one_line = test["text"].str.replace(r"\s+", " ", regex=True)  # a .txt holds one text per line
    (tmp_path / "new.txt").write_text("\n".join(one_line) + "\n", encoding="utf-8")
    for name in ("new.csv", "new.txt"):
        predict_file(model, tmp_path / name, tmp_path / "scored.csv")
        np.testing.assert_allclose(scored(tmp_path / "scored.csv", classes), proba, atol=1e-4)
    with TestClient(create_app(model)) as client:
        reply = client.post("/predict", json={"texts": test["text"].tolist()})
    assert reply.status_code == 200, reply.text
    served = np.array([list(p["probabilities"].values()) for p in reply.json()["predictions"]])
    np.testing.assert_allclose(served, proba, atol=1e-4)


@pytest.mark.slow
def test_a_fine_tuned_model_through_predict_and_the_service_scores_as_evaluate_did(finetune_repo, tmp_path):
    from fastapi.testclient import TestClient

    from traincycle.serve import create_app

    repo = finetune_repo
    assert read(repo, "reports/train.json")["model"] == "finetune"
    assert read(repo, "models/optimized/manifest.json")["inputs"][0]["kind"] == "tokens"
    test, proba, classes = evaluated(repo)
    test[["text", "label"]].to_csv(tmp_path / "new.csv", index=False)
    one_line = test["text"].str.replace(r"\s+", " ", regex=True)
    (tmp_path / "new.txt").write_text("\n".join(one_line) + "\n", encoding="utf-8")
    for name in ("new.csv", "new.txt"):  # as a user runs it
        result = sh("traincycle", "predict", "models/optimized", str(tmp_path / name), "-o",
                    str(tmp_path / "scored.csv"), cwd=repo)
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(scored(tmp_path / "scored.csv", classes), proba, atol=1e-4)
    with TestClient(create_app(repo / "models/optimized")) as client:
        reply = client.post("/predict", json={"texts": test["text"].tolist()})
    assert reply.status_code == 200, reply.text
    served = np.array([list(p["probabilities"].values()) for p in reply.json()["predictions"]])
    np.testing.assert_allclose(served, proba, atol=1e-4)


def test_text_runs_end_to_end_and_ships_onnx_over_raw_text(text_repo):
    evaluate = read(text_repo, "reports/evaluate.json")
    assert evaluate["rows"] == read(text_repo, "metrics/split.json")["rows"]["test"]
    assert evaluate["metrics"]["accuracy"] > 0.6  # 600 snippets; chance is 0.5
    assert set(evaluate["per_class"]) == {"fresh", "rotten"}
    manifest = read(text_repo, "models/optimized/manifest.json")
    assert manifest["modality"] == "text" and manifest["inputs"][0]["name"] == "text"
    assert read(text_repo, "reports/optimize.json")["variants"]["onnx_float"]["accepted"]
    importance = read(text_repo, "reports/importance.json")
    assert importance["method"] == "tfidf_logistic_weights" and importance["importance"]
    errors = __import__("pandas").read_parquet(text_repo / "reports/errors.parquet")
    assert {"text", "label", "prediction", "probability_of_label"} <= set(errors.columns)


def test_text_second_repro_is_a_noop(text_repo):
    before = (text_repo / "dvc.lock").read_text()
    result = sh("dvc", "repro", cwd=text_repo)
    assert result.returncode == 0, result.stderr
    assert "Running stage" not in result.stdout
    assert (text_repo / "dvc.lock").read_text() == before


@pytest.mark.slow
def test_image_runs_end_to_end_with_cnn_int8_and_worst_images(image_repo):
    provenance = read(image_repo, "data/raw/provenance.json")
    assert provenance["image_shape"] == [8, 8, 1] and provenance["rows"] == 600
    train = read(image_repo, "reports/train.json")
    assert train["model"] == "cnn" and train["n_features"] == 64
    evaluate = read(image_repo, "reports/evaluate.json")
    assert set(evaluate["per_class"]) == {str(d) for d in range(10)}
    assert evaluate["metrics"]["accuracy"] > 0.25  # three epochs of a tiny CNN; chance is 0.1
    optimize = read(image_repo, "reports/optimize.json")
    assert optimize["variants"]["onnx_float"]["accepted"]
    assert "int8_dynamic" in optimize["variants"]
    assert read(image_repo, "models/optimized/manifest.json")["inputs"][0]["shape"] == [8, 8, 1]
    if evaluate["metrics"]["accuracy"] < 1.0 and __import__("importlib").util.find_spec("PIL"):
        png = (image_repo / "plots/evaluate/worst_images.png").read_bytes()
        assert png.startswith(b"\x89PNG")


@pytest.mark.slow
def test_image_forced_rerun_is_byte_identical(image_repo):
    before = (image_repo / "dvc.lock").read_text()
    result = sh("dvc", "repro", "-f", cwd=image_repo)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (image_repo / "dvc.lock").read_text() == before
