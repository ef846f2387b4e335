"""The model card: every section from the run's records, deterministic, no absolute paths."""

from __future__ import annotations

from traincycle.card import render_card

PROBLEM = {"statement": "Predict income above $50K.", "metric": "roc_auc", "at_least": 0.9}
METRICS = {
    "headline": {"metric": "roc_auc", "value": 0.93, "low": 0.92, "high": 0.94},
    "problem": {"metric": "roc_auc", "at_least": 0.9, "met": True, "met_at_ci_bound": True},
    "task": "binary", "rows": 1000,
    "metrics": {"accuracy": 0.87, "roc_auc": 0.93},
    "ci": {"level": 0.95, "resamples": 100, "roc_auc": {"low": 0.92, "high": 0.94}},
    "per_class": {"<=50K": {"precision": 0.9, "recall": 0.95, "f1": 0.92, "support": 760},
                  ">50K": {"precision": 0.8, "recall": 0.65, "f1": 0.72, "support": 240}},
    "per_group": {"sex": {
        "Female": {"accuracy": 0.94, "selection_rate": 0.09, "tpr": 0.65, "fpr": 0.02, "count": 330},
        "Male": {"accuracy": 0.85, "selection_rate": 0.26, "tpr": 0.68, "fpr": 0.08, "count": 670}}},
    "fairness": {"sex": {"dp_difference": 0.17, "eo_difference": 0.06, "groups_judged": 2},
                 "gate": "warning"},
}
GATE = {"status": "warning", "severity": "warning", "max_dp_difference": 0.1, "max_eo_difference": 0.1,
        "findings": ["fairness gate: demographic parity difference on 'sex' is 0.170 (...)"]}
SLICES = {"metric": "accuracy", "overall": 0.87, "worst": [
    {"feature": "relationship", "slice": "Husband", "rows": 400, "accuracy": 0.78, "gap": -0.09}]}
IMPORTANCE = {"permutation": {"metric": "roc_auc", "importance": {
    "capital_gain": {"mean": 0.06, "std": 0.002}, "age": {"mean": 0.04, "std": 0.003}}},
    "shap": {"mean_abs": {"capital_gain": 0.6, "age": 0.7}}}
MODEL = {"family": "xgboost", "task": "binary", "classes": ["<=50K", ">50K"],
         "feature_names": ["a", "b", "c"], "params": {"max_depth": 6}, "best_iteration": 446}
PROVENANCE = {"source": "builtin:adult", "rows": 48842, "sha256": {"adult.data.gz": "c7a2"}}


def card(**overrides) -> str:
    args = {"problem": PROBLEM, "metrics": METRICS, "gate": GATE, "slices": SLICES,
            "importance": IMPORTANCE, "model": MODEL, "provenance": PROVENANCE,
            "quality": {"rows": 48842, "failed_critical": 0}, "sensitive": ["sex", "race"]}
    return render_card(**{**args, **overrides})


def test_card_has_every_section_with_run_figures():
    text = card()
    for heading in ("## Intended use", "## Data", "## Training setup", "## Metrics (test split)",
                    "## Groups and fairness", "## Known limitations", "## What the model relies on"):
        assert heading in text
    assert "Predict income above $50K." in text
    assert "`roc_auc` at least 0.9 — **met** (test roc_auc = 0.9300, 95% CI 0.9200–0.9400)" in text
    assert "| source | builtin:adult |" in text and "adult.data.gz: c7a2" in text
    assert "| failed_critical | 0 |" in text
    assert "| best_iteration | 446 |" in text and "`max_depth=6`" in text
    assert "| roc_auc | 0.9300 | 0.9200 | 0.9400 |" in text
    assert "| >50K | 0.8000 | 0.6500 | 0.7200 | 240 |" in text
    assert "| Female | 330 | 0.9400 | 0.0900 | 0.6500 | 0.0200 |" in text
    assert "Fairness gate: **warning**" in text and "- fairness gate: demographic parity" in text
    assert "Weak slice: `relationship` = Husband (400 rows)" in text
    assert "| capital_gain | 0.0600 | 0.0020 | 0.6000 |" in text


def test_card_is_deterministic_and_says_what_is_missing():
    assert card() == card()
    text = card(provenance=None, quality=None,
                metrics={**METRICS, "problem": {**METRICS["problem"], "met": False}})
    assert "No provenance record was found." in text
    assert "Validation summary" not in text
    assert "**not met**" in text


def test_pipes_in_values_do_not_break_tables():
    text = card(model={**MODEL, "family": "a|b"})
    assert "| family | a\\|b |" in text
