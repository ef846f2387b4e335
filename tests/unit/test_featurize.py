"""Featurizer: fit on train only, missing strategies, rare categories, clipping, label scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, build
from traincycle.errors import ConfigError, DataError
from traincycle.featurize import (
    FeaturizeConfig,
    QuantileClipper,
    featurize,
    load_featurizer,
    save_featurizer,
    transform,
)

DATA = DataConfig(target="y", positive_label="yes")


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A small mixed-type table with missing values and a learnable label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(np.int64)
    income = rng.lognormal(10 + shift, 1, n)
    color = rng.choice(["red", "green", "blue", "teal"], n, p=[0.5, 0.3, 0.19, 0.01])
    score = age / 80 + (color == "red") + rng.normal(0, 0.3, n)
    df = pd.DataFrame(
        {
            "age": age,
            "income": income,
            "color": pd.Categorical(color),
            "y": pd.Categorical(np.where(score > 0.9, "yes", "no")),
        }
    )
    df.loc[rng.random(n) < 0.1, "color"] = None
    df.loc[rng.random(n) < 0.1, "income"] = np.nan
    return df


def parts(n: int = 400) -> dict[str, pd.DataFrame]:
    return {"train": frame(n, 1), "val": frame(n // 4, 2), "test": frame(n // 4, 3)}


def cfg(**kw: object) -> FeaturizeConfig:
    return build(FeaturizeConfig, kw, "featurize")


def test_processed_layout_and_encoding() -> None:
    featurizer, processed, _, report = featurize(parts(), DATA, cfg(), seed=0)
    train = processed["train"]
    assert list(train.columns[:1]) == ["row_id"] and train.columns[-1] == "y"
    assert train["row_id"].dtype == np.int64 and train["y"].dtype == np.int64
    features = train.columns[1:-1]
    assert list(features) == featurizer.feature_names
    assert all(train[c].dtype == np.float32 for c in features)
    assert featurizer.meta["classes"] == ["no", "yes"]  # positive label last
    assert report["n_features"] == len(features)
    assert not train[features].isna().any().any()
    assert "color_missing" in features  # constant strategy: an explicit category


def test_fit_uses_train_only() -> None:
    """Changing val/test rows wildly leaves the featurizer and the train features unchanged."""
    base = parts()
    shifted = {**base, "val": frame(100, 9, shift=5.0), "test": frame(100, 8, shift=-5.0)}
    f1, p1, _, _ = featurize(base, DATA, cfg(), seed=0)
    f2, p2, _, _ = featurize(shifted, DATA, cfg(), seed=0)
    pd.testing.assert_frame_equal(p1["train"], p2["train"])
    assert f1.meta == f2.meta
    probe = frame(50, 7)
    pd.testing.assert_frame_equal(transform(f1, probe), transform(f2, probe))


def test_rare_and_unseen_categories_go_to_other() -> None:
    featurizer, _, _, _ = featurize(parts(), DATA, cfg(rare_min_count=20), seed=0)
    assert "color_other" in featurizer.feature_names
    assert "color_teal" not in featurizer.feature_names  # ~4 rows in train: grouped
    probe = frame(5, 4)
    probe["color"] = pd.Categorical(["purple"] * 5)
    out = transform(featurizer, probe)
    assert (out["color_other"] == 1).all()


def test_missing_strategies_flag_and_drop() -> None:
    featurizer, processed, _, report = featurize(
        parts(), DATA, cfg(missing_columns={"income": "flag", "color": "drop"}), seed=0
    )
    assert "missingindicator_income" in featurizer.feature_names
    assert report["rows_dropped"]["missing_values"] > 0
    assert report["rows"]["train"]["out"] < report["rows"]["train"]["in"]
    # dropped rows keep their interim positions as row_id, so joins still line up
    assert processed["train"]["row_id"].is_monotonic_increasing
    assert processed["train"]["row_id"].iloc[-1] > len(processed["train"]) - 1


def test_categorical_mean_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="color"):
        featurize(parts(), DATA, cfg(missing_columns={"color": "mean"}), seed=0)


def test_unseen_label_in_val_is_a_data_error() -> None:
    p = parts()
    p["val"]["y"] = p["val"]["y"].cat.add_categories("maybe")
    p["val"].loc[0, "y"] = "maybe"
    with pytest.raises(DataError, match="maybe"):
        featurize(p, DATA, cfg(), seed=0)


def test_quantile_clipper_bounds_from_fit_data() -> None:
    x = np.arange(1000, dtype=float).reshape(-1, 1)
    clip = QuantileClipper(0.01, 0.99).fit(x)
    out = clip.transform(np.array([[-50.0], [500.0], [5000.0], [np.nan]]))
    assert out[0, 0] == pytest.approx(np.quantile(x, 0.01))
    assert out[1, 0] == 500.0 and out[2, 0] == pytest.approx(np.quantile(x, 0.99))
    assert np.isnan(out[3, 0])


def test_quantile_clipper_frame_path_matches_sklearn_checks() -> None:
    """A frame of the fitted columns skips scikit-learn's per-column checks (wide rows) and
    gives the same values; other columns or infinity still get scikit-learn's errors."""
    x = pd.DataFrame({"a": np.arange(100.0), "b": np.linspace(-1, 1, 100)})
    clip = QuantileClipper(0.05, 0.95).fit(x)
    rows = pd.DataFrame({"a": [-5.0, np.nan, 50.0], "b": [3.0, 0.1, np.nan]})
    by_sklearn = QuantileClipper(0.05, 0.95).fit(x.to_numpy()).transform(rows.to_numpy())
    np.testing.assert_array_equal(clip.transform(rows), by_sklearn)
    with pytest.raises(ValueError, match="feature names"):
        clip.transform(rows.rename(columns={"b": "c"}))
    with pytest.raises(ValueError, match="infinity"):
        clip.transform(rows.assign(a=[np.inf, 1.0, 2.0]))


