import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traincycle.config import DataConfig
from traincycle.errors import ConfigError, DataError
from traincycle.split import SplitConfig, row_keys, split_frame

from conftest import make_frame

DATA = DataConfig(target="income", sensitive=("sex", "race"))


def test_split_is_seeded_and_stratified(frame):
    parts, report = split_frame(frame, DATA, SplitConfig(), seed=1)
    again, _ = split_frame(frame, DATA, SplitConfig(), seed=1)
    for name in parts:
        pd.testing.assert_frame_equal(parts[name], again[name])
    assert sum(report["rows"].values()) == len(frame)
    rate = (frame["income"] == ">50K").mean()
    for name, part in parts.items():
        assert abs((part["income"] == ">50K").mean() - rate) < 0.05, name
    other, _ = split_frame(frame, DATA, SplitConfig(), seed=2)
    assert not parts["test"].equals(other["test"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(120, 600),
    seed=st.integers(0, 10_000),
    dup_share=st.floats(0.0, 0.4),
    train=st.floats(0.5, 0.8),
)
def test_split_invariants(n, seed, dup_share, train):
    df = make_frame(n, seed)
    twins = df.sample(frac=dup_share, random_state=seed)
    df = pd.concat([df, twins], ignore_index=True)
    val = (1 - train) / 2
    cfg = SplitConfig(train=train, val=val, test=1 - train - val)
    parts, report = split_frame(df, DATA, cfg, seed)
    # complete and disjoint: every row lands in exactly one split
    assert sum(len(p) for p in parts.values()) == len(df)
    keys = [set(row_keys(p, [c for c in df.columns if c != "income"])) for p in parts.values()]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    # fractions within tolerance of the request
    assert abs(report["fraction"]["train"] - train) < 0.08
    # every class everywhere
    for part in parts.values():
        assert set(part["income"].astype(str)) == set(df["income"].astype(str))


def test_hash_assignment_never_moves_old_rows_when_data_is_appended(frame):
    """split.assign: hash: each row's split follows from its content and the seed alone."""
    cfg = SplitConfig(assign="hash")
    features = [c for c in frame.columns if c != "income"]
    old = frame.iloc[: len(frame) // 2]
    grown = pd.concat([frame.iloc[len(frame) // 2:], old])  # rows appended (and reordered)
    before, report = split_frame(old, DATA, cfg, seed=3)
    after, _ = split_frame(grown, DATA, cfg, seed=3)
    for name in before:
        assert set(row_keys(before[name], features)) <= set(row_keys(after[name], features)), name
    assert abs(report["fraction"]["train"] - 0.7) < 0.08 and sum(report["rows"].values()) == len(old)
    other, _ = split_frame(old, DATA, cfg, seed=4)
    assert not before["test"].equals(other["test"])  # the seed still decides
    was, _ = split_frame(old, DATA, SplitConfig(), seed=3)
    now, _ = split_frame(grown, DATA, SplitConfig(), seed=3)
    moved = sum(len(set(row_keys(was[n], features)) - set(row_keys(now[n], features))) for n in was)
    assert moved > 0  # what `shuffle` does on append, and why `hash` exists
    twins = pd.concat([old, old.iloc[:40]], ignore_index=True)  # identical rows still share a split
    parts, _ = split_frame(twins, DATA, cfg, seed=3)
    keys = [set(row_keys(p, features)) for p in parts.values()]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    with pytest.raises(ConfigError, match=r"split\.assign"):
        SplitConfig(assign="hash", time_column="when")


def test_duplicates_can_be_dropped(frame):
    df = pd.concat([frame, frame.iloc[:50]], ignore_index=True)
    parts, report = split_frame(df, DATA, SplitConfig(duplicates="drop"), 0)
    assert report["duplicates"]["dropped"] >= 50
    assert sum(len(p) for p in parts.values()) == len(df) - report["duplicates"]["dropped"]


def test_group_column_keeps_entities_together(frame):
    df = frame.assign(person=np.arange(len(frame)) // 4)
    data = DataConfig(target="income", sensitive=("sex",), id_columns=("person",))
    parts, _ = split_frame(df, data, SplitConfig(group_column="person"), 0)
    owners = [set(p["person"]) for p in parts.values()]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])


def test_time_split_orders_by_time(frame):
    df = frame.assign(when=np.arange(len(frame))[::-1])
    parts, _ = split_frame(df, DATA, SplitConfig(time_column="when"), 0)
    assert parts["train"]["when"].max() < parts["val"]["when"].min()
    assert parts["val"]["when"].max() < parts["test"]["when"].min()


def test_small_groups_are_pooled_not_fatal(frame):
    df = frame.copy()
    df["race"] = df["race"].cat.add_categories("Rare")
    df.loc[:4, "race"] = "Rare"
    _, report = split_frame(df, DATA, SplitConfig(min_group_count=30), 0)
    assert report["pooled_groups"] == {"race": "Rare"}


def test_rare_class_and_tiny_data_are_errors(frame):
    df = frame.copy()
    df["income"] = df["income"].cat.add_categories("rare")
    df.loc[0, "income"] = "rare"
    with pytest.raises(DataError, match="class 'rare' of 'income' has too few rows"):
        split_frame(df, DATA, SplitConfig(), 0)
    with pytest.raises(DataError, match=r"too small|too few"):
        split_frame(frame.iloc[:2], DATA, SplitConfig(), 0)


def test_missing_group_column(frame):
    with pytest.raises(DataError, match="column 'who' \\(params split\\) not in the data"):
        split_frame(frame, DATA, SplitConfig(group_column="who"), 0)
