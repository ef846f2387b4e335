"""Label scan past featurize.label_scan.max_rows: seeded sample for the folds, every row scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import build
from traincycle.errors import ConfigError
from traincycle.featurize import ROW_ID, LabelScanConfig, scan_labels


def processed(n: int, seed: int = 0) -> pd.DataFrame:
    """A processed-train-like frame: row ids, two float32 features, a learnable 0/1 target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return pd.DataFrame({ROW_ID: np.arange(n, dtype=np.int64) + 1000, "a": x[:, 0], "b": x[:, 1], "y": y})


def scan(df: pd.DataFrame, **kw: object) -> pd.DataFrame:
    return scan_labels(df, "y", ["no", "yes"], build(LabelScanConfig, kw, "featurize.label_scan"), seed=0)


def test_capped_scan_still_flags_rows_outside_the_sample() -> None:
    df = processed(3000)
    sure = df.index[df["a"] > 2.0][:20]  # confidently positive rows, labels flipped
    df.loc[sure, "y"] = 0
    full, capped = scan(df, max_rows=0), scan(df, max_rows=500)
    flipped = set(df.loc[sure, ROW_ID])
    assert flipped <= set(full[ROW_ID]) and flipped <= set(capped[ROW_ID])
    # most flipped rows sit outside a 500-row sample, so the held-out scoring found them
    sample = np.random.default_rng(0).choice(len(df), 500, replace=False)
    assert len(flipped - set(df[ROW_ID].to_numpy()[sample])) > 10
    assert (capped["prob_given"] < 0.02).all()
    assert capped["prob_given"].is_monotonic_increasing


def test_cap_at_or_above_row_count_is_the_full_scan() -> None:
    df = processed(800, seed=1)
    pd.testing.assert_frame_equal(scan(df, max_rows=800), scan(df, max_rows=0))


def test_capped_scan_is_deterministic() -> None:
    df = processed(2000, seed=2)
    pd.testing.assert_frame_equal(scan(df, max_rows=300), scan(df, max_rows=300))


def test_negative_cap_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"featurize\.label_scan\.max_rows"):
        build(LabelScanConfig, {"max_rows": -1}, "featurize.label_scan")
