"""Where training runs: in this process (`local`) or on a Dask cluster (`dask`).

With `train.engine: dask` the processed Parquet is read as Dask DataFrames, split into at least
one partition per worker, and handed to the family's distributed trainer (its `fit_dask` hook:
xgboost through `xgboost.dask`). The model that comes back is an ordinary local model: it is
saved, loaded, exported to ONNX and parity-checked exactly as a locally trained one.

No address starts a LocalCluster on this machine (worker processes on 127.0.0.1, torn down
afterwards); an address (``tcp://scheduler:8786``) connects to a cluster that already runs.
Workers read the Parquet themselves, so with an existing cluster the paths must be readable
from the workers (a shared file system or object storage).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.errors import ConfigError, DataError, UserError, one_line
from traincycle.models import family_module

Engine = Literal["local", "dask"]
#: rows per Dask partition at most (float32 features: ~100 MB per partition at 25 columns)
PARTITION_ROWS = 1_000_000
ENGINES: tuple[str, ...] = ("local", "dask")


@dataclasses.dataclass(frozen=True)
class DaskConfig:
    """train.dask: which cluster to use, or how large a LocalCluster to start."""

    #: scheduler address of an existing cluster (tcp://host:8786); null: start a LocalCluster
    address: str | None = None
    #: LocalCluster worker processes; 0: one per CPU core of this machine
    workers: int = 0
    #: threads per LocalCluster worker
    threads_per_worker: int = 1
    #: seconds to wait for the scheduler before giving up
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        check_range("train.dask.workers", self.workers, 0)
        check_range("train.dask.threads_per_worker", self.threads_per_worker, 1)
        check_range("train.dask.connect_timeout", self.connect_timeout, 1)


def engines_of(family: str) -> tuple[str, ...]:
    """The engines a family trains on: every family runs locally; `dask` needs a `fit_dask` hook."""
    return ENGINES if hasattr(family_module(family), "fit_dask") else ("local",)


def check_engine(family: str, engine: str) -> None:
    """Refuse an engine the family has no trainer for, naming what it supports."""
    if engine not in ENGINES:
        raise ConfigError(f"params train.engine: unknown engine {engine!r}; "
                          f"expected one of {', '.join(ENGINES)}")
    supported = engines_of(family)
    if engine not in supported:
        from traincycle.models import FAMILIES

        on_dask = [name for name in FAMILIES if "dask" in engines_of(name)]
        raise ConfigError(
            f"params train.engine: model {family!r} has no {engine} trainer (it trains on: "
            f"{', '.join(supported)}); models that train on {engine}: {', '.join(on_dask)}"
        )


@contextlib.contextmanager
def dask_client(cfg: DaskConfig) -> Iterator[Any]:
    """A Dask client: connected to `cfg.address`, or to a LocalCluster started (and stopped) here."""
    from distributed import Client, LocalCluster

    if cfg.address:
        try:
            client = Client(cfg.address, timeout=f"{cfg.connect_timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"params train.dask.address: cannot reach the Dask scheduler at "
                            f"{cfg.address}: {one_line(exc)}") from None
        with client:
            yield client
        return
    workers = cfg.workers or os.cpu_count() or 1
    with LocalCluster(n_workers=workers, threads_per_worker=cfg.threads_per_worker, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=40) as cluster, \
            Client(cluster) as client:
        yield client


def worker_count(client: Any) -> int:
    """Workers the scheduler knows about right now."""
    return len(client.scheduler_info(n_workers=-1)["workers"])


@dataclasses.dataclass
class DaskSplit:
    """One processed split as Dask arrays: features (float32, featurizer order) and target."""

    X: Any
    y: Any


def row_slices(rows: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous [start, stop) row ranges covering `rows`, as even as can be."""
    bounds = [rows * i // parts for i in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def read_rows(bounds: tuple[int, int], path: str, columns: list[str]) -> Any:
    """Rows [start, stop) of a Parquet file, reading only the row groups that hold them."""
    import pyarrow.parquet as pq

    start, stop = bounds
    file = pq.ParquetFile(path)
    groups, first, offset = [], None, 0
    for i in range(file.num_row_groups):
        size = file.metadata.row_group(i).num_rows
        if offset < stop and offset + size > start:
            groups.append(i)
            first = offset if first is None else first
        offset += size
    table = file.read_row_groups(groups, columns=columns)
    return table.slice(start - (first or 0), stop - start).to_pandas()


def read_split(path: str, meta: dict[str, Any], where: str, workers: int) -> DaskSplit:
    """A processed Parquet file as Dask arrays in row-ordered chunks, a multiple of `workers`.

    Each chunk is its own read task (no shared parent task), so the scheduler spreads them over
    the workers instead of splitting one file read on a single worker.
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    if not meta["feature_names"]:
        raise DataError(f"{where}: no feature columns to train on")
    columns = [*meta["feature_names"], meta["target"]]
    try:
        schema = pq.read_schema(path)
        rows = pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError) as exc:
        raise DataError(f"{where} {path}: not a readable Parquet file ({one_line(exc)})") from None
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise DataError(f"{where} {path}: column {missing[0]!r} is missing; rerun featurize")
    if rows == 0:
        raise DataError(f"{where} {path}: no rows")
    per_worker = -(-rows // (workers * PARTITION_ROWS))  # chunks of at most PARTITION_ROWS rows
    slices = row_slices(rows, min(workers * per_worker, rows))
    meta_frame = schema.empty_table().select(columns).to_pandas()
    frame = dd.from_map(read_rows, slices, path=str(Path(path).resolve()), columns=columns,
                        meta=meta_frame, enforce_metadata=False)
    lengths = [b - a for a, b in slices]
    target = np.float64 if meta["task"] == "regression" else np.int64
    X = frame[meta["feature_names"]].astype(np.float32).to_dask_array(lengths=lengths)
    y = frame[meta["target"]].astype(target).to_dask_array(lengths=lengths)
    return DaskSplit(X, y)


def worker_order(client: Any) -> list[str]:
    """Worker addresses by worker name (a LocalCluster's are 0, 1, ...), then address.

    Names, unlike addresses (random ports), are the same every run.
    """
    info = client.scheduler_info(n_workers=-1)["workers"]
    return sorted(info, key=lambda address: (str(info[address].get("name")), address))


def pin(client: Any, split: DaskSplit, workers: list[str]) -> DaskSplit:
    """Persist `split`'s chunks in contiguous blocks in row order, block k on `workers[k]` only.

    Left to the scheduler, a chunk goes to whichever worker is free first, so the rows each
    worker builds its histograms from, and with them the trees, change from run to run. Pinned,
    they depend only on the worker order.
    """
    import dask.array as da

    xs, ys = split.X.to_delayed().ravel(), split.y.to_delayed().ravel()
    parts, count = [], len(xs)
    for k, address in enumerate(workers):
        block = range(count * k // len(workers), count * (k + 1) // len(workers))
        done = client.persist([*(xs[i] for i in block), *(ys[i] for i in block)], workers=[address],
                              allow_other_workers=False)
        parts += list(zip(done[:len(block)], done[len(block):], strict=True))
    rows, width = split.X.chunks[0], split.X.shape[1]
    pairs = list(zip(parts, rows, strict=True))
    X = da.concatenate([da.from_delayed(x, (n, width), split.X.dtype) for (x, _), n in pairs])
    y = da.concatenate([da.from_delayed(t, (n,), split.y.dtype) for (_, t), n in pairs])
    return DaskSplit(X, y)


def class_counts(y: Any, task: str) -> np.ndarray:
    """Train rows per class, computed on the cluster (empty for regression)."""
    import dask.array as da

    return np.zeros(0) if task == "regression" else da.bincount(y).compute()


def fit_on_dask(
    cfg: DaskConfig, family: str, family_cfg: Any, spec: Any, paths: tuple[str, str], meta: dict[str, Any]
) -> tuple[Any, dict[str, np.ndarray], int]:
    """Fit `family` on the cluster; return the Fit, gathered targets/outputs and the worker count.

    The outputs gathered for scoring are one or a few numbers per row (targets and predictions),
    never the feature matrix.
    """
    check_engine(family, "dask")
    with dask_client(cfg) as client:
        workers = worker_count(client)
        if workers == 0:
            where = cfg.address or "LocalCluster"
            raise UserError(f"params train.dask.address: the Dask cluster at {where} has no workers")
        order = worker_order(client)
        train = pin(client, read_split(paths[0], meta, "processed train", workers), order)
        val = pin(client, read_split(paths[1], meta, "processed val", workers), order)
        hook = family_module(family).fit_dask
        fitted = hook(client, (train.X, train.y, val.X, val.y), class_counts(train.y, spec.task),
                      family_cfg, spec)
        gathered = {
            "y": train.y.compute(), "y_val": val.y.compute(),
            "out": family_module(family).predict_dask(client, fitted.native, train.X, spec.task),
            "out_val": family_module(family).predict_dask(client, fitted.native, val.X, spec.task),
        }
    return fitted, gathered, workers
