"""traincycle select: uncertainty measures, diversity, scikit-activeml vs the numpy formulas, the CLI.

The loop on Adult against random labelling: tests/e2e/test_feedback_loop.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from traincycle.selection import choose, farthest_first, uncertainty

from conftest import make_frame, write_optimized_model


def test_uncertainty_measures_rank_the_unsure_first() -> None:
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.49, 0.01], [1 / 3, 1 / 3, 1 / 3]])
    assert uncertainty(proba, "least_confident").argmax() == 3
    assert uncertainty(proba, "margin").argmax() == 3
    assert np.argsort(-uncertainty(proba, "margin"))[1] == 2  # a near tie between two classes
    assert uncertainty(proba, "entropy")[3] == pytest.approx(np.log(3))
    assert uncertainty(proba, "entropy").argmin() == 0
    assert list(choose(proba, 2, "least_confident")) == [3, 1]


def test_diverse_picks_spread_over_the_feature_space() -> None:
    features = np.array([[0.0, 0], [0.01, 0], [0.02, 0], [5, 5], [10, 0]])
    order = np.array([0, 1, 2, 3, 4])  # most uncertain first: three near-copies lead
    assert list(farthest_first(features, order, 3)) == [0, 4, 3]
    proba = np.array([[0.5, 0.5], [0.51, 0.49], [0.52, 0.48], [0.7, 0.3], [0.8, 0.2]])
    assert list(choose(proba, 2, "margin")) == [0, 1]
    assert list(choose(proba, 2, "margin", features, candidates=2)) == [0, 3]  # among the top 4


def previous_uncertainty(p: np.ndarray, strategy: str) -> np.ndarray:
    """The numpy formulas select used before scikit-activeml."""
    top2 = np.sort(p, axis=1)[:, -2:]
    if strategy == "least_confident":
        return 1.0 - top2[:, -1]
    if strategy == "margin":
        return 1.0 - (top2[:, -1] - top2[:, 0])
    return -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-12, None)), 0.0), axis=1)


def previous_farthest_first(features: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """The numpy farthest-first loop select used before scikit-activeml's k_greedy_center."""
    picked = [int(order[0])]
    nearest = np.linalg.norm(features[order] - features[order[0]], axis=1)
    for _ in range(1, min(k, len(order))):
        nxt = int(np.argmax(nearest))
        picked.append(int(order[nxt]))
        nearest = np.minimum(nearest, np.linalg.norm(features[order] - features[order[nxt]], axis=1))
    return np.array(picked)


@pytest.mark.parametrize("classes", [2, 5])
def test_scikit_activeml_agrees_with_the_previous_formulas(classes: int) -> None:
    rng = np.random.default_rng(classes)
    proba = rng.dirichlet(np.ones(classes) * 0.7, size=2000).astype(np.float32)  # as the graph gives
    proba[:5] = np.eye(classes)[np.arange(5) % classes]  # certain rows: p log p at p = 0
    for strategy in ("least_confident", "margin", "entropy"):
        np.testing.assert_allclose(uncertainty(proba, strategy),
                                   previous_uncertainty(proba.astype(np.float64), strategy), atol=1e-6)
    features = rng.normal(size=(3000, 12))
    order = rng.permutation(3000)
    for k in (1, 40, 300):  # 300: over one k_greedy_center chunk
        picked = farthest_first(features, order, k, seed=3)
        np.testing.assert_array_equal(picked, previous_farthest_first(features, order, k))
    grid = np.repeat(np.eye(4), 5, axis=0)  # exact distance ties: broken at random, but seeded
    runs = {tuple(farthest_first(grid, np.arange(20), 6, seed=s)) for s in (7, 7)}
    assert len(runs) == 1


def test_diverse_picks_do_not_repeat_near_copies() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 3)) * 10
    features = np.repeat(centres, 50, axis=0) + rng.normal(size=(400, 3)) * 0.01
    picked = farthest_first(features, rng.permutation(400), 8)
    assert len({int(i) // 50 for i in picked}) == 8  # one per cluster


def test_cli_writes_the_rows_to_label_in_the_source_format(tmp_path: Path) -> None:
    from traincycle.cli import main

    root, _rows = write_optimized_model(tmp_path / "model")
    pool = make_frame(300, seed=5).drop(columns="income")
    pool["age"] = pool["age"].astype(float).where(pool.index % 7 != 0)
    pool.to_csv(tmp_path / "pool.csv", index=False)
    result = CliRunner().invoke(main, ["select", str(tmp_path / "pool.csv"), "-k", "25", "-o",
                                       str(tmp_path / "to_label.csv"), "--model", str(root),
                                       "--diverse"])
    assert result.exit_code == 0, result.output
    assert "selected 25 rows (margin, diverse" in result.output
    picked = pd.read_csv(tmp_path / "to_label.csv", keep_default_na=False)
    assert list(picked.columns[:3]) == ["pool_row", "rank", "uncertainty"] and len(picked) == 25
    assert set(picked.columns[3:]) == set(pool.columns)
    assert picked["pool_row"].is_unique and (picked["rank"] == range(1, 26)).all()
    assert "?" in set(picked["age"].astype(str)) or pool.iloc[picked["pool_row"]]["age"].notna().all()
    again = pd.read_csv(tmp_path / "to_label.csv", na_values=["?"])
    merged = pool.iloc[again["pool_row"]].reset_index(drop=True)
    pd.testing.assert_series_equal(again["hours_per_week"], merged["hours_per_week"], check_dtype=False)
