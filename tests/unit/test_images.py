"""Images: reading, the image gate, split keys, the normaliser, the CNN and its ONNX export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig
from traincycle.images import (
    check_images,
    fit_normalizer,
    image_frame,
    pixel_matrix,
    read_folder,
)
from traincycle.split import row_keys
from traincycle.validate import ImageChecks, gate

DATA = DataConfig(source="builtin:digits", target="label", task="binary", modality="image")


def two_class_images(n: int = 64, side: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 has a bright top half, class 0 a bright bottom half, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    images = rng.uniform(0, 40, size=(n, side, side, 1)).astype(np.float32)
    for i, label in enumerate(y):
        rows = slice(0, side // 2) if label else slice(side // 2, side)
        images[i, rows] += 200
    return images, y


def by_kind(outcomes):
    return {o.check.kind: o for o in outcomes}


def test_gate_names_unreadable_and_odd_images():
    images, y = two_class_images(24)
    odd = [*images[:-2], None, np.zeros((4, 4, 1), np.float32)]
    files = [f"c/{i}.png" for i in range(24)]
    frame = image_frame(odd, y, files, "label")
    outcomes = by_kind(check_images(frame, DATA, ImageChecks(min_class_count=5)))
    assert not outcomes["readable"].success
    assert outcomes["readable"].observed["partial_unexpected_list"] == ["c/22.png"]
    assert not outcomes["shape"].success
    assert outcomes["shape"].observed["partial_unexpected_list"] == ["c/23.png"]
    with pytest.raises(Exception, match="readable"):
        gate(list(outcomes.values()))


def test_gate_checks_range_channels_and_balance():
    images, y = two_class_images(40)
    images[3, 0, 0, 0] = 300.0
    frame = image_frame(list(images), y, [f"{i}" for i in range(40)], "label")
    outcomes = by_kind(check_images(frame, DATA, ImageChecks(min_class_count=5, channels=(3,))))
    assert not outcomes["range"].success and outcomes["range"].observed["partial_unexpected_list"] == ["3"]
    assert not outcomes["channels"].success
    assert outcomes["class_balance"].success and outcomes["class_count"].success


def test_folder_reader_keeps_corrupt_files_for_the_gate(tmp_path):
    Image = pytest.importorskip("PIL.Image")

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((5, 6, 3), 40 * i, np.uint8)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png")
    frame, hashes = read_folder(tmp_path, "label")
    assert len(frame) == 7 and len(hashes) == 1
    broken = frame[frame["file"] == "dog/broken.png"]
    assert broken["pixels"].isna().all()
    ok = frame[frame["pixels"].notna()]
    assert set(ok["height"]) == {5} and set(ok["width"]) == {6} and set(ok["channels"]) == {3}
    outcome = by_kind(check_images(frame, DATA, ImageChecks(min_class_count=1)))["readable"]
    assert outcome.observed["partial_unexpected_list"] == ["dog/broken.png"]


def test_identical_images_share_a_split_key():
    images, y = two_class_images(6)
    frame = image_frame([images[0], images[1], images[0].copy()], y[:3], ["a", "b", "c"], "label")
    keys = row_keys(frame, ["pixels"])
    assert keys[0] == keys[2] != keys[1]


def test_normaliser_uses_per_channel_train_statistics():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(10, 2, (50, 4, 1)), rng.normal(-5, 3, (50, 4, 1))], axis=2)
    X = X.reshape(50, -1).astype(np.float32)  # HWC flattened: channels alternate
    scaler = fit_normalizer(X, (2, 2, 2))
    out = scaler.transform(X).reshape(50, 4, 2)
    assert np.allclose(out.mean(axis=(0, 1)), 0, atol=1e-6)
    assert np.allclose(out.std(axis=(0, 1)), 1, atol=1e-6)
    assert scaler.mean_[0] == scaler.mean_[2] != scaler.mean_[1]


def fitted_cnn(epochs: int = 6):
    from traincycle.models import fit_model
    from traincycle.models.base import FitSpec
    from traincycle.models.cnn import AugmentConfig, CNNConfig

    images, y = two_class_images(96)
    scaler = fit_normalizer(images.reshape(96, -1), (8, 8, 1))
    X = scaler.transform(images.reshape(96, -1)).astype(np.float32)
    cfg = CNNConfig(channels=(8,), convs_per_block=1, epochs=epochs, batch_size=16, lr=0.01,
                    augment=AugmentConfig(shift=0.05, rotate=5.0, erase=0.2))
    names = tuple(f"px_{i}" for i in range(64))
    spec = FitSpec(task="binary", n_classes=2, seed=3, feature_names=names, input_shape=(8, 8, 1))
    model, fit = fit_model("cnn", cfg, spec, ["0", "1"], (X[:64], y[:64], X[64:], y[64:]))
    return model, fit, scaler, images, X, y


def test_cnn_learns_round_trips_and_augments_only_in_training(tmp_path):
    import torch

    from traincycle.models import load_model, save_model

    model, fit, _, _, X, y = fitted_cnn()
    assert (model.predict(X[64:]) == y[64:]).mean() >= 0.9
    assert len(fit.curves) >= 1 and "val/loss" in fit.curves[0]
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    net = model.native
    x = torch.tensor(X[:8]).reshape(-1, 8, 8, 1).permute(0, 3, 1, 2)
    assert torch.equal(net.augment.eval()(x), x)
    assert not torch.equal(net.augment.train()(x), x)
    net.eval()


def test_cnn_onnx_takes_raw_pixels_and_matches(tmp_path):
    from traincycle.featurize import Featurizer
    from traincycle.modalities import image
    from traincycle.optimize import session

    model, _, scaler, images, X, _ = fitted_cnn(epochs=2)
    meta = {"modality": "image", "image_shape": [8, 8, 1]}
    onx = image.export_onnx(Featurizer(scaler, meta), model)
    raw = images.reshape(len(images), -1).astype(np.float32)
    out = session(onx).run(["probabilities"], {"pixels": raw})[0]
    assert np.abs(out - model.predict_proba(X)).max() < 1e-4
    assert image.export_onnx(Featurizer(scaler, meta), model) == onx  # byte-stable


def test_pixel_matrix_stacks_rows():
    images, y = two_class_images(4)
    frame = image_frame(list(images), y, list("abcd"), "label")
    assert pixel_matrix(frame).shape == (4, 64)
    assert pd.api.types.is_string_dtype(frame["file"])
