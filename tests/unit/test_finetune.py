"""train.model finetune: the packaged MiniLM fine-tuned end to end on CPU, offline and seeded."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle.config import DataConfig
from traincycle.errors import ConfigError
from traincycle.models import load_model, save_model
from traincycle.models.base import FitSpec
from traincycle.models.finetune import FinetuneConfig, fit, tokenize

POSITIVE = ["a wonderful , moving film", "brilliant and funny", "a joy to watch", "superb acting",
            "warm , witty and wise", "the best film of the year", "delightful", "a gripping story"]
NEGATIVE = ["a dull , tedious mess", "boring and far too long", "a waste of time", "awful acting",
            "flat , lifeless and dumb", "the worst film of the year", "tiresome", "a muddled plot"]
#: tiny and short: a few CPU seconds per fit on 2 cores
CFG = FinetuneConfig(epochs=2, lr=1e-4, batch_size=8, max_length=12, num_threads=1)


def data() -> tuple[np.ndarray, np.ndarray]:
    texts = np.array(POSITIVE + NEGATIVE, dtype=object)
    return texts, np.array([1] * len(POSITIVE) + [0] * len(NEGATIVE))


@pytest.fixture(scope="module")
def fitted():
    X, y = data()
    return fit(X, y, X, y, CFG, FitSpec("binary", 2, seed=3))


def test_fine_tuning_trains_every_weight_and_learns(fitted):
    net = fitted.native
    assert all(p.requires_grad for p in net.parameters())  # end to end: nothing frozen by default
    assert len(fitted.curves) == CFG.epochs and fitted.best_iteration in range(CFG.epochs)
    assert {"train/loss", "val/loss", "train/roc_auc", "val/roc_auc"} <= set(fitted.curves[0])
    assert fitted.curves[-1]["train/loss"] < fitted.curves[0]["train/loss"] or fitted.best_iteration == 0
    assert fitted.curves[fitted.best_iteration]["val/roc_auc"] >= 0.9  # the sentiment is learnable


def test_a_second_fit_gives_the_same_weights(fitted):
    X, y = data()
    again = fit(X, y, X, y, CFG, FitSpec("binary", 2, seed=3))
    first, second = fitted.native.state_dict(), again.native.state_dict()
    assert all(np.array_equal(first[k].numpy(), second[k].numpy()) for k in first)


def test_the_model_directory_loads_without_the_wheel_and_scores_the_same(fitted, tmp_path, monkeypatch):
    from traincycle.models import fit_model

    X, y = data()
    spec = FitSpec("binary", 2, seed=3, feature_names=("text",))
    model, _ = fit_model("finetune", CFG, spec, ["neg", "pos"], (X[:4], y[:4], X[:4], y[:4]))
    save_model(model, tmp_path / "model")
    assert (tmp_path / "model" / "encoder" / "vocab.txt").exists()
    import traincycle.text as text

    monkeypatch.setattr(text, "model_directory", lambda name: pytest.fail("load must not need the wheel"))
    loaded = load_model(tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_the_onnx_graph_takes_token_ids_and_matches(fitted):
    import onnxruntime as ort

    from traincycle.export import stable_bytes
    from traincycle.models.finetune import export_onnx

    X, _ = data()
    graph = ort.InferenceSession(stable_bytes(export_onnx(fitted.native, "binary", 1)),
                                 providers=["CPUExecutionProvider"])
    ids = tokenize(fitted.native, X)
    assert ids.shape == (len(X), CFG.max_length) and ids.dtype == np.int64
    scores = graph.run(None, {graph.get_inputs()[0].name: ids})[0]
    from traincycle.models.finetune import predict_proba

    assert np.abs(scores - predict_proba(fitted.native, X)).max() < 1e-4


def test_frozen_lower_layers_and_bad_params():
    X, y = data()
    partial = fit(X[::4], y[::4], X[::4], y[::4],
                  FinetuneConfig(epochs=1, batch_size=4, max_length=8, train_layers=1, num_threads=1),
                  FitSpec("binary", 2, seed=0))
    frozen = [n for n, p in partial.native.named_parameters() if not p.requires_grad]
    assert any(n.startswith("encoder.embeddings") for n in frozen)
    assert not any(".layer.5." in n for n in frozen) and any(".layer.4." in n for n in frozen)
    with pytest.raises(ConfigError, match=r"train\.finetune\.max_length"):
        FinetuneConfig(max_length=1)
    with pytest.raises(ConfigError, match=r"train\.finetune\.encoder"):
        fit(X, y, X, y, FinetuneConfig(encoder="/nonexistent"), FitSpec("binary", 2, seed=0))


def test_finetune_needs_text_data():
    from traincycle.train import TrainConfig, check_config

    with pytest.raises(ConfigError, match=r"needs data\.modality: text"):
        check_config(DataConfig(), TrainConfig(model="finetune"))