def test_prepare_inputs_types_mixed_columns_in_input_order() -> None:
    """Numbers held as numbers are converted as one block; strings of numbers, categories and
    nullable integers column by column; the output keeps the featurizer's column order."""
    from traincycle.featurize import prepare_inputs

    df = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "c": ["x", None, "y"],
                       "f": [0.5, np.nan, 2.0], "s": ["1", "2.5", None], "b": [True, False, True]})
    inputs = [{"name": "c", "dtype": "category"}, {"name": "f", "dtype": "float64"},
              {"name": "b", "dtype": "bool"}, {"name": "n", "dtype": "int64"},
              {"name": "s", "dtype": "float64"}]
    out = prepare_inputs(df, inputs)
    assert list(out.columns) == ["c", "f", "b", "n", "s"]
    assert out["c"].tolist()[0] == "x" and pd.isna(out["c"].iloc[1]) and out["c"].dtype == object
    np.testing.assert_array_equal(out[["f", "b", "n", "s"]].to_numpy(),
                                  [[0.5, 1, 1, 1], [np.nan, 0, np.nan, 2.5], [2.0, 1, 3, np.nan]])
    with pytest.raises(DataError, match="'s' should be numeric"):
        prepare_inputs(df.assign(s=["1", "two", None]), inputs, "predict")


def test_scaling_and_ordinal_encoding() -> None:
    featurizer, processed, _, _ = featurize(
        parts(), DATA, cfg(scaling="standard", encoding="ordinal"), seed=0
    )
    train = processed["train"]
    assert abs(float(train["age"].mean())) < 1e-3 and float(train["age"].std()) == pytest.approx(1, abs=0.01)
    assert "color" in featurizer.feature_names
    assert featurizer.meta["categorical_features"] == ["color"]


def test_label_scan_flags_flipped_labels_and_can_drop_them() -> None:
    p = parts(600)
    train = p["train"]
    # flip labels of confidently-classified rows: old and red is surely "yes"
    sure = train.index[(train["age"] > 60) & (train["color"] == "red")][:5]
    train.loc[sure, "y"] = "no"
    _, _, issues, report = featurize(p, DATA, cfg(), seed=0)
    assert set(sure) <= set(issues["row_id"])
    assert report["label_issues_found"] == len(issues)
    assert (issues["prob_given"] < 0.02).all()
    _, processed, _, report = featurize(p, DATA, cfg(drop_label_issues=True), seed=0)
    assert not set(sure) & set(processed["train"]["row_id"])
    assert report["rows_dropped"]["label_issues"] == len(issues)


def test_save_load_roundtrip_is_byte_stable(tmp_path) -> None:
    featurizer, processed, _, _ = featurize(parts(), DATA, cfg(), seed=0)
    save_featurizer(featurizer, tmp_path / "a" / "featurizer.skops", tmp_path / "a" / "featurizer.json")
    again, _, _, _ = featurize(parts(), DATA, cfg(), seed=0)
    save_featurizer(again, tmp_path / "b" / "featurizer.skops", tmp_path / "b" / "featurizer.json")
    for name in ("featurizer.skops", "featurizer.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = load_featurizer(tmp_path / "a")
    val = transform(loaded, parts()["val"])
    expected = processed["val"].drop(columns=["row_id", "y"])
    np.testing.assert_array_equal(val.to_numpy(), expected.to_numpy())


def test_regression_target_is_float() -> None:
    data = DataConfig(target="y", task="regression")
    p = {k: v.assign(y=v["age"] * 2.0) for k, v in parts().items()}
    featurizer, processed, issues, _ = featurize(p, data, cfg(), seed=0)
    assert processed["train"]["y"].dtype == np.float64
    assert featurizer.meta["classes"] == [] and issues.empty
