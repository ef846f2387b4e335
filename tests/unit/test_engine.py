"""Training engines: which families train on Dask, the dask params, an unreachable scheduler."""

from __future__ import annotations

import re

import pytest
from pgserver import free_port

from traincycle.config import build
from traincycle.engine import DaskConfig, check_engine, dask_client, engines_of
from traincycle.errors import ConfigError, UserError
from traincycle.train import TrainConfig


def test_only_families_with_a_distributed_trainer_take_dask():
    assert engines_of("xgboost") == ("local", "dask")
    assert engines_of("mlp") == ("local",)
    check_engine("xgboost", "dask")
    with pytest.raises(ConfigError) as caught:
        check_engine("random_forest", "dask")
    message = str(caught.value)
    assert "'random_forest' has no dask trainer (it trains on: local)" in message
    assert "models that train on dask: xgboost" in message and "\n" not in message


def test_dask_params_are_strict():
    cfg = build(TrainConfig, {"engine": "dask", "dask": {"address": "tcp://10.0.0.5:8786"}}, "train")
    assert cfg.dask == DaskConfig(address="tcp://10.0.0.5:8786")
    with pytest.raises(ConfigError, match=r"train\.dask"):
        build(TrainConfig, {"dask": {"adress": "tcp://x:1"}}, "train")
    with pytest.raises(ConfigError, match=r"train\.engine"):
        build(TrainConfig, {"engine": "spark"}, "train")
    with pytest.raises(ConfigError, match=r"train\.dask\.workers"):
        build(TrainConfig, {"dask": {"workers": -1}}, "train")


def test_unreachable_scheduler_names_its_address():
    address = f"tcp://127.0.0.1:{free_port()}"
    with (pytest.raises(UserError, match=f"cannot reach the Dask scheduler at {re.escape(address)}"),
          dask_client(DaskConfig(address=address, connect_timeout=1))):
        pass


def test_row_slices_read_exactly_their_rows(tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from traincycle.engine import read_rows, row_slices

    assert row_slices(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert row_slices(2, 2) == [(0, 1), (1, 2)]
    frame = pd.DataFrame({"x": range(100), "y": [i % 2 for i in range(100)]})
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "t.parquet", row_group_size=30)
    parts = [read_rows(s, str(tmp_path / "t.parquet"), ["x"]) for s in row_slices(100, 3)]
    assert [len(p) for p in parts] == [33, 33, 34]
    assert pd.concat(parts)["x"].tolist() == list(range(100))
