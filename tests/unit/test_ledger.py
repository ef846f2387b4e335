"""The test-set ledger: append, budget warning, metric-shift warning, table."""

from __future__ import annotations

import pytest

from traincycle import ledger
from traincycle.errors import DataError


def entry(model: str, metric: str = "roc_auc", test: str = "t1") -> dict:
    return {"time": "2026-01-01T00:00:00+00:00", "test_hash": test, "model_hash": model,
            "metric": metric, "value": 0.9, "params_hash": "p" * 64, "problem_metric": metric}


def test_budget_warning_counts_distinct_models_on_one_test_split(tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert ledger.record(path, entry("m1"), budget=2) == []
    assert ledger.record(path, entry("m1"), budget=2) == []  # the same model again: still one
    assert ledger.record(path, entry("m2"), budget=2) == []
    assert ledger.record(path, entry("m9", test="t2"), budget=2) == []  # another test split
    warnings = ledger.record(path, entry("m3"), budget=2)
    assert len(warnings) == 1
    assert "3 distinct models" in warnings[0] and "optimistic" in warnings[0]
    assert len(ledger.read_entries(path)) == 5


def test_metric_shift_warning(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.record(path, entry("m1", metric="roc_auc"), budget=10)
    warnings = ledger.record(path, entry("m1", metric="f1_macro"), budget=10)
    assert len(warnings) == 1
    assert "'f1_macro'" in warnings[0] and "'roc_auc'" in warnings[0]
    # a different test split has its own history
    assert ledger.record(path, entry("m1", metric="f1_macro", test="t2"), budget=10) == []


def test_table_lists_entries_and_counts(tmp_path):
    path = tmp_path / "ledger.jsonl"
    for model in ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"):
        ledger.record(path, entry(model), budget=10)
    table = ledger.format_table(ledger.read_entries(path))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["#", "time", "test"]
    assert "aaaaaaaaaaaa" in lines[1] and "0.9000" in lines[1]
    assert "bbbbbbbbbbbbbbbb" not in table  # hashes are shortened
    assert "test t1: 2 distinct model(s) scored" in table
    assert "empty" in ledger.format_table([])


def test_corrupt_line_is_a_clear_error(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"test_hash": "t"}\nnot json\n')
    with pytest.raises(DataError, match="line 2"):
        ledger.read_entries(path)


def test_cli_ledger_lists_entries(tmp_path):
    from click.testing import CliRunner

    from traincycle.cli import main

    path = tmp_path / "ledger.jsonl"
    ledger.record(path, entry("cafecafecafecafe"), budget=10)
    result = CliRunner().invoke(main, ["ledger", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert "cafecafecafe" in result.output and "roc_auc" in result.output
