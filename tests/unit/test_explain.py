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


def test_screen_ranks_the_columns_the_output_moves_with():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 300))
    output = np.column_stack([X[:, 7] - 0.5 * X[:, 42], rng.normal(size=80) * 0.01 + X[:, 7]])
    groups = {f"c{i}": [i] for i in range(300)}
    ranking = explain.screen(output, X, groups)
    assert ranking[:2] == ["c7", "c42"] and len(ranking) == 300
    assert explain.screen(output, X, groups) == ranking  # deterministic


def test_with_rest_keeps_the_top_groups_and_pools_the_others():
    groups = {"a": [0], "b": [1, 2], "c": [3], "d": [4]}
    assert explain.with_rest(groups, ["c", "a"]) == {"c": [3], "a": [0], "<2 other columns>": [1, 2, 4]}
    assert explain.with_rest(groups, list(groups)) == groups


def test_wide_explanations_are_bounded_by_the_cap():
    from traincycle.evaluate import EvaluateConfig

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 400)).astype(np.float32)
    y = (X[:, 3] > 0).astype(int)

    class Model:  # a fixed logistic model on column 3
        feature_names = tuple(f"g{i}" for i in range(400))
        classes = ("no", "yes")
        task, family = "binary", "logistic"
        hooks = None  # no family hooks: model-agnostic permutation SHAP

        def predict_proba(self, rows):
            p = 1 / (1 + np.exp(-4 * rows[:, 3]))
            return np.column_stack([1 - p, p])

    cfg = EvaluateConfig(max_explain_columns=10, shap_rows=20, shap_background=5, permutation_repeats=1)
    names = list(Model.feature_names)
    report = explain.explain_model(Model(), X, y, "binary", "roc_auc", names, cfg, seed=0)
    explained = list(report["permutation"]["importance"])
    assert report["screened"] == {"method": report["screened"]["method"], "columns": 400, "explained": 10}
    assert len(report["permutation"]["importance"]) == 10
    assert next(iter(report["permutation"]["importance"])) == "g3"
    assert set(report["shap"]["mean_abs"]) == {*explained, "<390 other columns>"}
    assert next(iter(report["shap"]["mean_abs"])) == "g3"


def test_slices_keep_the_most_important_columns_in_input_order():
    from traincycle.slices import top_columns

    columns = ["a", "b", "c", "d", "e"]
    assert top_columns(columns, {"d": 0.5, "b": 0.9, "a": 0.0}, 2) == ["b", "d"]
    assert top_columns(columns, {"d": 0.5}, 3) == ["a", "b", "d"]  # unranked fill up in order


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_xgboost_tree_shap_is_what_shaps_tree_explainer_returns(task):
    """boosting's own tree SHAP (no shap import in evaluate) gives shap's values bit for bit."""
    import shap
    import xgboost

    from traincycle.models import boosting

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    X[::7, 2] = np.nan  # missing values take the default branch in both
    y = {"binary": (X[:, 0] > 0).astype(int), "multiclass": rng.integers(0, 3, len(X)),
         "regression": X[:, 1] * 2 + rng.normal(size=len(X))}[task]
    est = (xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier)(
        n_estimators=15, max_depth=3, n_jobs=1)
    est.fit(X, y)
    expected = np.asarray(shap.TreeExplainer(est).shap_values(X, check_additivity=False))
    got = boosting.shap_values(est, X)
    assert got.shape == expected.shape == ((300, 5, 3) if task == "multiclass" else (300, 5))
    assert np.array_equal(got, expected)
