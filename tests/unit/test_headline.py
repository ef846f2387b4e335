"""headline: the few numbers per stage that `dvc exp show` compares, picked from the full reports."""

from __future__ import annotations

import pytest

from traincycle.headline import MAX_LEAVES, count_leaves, pick, write_reports

EVALUATE = {
    "headline": {"metric": "roc_auc", "value": 0.93, "low": 0.92, "high": 0.94},
    "problem": {"metric": "roc_auc", "at_least": 0.9, "met": True, "met_at_ci_bound": True},
    "task": "binary", "rows": 7328,
    "metrics": {"accuracy": 0.88, "roc_auc": 0.93},
    "ci": {"level": 0.95, "roc_auc": {"low": 0.92, "high": 0.94}},
    "per_group": {"sex": {"Female": {"tpr": 0.6, "count": 2400}}},
    "fairness": {"sex": {"dp_difference": 0.17, "eo_difference": 0.05, "groups_judged": 2},
                 "sex+race": {"dp_difference": 0.24, "eo_difference": 0.38, "groups_judged": 8},
                 "gate": "warning"},
}
REPORTS = {
    "validate": {"rows": 100, "columns": 5, "null_share": 0.1, "expectations": 9, "failed_critical": 0,
                 "failed_warning": 2, "sex": {"min_group_share": 0.3}},
    "split": {"rows": {"train": 70, "val": 15, "test": 15}, "fraction": {"train": 0.7},
              "class_share": {"train": {"a": 0.5}}},
    "featurize": {"n_features": 12, "rows": {"train": {"in": 70, "out": 70}}, "label_issues_found": 3},
    "train": {"model": "xgboost", "metric": "roc_auc", "val": {"roc_auc": 0.92, "log_loss": 0.3},
              "train": {"roc_auc": 0.95}, "best_iteration": 40, "n_parameters": 10, "n_trees": 41,
              "baselines": {"majority": {"roc_auc": 0.5, "log_loss": 0.6},
                            "logistic": {"roc_auc": 0.9, "log_loss": 0.33}}},
    "evaluate": EVALUATE,
    "optimize": {"metric": "roc_auc", "native": {"val_metric": 0.92, "bytes": 100}, "chosen": "trees_2",
                 "chosen_bytes": 50, "chosen_metric_delta": -0.001,
                 "variants": {"onnx_float": {"bytes": 90, "size_vs_float": 1.0},
                              "trees_2": {"bytes": 50, "size_vs_float": 0.55}}},
}


def test_headlines_pick_the_review_numbers():
    assert pick("evaluate", EVALUATE) == {
        "test": {"roc_auc": 0.93, "roc_auc_low": 0.92, "roc_auc_high": 0.94},
        "problem_met": True, "fairness_gap": 0.38,
    }
    assert pick("train", REPORTS["train"]) == {
        "model": "xgboost", "val": {"roc_auc": 0.92},
        "baselines": {"majority": 0.5, "logistic": 0.9}, "best_iteration": 40,
    }
    assert pick("optimize", REPORTS["optimize"]) == {
        "chosen": "trees_2", "size_vs_float": 0.55, "metric_delta": -0.001}
    assert pick("split", REPORTS["split"]) == {"rows": {"train": 70, "val": 15, "test": 15}}


def test_all_headlines_fit_the_column_budget():
    total = sum(count_leaves(pick(stage, report)) for stage, report in REPORTS.items())
    assert total <= MAX_LEAVES
    assert sum(count_leaves(r) for r in REPORTS.values()) > total  # the details stay in reports/


@pytest.mark.parametrize("stage", sorted(REPORTS))
def test_write_reports_writes_both(tmp_path, stage):
    import json

    write_reports(stage, REPORTS[stage], tmp_path / "reports" / "x.json", tmp_path / "metrics" / "x.json")
    assert json.loads((tmp_path / "reports" / "x.json").read_text()) == REPORTS[stage]
    assert json.loads((tmp_path / "metrics" / "x.json").read_text()) == pick(stage, REPORTS[stage])


def test_evaluate_without_threshold_or_groups_keeps_only_the_metric():
    bare = {**EVALUATE, "problem": {"metric": "roc_auc", "met": None}, "fairness": {"gate": "pass"}}
    assert pick("evaluate", bare) == {"test": {"roc_auc": 0.93, "roc_auc_low": 0.92, "roc_auc_high": 0.94}}
