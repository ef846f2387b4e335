"""ONNX export of featurizer + model: parity with the native model for every family, byte-stable."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from traincycle import export
from traincycle.featurize import raw_rows
from traincycle.modalities import tabular
from traincycle.optimize import session

from conftest import tiny_pipeline

FAMILIES = ["logistic", "random_forest", "xgboost", "mlp"]


def test_svm_is_refused_with_a_clear_message() -> None:
    from traincycle.errors import ConfigError
    from traincycle.optimize import check_exportable

    fz, model, _processed, _raw = tiny_pipeline("svm")
    with pytest.raises(ConfigError, match="svm"):
        check_exportable(fz, model)


def exported(fz, model) -> bytes:
    return tabular.export_onnx(fz, model)


def onnx_scores(onx: bytes, fz, processed, raw) -> np.ndarray:
    rows = raw_rows(processed, raw, "val")
    feeds = export.to_feeds(rows, export.columns_from_meta(fz.meta["input_columns"]))
    return session(onx).run([export.PROBABILITIES], feeds)[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_export_matches_native_model_on_raw_rows(family: str) -> None:
    fz, model, processed, raw = tiny_pipeline(family)
    onx = exported(fz, model)
    native = model.scores(processed["val"][model.feature_names])
    scores = onnx_scores(onx, fz, processed["val"], raw["val"])
    assert scores.shape == native.shape == (len(processed["val"]), 2)
    assert np.abs(scores - native).max() < 1e-4, family
    graph = onnx.load_from_string(onx).graph
    assert [i.name for i in graph.input] == [c["name"] for c in fz.meta["input_columns"]]
    assert [o.name for o in graph.output] == [export.PROBABILITIES]


@pytest.mark.parametrize("family", ["logistic", "xgboost", "mlp"])
def test_export_is_byte_stable_with_sorted_opsets(family: str) -> None:
    fz, model, _processed, _raw = tiny_pipeline(family)
    first, second = exported(fz, model), exported(fz, model)
    assert first == second
    onx = onnx.load_from_string(first)
    domains = [(i.domain, i.version) for i in onx.opset_import]
    assert domains == sorted(domains)
    assert onx.producer_version == "" and onx.doc_string == ""


def test_onehot_ordinal_and_flag_imputer_export_with_rare_and_missing_values() -> None:
    for settings in ({"encoding": "ordinal"}, {"missing_numeric": "flag", "scaling": "standard"}):
        fz, model, processed, raw = tiny_pipeline("logistic", **settings)
        native = model.scores(processed["val"][model.feature_names])
        scores = onnx_scores(exported(fz, model), fz, processed["val"], raw["val"])
        assert np.abs(scores - native).max() < 1e-4, settings


def test_unseen_category_goes_where_sklearn_puts_it() -> None:
    from traincycle.featurize import transform

    fz, _model, _processed, raw = tiny_pipeline("logistic")
    columns = export.columns_from_meta(fz.meta["input_columns"])
    onx = export.stable_bytes(export.export_featurizer(fz.pipeline, columns))
    rows = raw["val"].head(3).copy()
    rows["race"] = rows["race"].astype(object)
    rows.loc[0, "race"] = "Martian"
    got = session(onx).run([export.FEATURES], export.to_feeds(rows, columns))[0]
    np.testing.assert_allclose(got, transform(fz, rows).to_numpy(), atol=1e-6)


def test_regression_export_outputs_prediction() -> None:
    from traincycle.config import DataConfig, build
    from traincycle.featurize import FeaturizeConfig, featurize
    from traincycle.train import TrainConfig, train

    from conftest import make_frame

    df = make_frame(300)
    df["income"] = df["age"] * 2.0 + df["hours_per_week"]
    raw = {"train": df.iloc[:200].reset_index(drop=True), "val": df.iloc[200:250].reset_index(drop=True),
           "test": df.iloc[250:].reset_index(drop=True)}
    data = DataConfig(target="income", task="regression")
    fz, processed, _i, _r = featurize(raw, data, build(FeaturizeConfig, {"label_scan": {"enabled": False}},
                                                     "featurize"), 0)
    model, _f, _r = train(processed["train"], processed["val"], fz.meta, data,
                          build(TrainConfig, {"model": "linear"}, "train"), 0)
    columns = export.columns_from_meta(fz.meta["input_columns"])
    onx = tabular.export_onnx(fz, model)
    got = session(onx).run([export.PREDICTION], export.to_feeds(raw_rows(processed["val"], raw["val"], "val"),
                                                                columns))[0]
    np.testing.assert_allclose(got.ravel(), model.predict(processed["val"][model.feature_names]), rtol=1e-4)


@pytest.mark.parametrize("family", ["logistic", "xgboost"])
def test_wide_tables_feed_numeric_columns_as_one_tensor(family: str, monkeypatch) -> None:
    monkeypatch.setattr(export, "TENSOR_MIN_COLUMNS", 1)  # the tiny table's 2 numerics count as wide
    fz, model, processed, raw = tiny_pipeline(family)
    columns = export.columns_from_meta(fz.meta["input_columns"])
    numeric = [c.name for c in columns if not c.is_categorical]
    onx = exported(fz, model)
    graph = onnx.load_from_string(onx).graph
    assert graph.input[0].name == export.NUMERIC_TENSOR
    assert [i.name for i in graph.input[1:]] == [c.name for c in columns if c.is_categorical]
    feeds = export.to_feeds(raw_rows(processed["val"], raw["val"], "val"), columns)
    assert feeds[export.NUMERIC_TENSOR].shape == (len(processed["val"]), len(numeric))
    native = model.scores(processed["val"][model.feature_names])
    assert np.abs(onnx_scores(onx, fz, processed["val"], raw["val"]) - native).max() < 1e-4


def test_fp16_keeps_raw_scale_inputs_in_float32():
    """Raw inputs can pass float16's range (65504; Adult's fnlwgt does): everything before the first
    weight op, the network's own standardisation included, stays float32."""
    import onnx

    from traincycle.optimize import Inputs, OptimizeConfig, build_variants
    from traincycle.qat import QATConfig

    from conftest import tiny_pipeline

    fz, model, processed, raw = tiny_pipeline("mlp")
    inp = Inputs(fz, model, processed["val"], raw["val"])
    cfg = OptimizeConfig(qat=QATConfig(enabled=False))
    variants = {v.name: v for v in build_variants(inp, cfg, 0)}
    types = {i.name: i.data_type for i in onnx.load_from_string(variants["fp16"].onnx).graph.initializer}
    assert types["model_net.0.scale"] == types["model_net.0.shift"] == onnx.TensorProto.FLOAT
    assert types["model_net.1.weight"] == onnx.TensorProto.FLOAT16
