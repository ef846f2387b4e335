"""Fit diagnosis verdicts, the val turn, suggestions and data warnings."""

from __future__ import annotations

import pytest

from traincycle.diagnosis import data_warning, diagnose, summary_line, val_turn


def curves(val_losses: list[float]) -> list[dict[str, float]]:
    return [{"train/loss": 0.1, "val/loss": v} for v in val_losses]


def test_overfitting_names_the_gap_and_suggests_regularisation() -> None:
    report = diagnose(
        "xgboost",
        "binary",
        curves([0.5, 0.4, 0.45, 0.6]),
        {"roc_auc": 0.99},
        {"roc_auc": 0.85},
        {"max_depth": 8, "min_child_weight": 1.0, "n_estimators": 500},
        n_train=30000,
        n_features=50,
        best_iteration=1,
    )
    assert report["verdict"] == "overfitting"
    assert report["gap"] == 0.99 - 0.85
    assert report["val_loss_turned_at"] == 1
    assert report["next_steps"] == [
        "dvc exp run -S train.xgboost.max_depth=6 -S train.xgboost.min_child_weight=4"
    ]
    assert "overfitting" in summary_line(report)


def test_underfitting_when_the_budget_ran_out() -> None:
    report = diagnose(
        "mlp",
        "binary",
        curves([0.6, 0.5, 0.45]),
        {"roc_auc": 0.86},
        {"roc_auc": 0.855},
        {"epochs": 3},
        n_train=30000,
        n_features=50,
        best_iteration=2,
    )
    assert report["verdict"] == "underfitting"
    assert report["next_steps"] == ["dvc exp run -S train.mlp.epochs=6"]


def test_healthy_fit_has_no_next_steps() -> None:
    report = diagnose(
        "logistic",
        "binary",
        curves([0.3]),
        {"roc_auc": 0.91},
        {"roc_auc": 0.90},
        {"C": 1.0},
        n_train=30000,
        n_features=100,
        best_iteration=None,
    )
    assert report["verdict"] == "healthy" and report["next_steps"] == []
    assert report["data_warning"] is None


def test_small_data_warning_for_mlp() -> None:
    report = diagnose(
        "mlp",
        "regression",
        curves([1.0, 0.9]),
        {"rmse": 50.0, "r2": 0.5},
        {"rmse": 55.0, "r2": 0.45},
        {"epochs": 100},
        n_train=300,
        n_features=10,
        best_iteration=1,
    )
    assert "only 300 train rows" in report["data_warning"]
    assert report["metric"] == "rmse"


def test_val_turn_ignores_noise() -> None:
    assert val_turn(curves([0.5, 0.4, 0.401])) is None
    assert val_turn(curves([0.5, 0.4, 0.5])) == 1


def test_a_simple_model_as_good_as_the_chosen_one_is_said_first() -> None:
    """German-credit-like: xgboost val 0.78, plain logistic 0.80 -> suggest the logistic run."""
    report = diagnose(
        "xgboost", "binary", curves([0.5, 0.45]), {"roc_auc": 0.80}, {"roc_auc": 0.78},
        {"max_depth": 6, "n_estimators": 500}, n_train=700, n_features=40, best_iteration=1,
        baseline_scores={"majority": {"roc_auc": 0.5}, "logistic": {"roc_auc": 0.80}},
    )
    assert "plain logistic model scores val roc_auc 0.8000 vs 0.7800" in report["simpler_model"]
    assert report["next_steps"][0] == "dvc exp run -S train.model=logistic"
    assert "as good or better" in summary_line(report)
    worse = diagnose(
        "xgboost", "binary", curves([0.5, 0.45]), {"roc_auc": 0.95}, {"roc_auc": 0.93},
        {"max_depth": 6, "n_estimators": 500}, n_train=30000, n_features=40, best_iteration=1,
        baseline_scores={"logistic": {"roc_auc": 0.90}},
    )
    assert worse["simpler_model"] is None
    assert "train.model=logistic" not in " ".join(worse["next_steps"])


@pytest.mark.parametrize("family", ["xgboost", "logistic"])
def test_more_features_than_rows_suggests_a_regularised_linear_model(family: str) -> None:
    warning = data_warning(family, n_train=59, n_features=2308)
    assert warning.startswith("2308 features for 59 train rows (p >> n)")
    assert "dvc exp run -S train.model=logistic" in warning
    assert data_warning(family, n_train=30000, n_features=100) is None
