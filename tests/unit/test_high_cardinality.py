"""High-cardinality categories (featurize.high_cardinality): frequency or out-of-fold target
encoding, fitted on train only, exported to ONNX value for value (or refused in one line)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from traincycle import export
from traincycle.config import DataConfig
from traincycle.errors import ConfigError
from traincycle.featurize import (
    FeaturizeConfig,
    HighCardinalityConfig,
    LabelScanConfig,
    featurize,
    fit_featurizer,
    transform,
)
from traincycle.optimize import session


def frame(n: int = 3000, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """`shop` (400 values, no signal: labels are coin flips), `city` (120 values carrying the
    signal) and a number."""
    rng = np.random.default_rng(seed)
    city = rng.integers(0, 120, n)
    rate = (city % 10) / 10
    if task == "multiclass":
        label = np.where(rng.random(n) < rate, "a", rng.choice(["b", "c"], n))
    else:
        label = np.where(rng.random(n) < rate, "yes", "no")
    return pd.DataFrame({
        "shop": pd.Series([f"s{i}" for i in rng.integers(0, 400, n)], dtype="category"),
        "city": pd.Series([f"c{i}" for i in city], dtype="category"),
        "spend": rng.normal(50, 10, n),
        "label": label,
    })


def config(encoding: str) -> FeaturizeConfig:
    return FeaturizeConfig(label_scan=LabelScanConfig(enabled=False),
                           high_cardinality=HighCardinalityConfig(encoding=encoding, min_values=50))


DATA = DataConfig(source="x.csv", target="label", task="binary", positive_label="yes")


def test_target_encoding_of_train_is_out_of_fold_so_a_noise_column_carries_no_label() -> None:
    df = frame()
    parts = {"train": df.iloc[:2000], "val": df.iloc[2000:2500], "test": df.iloc[2500:]}
    fz, processed, _, _ = featurize(parts, DATA, config("target"), 0)
    assert fz.meta["high_cardinality"] == {"encoding": "target", "columns": ["shop", "city"]}
    assert {"shop", "city", "spend"} <= set(fz.feature_names)
    y = processed["train"]["label"].to_numpy()
    honest = roc_auc_score(y, processed["train"]["shop"])
    leaked = roc_auc_score(y, transform(fz, parts["train"].reset_index(drop=True))["shop"])
    assert abs(honest - 0.5) < 0.05 < leaked - 0.5, (honest, leaked)  # 400 values, ~5 rows each
    signal = roc_auc_score(processed["test"]["label"], processed["test"]["city"])
    assert signal > 0.75


def test_frequency_encoding_is_the_train_share_and_zero_for_unseen_values() -> None:
    df = frame()
    fz = fit_featurizer(df, DATA, config("frequency"))
    assert "city_frequency" in fz.feature_names and len(fz.feature_names) == 3
    new = df.head(3).copy()
    new["city"] = pd.Series(["c1", "nowhere", None], dtype="category")
    out = transform(fz, new)["city_frequency"].to_numpy()
    assert out[0] == np.float32((df["city"] == "c1").mean()) and out[1] == 0.0


def test_group_keeps_todays_encoding_below_and_above_the_threshold() -> None:
    fz = fit_featurizer(frame(), DATA, config("group"))
    assert "high_cardinality" not in fz.meta and any(n.startswith("city_") for n in fz.feature_names)


@pytest.mark.parametrize("encoding", ["frequency", "target"])
def test_saved_featurizer_encodes_and_its_onnx_graph_agrees_bit_for_bit(encoding: str, tmp_path) -> None:
    from traincycle.featurize import load_featurizer, save_featurizer

    df = frame()
    fitted = fit_featurizer(df.iloc[:2000], DATA, config(encoding))
    save_featurizer(fitted, tmp_path / "f.skops", tmp_path / "f.json")
    fz = load_featurizer(tmp_path / "f.skops")  # skops: only trusted types load
    columns = export.columns_from_meta(fz.meta["input_columns"])
    graph = export.export_featurizer(fz.pipeline, columns)
    rows = df.iloc[2000:].copy()
    rows.loc[rows.index[:5], "city"] = None  # missing values take the imputer's path
    got = session(graph.SerializeToString()).run(None, export.to_feeds(rows, columns))[0]
    np.testing.assert_array_equal(got, transform(fz, rows).to_numpy())


def test_multiclass_target_encoding_is_refused_by_optimize_in_one_line() -> None:
    from traincycle.modalities import tabular

    data = DataConfig(source="x.csv", target="label", task="multiclass")
    fz = fit_featurizer(frame(task="multiclass"), data, config("target"))
    with pytest.raises(ConfigError, match="column 'shop' is target-encoded for a multiclass") as info:
        tabular.check_exportable(fz.meta)
    assert "\n" not in str(info.value)
