"""Split first: stratified, seeded train/val/test with identical rows and entities kept together."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd

from traincycle.config import DataConfig, check_range
from traincycle.errors import ConfigError, DataError
from traincycle.io import hashable_frame

SPLITS = ("train", "val", "test")
POOLED = "__pooled__"


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Split fractions and leakage policy."""

    train: float = 0.70
    val: float = 0.15
    test: float = 0.15
    #: identical feature rows: keep_together (all copies in one split) or drop (keep the first)
    duplicates: Literal["keep_together", "drop"] = "keep_together"
    group_column: str | None = None
    time_column: str | None = None
    #: sensitive groups with fewer rows are pooled for stratification (and reported)
    min_group_count: int = 30
    #: shuffle: stratified, seeded shuffle of the whole table (exact fractions per stratum, but
    #: appending rows reshuffles old ones); hash: each row's split follows from its own content and
    #: the seed, so rows appended later never move old rows (test stays test; fractions hold in
    #: expectation, not per stratum)
    assign: Literal["shuffle", "hash"] = "shuffle"

    def __post_init__(self) -> None:
        for name in SPLITS:
            check_range(f"split.{name}", getattr(self, name), 0.0, 1.0, low_open=True, high_open=True)
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(
                f"params split: train + val + test must sum to 1, got "
                f"{self.train} + {self.val} + {self.test} = {total:.6g}"
            )
        if self.group_column and self.time_column:
            raise ConfigError("params split: set group_column or time_column, not both")
        if self.assign == "hash" and self.time_column:
            raise ConfigError("params split.assign: hash assigns rows by content, not by time; "
                              "use assign: shuffle with split.time_column")
        check_range("split.min_group_count", self.min_group_count, 1)


def feature_columns(df: pd.DataFrame, data: DataConfig) -> list[str]:
    """Columns that describe a row, as the data's modality says (tables: all but target and ids)."""
    from traincycle.modalities import modality

    return modality(data.modality).identity_columns(df, data)


