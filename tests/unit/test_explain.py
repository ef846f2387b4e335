"""Permutation SHAP is exact on additive models; grouping and permutation importance behave."""

from __future__ import annotations

import numpy as np
import pytest

from traincycle import explain


def test_permutation_shap_is_exact_for_a_linear_model():
    rng = np.random.default_rng(0)
    X, background = rng.normal(size=(30, 5)), rng.normal(size=(8, 5))
    w = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    groups = [[0], [1, 2], [3], [4]]
    values = explain.permutation_shap(lambda r: (r @ w)[:, None], X, background, groups, 1, rng)
    exact = w * (X - background.mean(axis=0))
    expected = np.stack([exact[:, g].sum(axis=1) for g in groups], axis=1)
    assert values.shape == (30, 4, 1)
    assert values[..., 0] == pytest.approx(expected)
    # efficiency: contributions add up to f(x) - E[f(background)]
    assert values.sum(axis=(1, 2)) == pytest.approx(X @ w - (background @ w).mean())


def test_interaction_is_split_fairly_with_small_chunks():
    rng = np.random.default_rng(1)
    X, background = np.ones((4, 2)), np.zeros((1, 2))
    values = explain.permutation_shap(lambda r: (r[:, 0] * r[:, 1])[:, None], X, background,
                                      [[0], [1]], 1, rng, budget=1)
    assert values[..., 0] == pytest.approx(np.full((4, 2), 0.5))


def test_feature_groups_follow_raw_columns():
    features = ["age", "workclass_Private", "workclass_other", "missingindicator_workclass",
                "native_country_US", "native_x"]
    groups = explain.feature_groups(features, ["age", "workclass", "native_country", "native"])
    assert groups == {"age": [0], "workclass": [1, 2, 3], "native_country": [4], "native": [5]}


def test_permutation_importance_finds_the_used_column():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = X[:, 0]

    def score(rows: np.ndarray) -> float:
        return -float(np.mean((rows[:, 0] - y) ** 2))

    result = explain.permutation_importance(score, X, {"a": [0], "b": [1], "c": [2]}, 3, seed=0)
    assert result["a"]["mean"] > 1.0
    assert result["b"]["mean"] == 0.0 and result["c"]["mean"] == 0.0
    assert result == explain.permutation_importance(score, X, {"a": [0], "b": [1], "c": [2]}, 3, seed=0)
