import json
import math

import numpy as np
import pandas as pd
import pytest

from traincycle.errors import DataError
from traincycle.io import (
    atomic_dir,
    atomic_path,
    dump_json,
    read_parquet,
    sha256_frame,
    write_json,
    write_parquet,
)


def test_atomic_path_keeps_old_file_when_block_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_whole_directory(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.bin").write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "new.bin").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "partial").write_text("z")
        raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_json_is_deterministic_and_plain():
    obj = {"b": np.float64(1 / 3), "a": np.int64(2), "c": [np.nan, math.inf], "d": np.array([1, 2])}
    text = dump_json(obj)
    assert json.loads(text) == {"b": 0.333333, "a": 2, "c": [None, None], "d": [1, 2]}
    assert text == dump_json(obj)
    assert list(json.loads(text)) == ["b", "a", "c", "d"]


def test_parquet_round_trip_is_byte_stable(tmp_path, frame):
    write_parquet(frame, tmp_path / "a.parquet")
    write_parquet(frame, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    back = read_parquet(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(back, frame)
    assert sha256_frame(back) == sha256_frame(frame)


def test_read_parquet_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.parquet: file not found"):
        read_parquet(tmp_path / "missing.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"bad\.parquet: not a readable Parquet file"):
        read_parquet(bad)


def test_write_json_creates_parent(tmp_path):
    write_json({"x": 1.0}, tmp_path / "deep" / "m.json")
    assert json.loads((tmp_path / "deep" / "m.json").read_text()) == {"x": 1.0}


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    target = tmp_path / "out.parquet"
    (tmp_path / ".out.parquet.abc123.tmp").write_text("half-written by a killed stage")
    (tmp_path / ".out.parquet.dir999.tmp").mkdir()
    (tmp_path / ".other.json.x.tmp").write_text("not ours")
    with atomic_path(target) as tmp:
        tmp.write_text("fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.x.tmp", "out.parquet"]


def test_atomic_dir_restores_old_output_after_kill_between_renames(tmp_path):
    target = tmp_path / "model"
    old = tmp_path / ".model.old"
    old.mkdir()
    (old / "weights").write_text("previous")
    with atomic_dir(target) as tmp:
        assert (target / "weights").read_text() == "previous"
        (tmp / "weights").write_text("new")
    assert (target / "weights").read_text() == "new" and not old.exists()