def row_keys(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit content hash per row over `columns`; identical rows share a key."""
    # image pixels are hashed by their bytes (numpy arrays are unhashable)
    return pd.util.hash_pandas_object(hashable_frame(df[columns]), index=False).to_numpy()


def unit_ids(df: pd.DataFrame, features: list[str], group_column: str | None) -> np.ndarray:
    """Ids of the units that must stay in one split: identical rows, joined with entities if given."""
    dup_ids = pd.factorize(row_keys(df, features))[0]
    if group_column is None:
        return dup_ids
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ent_ids = pd.factorize(df[group_column].astype("string").fillna("<NA>"))[0]
    # bipartite graph duplicate-key <-> entity: a component is one unit
    n_dup, n_ent = dup_ids.max() + 1, ent_ids.max() + 1
    graph = coo_matrix((np.ones(len(df)), (dup_ids, n_dup + ent_ids)), shape=(n_dup + n_ent,) * 2)
    _, comp = connected_components(graph, directed=False)
    return pd.factorize(comp[dup_ids])[0]


def label_strata(y: pd.Series, task: str) -> pd.Series:
    """Stratification label: the class, or a decile bin of the target for regression."""
    if task == "regression":
        bins = min(10, max(1, y.nunique() // 2))
        return pd.qcut(y.rank(method="first"), bins, labels=False).astype("string")
    return y.astype("string").fillna("<NA>")


def pooled_groups(df: pd.DataFrame, sensitive: tuple[str, ...], min_count: int) -> dict[str, list[str]]:
    """Sensitive groups too small to stratify on, per column."""
    out = {}
    for col in sensitive:
        counts = df[col].astype("string").fillna("<NA>").value_counts()
        out[col] = sorted(counts[counts < min_count].index.tolist())
    return out


def strata(df: pd.DataFrame, data: DataConfig, pooled: dict[str, list[str]]) -> pd.Series:
    """Per-row stratum: label x sensitive groups, with small groups pooled."""
    key = label_strata(df[data.target], data.task)
    for col in data.sensitive:
        groups = df[col].astype("string").fillna("<NA>")
        groups = groups.where(~groups.isin(pooled[col]), POOLED)
        key = key + "|" + groups
    return key


def assign_units(
    unit: np.ndarray, stratum: pd.Series, order: np.ndarray | None, cfg: SplitConfig, seed: int
) -> np.ndarray:
    """Assign each row a split index (0 train, 1 val, 2 test), whole units at a time.

    Within each stratum the units are shuffled (or time-ordered when `order` is given) and laid
    end to end; a unit goes to the split its midpoint falls in, which matches the fractions to
    within one unit per stratum.
    """
    units = pd.DataFrame({"unit": unit, "stratum": stratum.to_numpy()})
    per_unit = units.groupby("unit", sort=True).agg(stratum=("stratum", "first"), size=("unit", "size"))
    if order is not None:
        per_unit["stratum"] = "all"
        per_unit["pos"] = pd.Series(order).groupby(unit).min().reindex(per_unit.index).to_numpy()
    # strata with too few units to reach every split are merged into their label's stratum
    counts = per_unit["stratum"].map(per_unit["stratum"].value_counts())
    small = counts < 3  # split only these strings: a per-row Python split of every unit is minutes at 10M
    per_unit.loc[small, "stratum"] = per_unit.loc[small, "stratum"].str.split("|").str[0]
    rng = np.random.default_rng(seed)
    edges = np.cumsum([cfg.train, cfg.val])
    result = pd.Series(0, index=per_unit.index, dtype=np.int8)
    for _, members in per_unit.groupby("stratum", sort=True):
        if order is not None:
            members = members.sort_values("pos", kind="stable")
        else:
            members = members.iloc[rng.permutation(len(members))]
        sizes = members["size"].to_numpy()
        mid = (np.cumsum(sizes) - sizes / 2) / sizes.sum()
        result.loc[members.index] = np.searchsorted(edges, mid, side="right").astype(np.int8)
    return result.reindex(unit).to_numpy()


def assign_by_hash(keys: np.ndarray, unit: np.ndarray, cfg: SplitConfig, seed: int) -> np.ndarray:
    """Split index per row from its unit's content alone: the unit's smallest row key, mixed with
    the seed (splitmix64), is a uniform number placed against the fractions. Independent of
    every other row, so appending data leaves each old row where it was."""
    per_unit = pd.Series(keys).groupby(unit).min()
    x = per_unit.to_numpy(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    with np.errstate(over="ignore"):  # modular arithmetic on purpose
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    uniform = (x >> np.uint64(11)).astype(np.float64) / 2.0**53
    which = np.searchsorted(np.cumsum([cfg.train, cfg.val]), uniform, side="right").astype(np.int8)
    return pd.Series(which, index=per_unit.index).reindex(unit).to_numpy()


def split_frame(
    df: pd.DataFrame, data: DataConfig, cfg: SplitConfig, seed: int
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Split `df` into train/val/test; return the parts and a report for reports/split.json."""
    if data.time is not None:
        return split_in_time(df, data, cfg)
    for col in filter(None, (cfg.group_column, cfg.time_column)):
        if col not in df.columns:
            raise DataError(f"split: column {col!r} (params split) not in the data")
    features = [c for c in feature_columns(df, data) if c != cfg.group_column]
    dropped = 0
    if cfg.duplicates == "drop":
        keep = ~pd.Series(row_keys(df, features)).duplicated().to_numpy()
        dropped = int((~keep).sum())
        df = df[keep].reset_index(drop=True)
    unit = unit_ids(df, features, cfg.group_column)
    keys = row_keys(df, features)
    dup_rows = int(pd.Series(keys).duplicated(keep=False).sum())
    pooled = pooled_groups(df, data.sensitive, cfg.min_group_count)
    order = None
    if cfg.time_column:
        order = df[cfg.time_column].rank(method="first").to_numpy()
    if cfg.assign == "hash":
        which = assign_by_hash(keys, unit, cfg, seed)
    else:
        which = assign_units(unit, strata(df, data, pooled), order, cfg, seed)
    parts = {name: df[which == i].reset_index(drop=True) for i, name in enumerate(SPLITS)}
    check_splits(parts, data, features)
    report = {
        "rows": {name: len(part) for name, part in parts.items()},
        "fraction": {name: len(part) / len(df) for name, part in parts.items()},
        "duplicates": {"policy": cfg.duplicates, "rows_with_twin": dup_rows, "dropped": dropped},
        "leaked_rows": 0,
        "pooled_groups": {col: ", ".join(groups) for col, groups in pooled.items() if groups},
    }
    if data.task != "regression":
        report["class_share"] = {n: shares(p[data.target]) for n, p in parts.items()}
    for col in data.sensitive:
        report[f"group_share_{col}"] = {n: shares(p[col]) for n, p in parts.items()}
    return parts, report


def split_in_time(
    df: pd.DataFrame, data: DataConfig, cfg: SplitConfig
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """data.time: cut at time boundaries and add the lag and calendar columns (traincycle.timeseries)."""
    from traincycle.timeseries import time_split

    if cfg.time_column or cfg.group_column:
        raise ConfigError("params split: data.time orders the rows; leave split.time_column and "
                          "split.group_column null")
    parts, time_report = time_split(df, data.time, data.target, (cfg.train, cfg.val))
    check_splits(parts, data, feature_columns(parts["train"], data))
    return parts, {
        "rows": {name: len(part) for name, part in parts.items()},
        "fraction": {name: len(part) / len(df) for name, part in parts.items()},
        # one row per time per series: no two rows are identical
        "duplicates": {"policy": cfg.duplicates, "rows_with_twin": 0, "dropped": 0},
        "leaked_rows": 0,
        "time": time_report,
    }


def shares(values: pd.Series) -> dict[str, float]:
    """Share of each value (sorted by value), missing counted as '<NA>'."""
    counts = values.astype("string").fillna("<NA>").value_counts(normalize=True)
    return {str(k): float(v) for k, v in counts.sort_index().items()}


def check_splits(parts: dict[str, pd.DataFrame], data: DataConfig, features: list[str]) -> None:
    """Fail when a split is empty, misses a class, or shares an identical row with another split."""
    for name, part in parts.items():
        if part.empty:
            raise DataError(f"split: the {name} split is empty; the dataset is too small to split")
    if data.task != "regression":
        present = {name: set(p[data.target].dropna().unique().astype(str)) for name, p in parts.items()}
        classes = set().union(*present.values())
        for name in parts:
            missing = sorted(classes - present[name])
            if missing:
                raise DataError(
                    f"split: class {missing[0]!r} of {data.target!r} has too few rows to appear "
                    f"in the {name} split; collect more data or merge rare classes"
                )
    keys = {name: np.unique(row_keys(part, features)) for name, part in parts.items()}
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1 :]:
            if len(np.intersect1d(keys[first], keys[second], assume_unique=True)):
                raise DataError(f"split: identical rows appear in both {first} and {second} (leakage)")
