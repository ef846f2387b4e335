"""Which unlabelled rows to label next: the ones the shipped model is least sure of.

`traincycle select POOL -k N` reads POOL as predict reads new rows, scores it, and ranks rows by
uncertainty: ``least_confident`` (1 - top probability), ``margin`` (1 - the gap between the two
top classes) or ``entropy`` (of the class probabilities), computed by scikit-activeml's
``uncertainty_scores`` from the shipped model's probabilities (the pool setting: the model is
fixed, only its scores are used). With ``diverse``, the N rows are picked among the most
uncertain ``candidates x N`` by greedy k-center selection (scikit-activeml's CoreSet,
``k_greedy_center``) over the raw columns (numbers standardised, categories one-hot), seeded
from the most uncertain row, so a batch does not spend its labels on near-copies of one case.

scikit-activeml imports torch (seconds), so it is imported only when rows are chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from traincycle.errors import DataError
from traincycle.inputs import InputSpec, PredictConfig

Strategy = Literal["least_confident", "margin", "entropy"]
STRATEGIES = ("least_confident", "margin", "entropy")
SCORE_ALL = PredictConfig(unknown="flag", missing_columns="impute")


#: our strategy names -> scikit-activeml's `uncertainty_scores` methods
METHODS = {"least_confident": "least_confident", "margin": "margin_sampling", "entropy": "entropy"}
#: rows k_greedy_center picks per call: its utilities matrix is (picks x candidates) floats
CHUNK = 256


def uncertainty(proba: np.ndarray, strategy: Strategy) -> np.ndarray:
    """Per row, higher = less sure (scikit-activeml's scores, float64)."""
    from skactiveml.pool import uncertainty_scores

    p = np.asarray(proba, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)  # float32 graph outputs: sums off by ~1e-7
    return uncertainty_scores(p, method=METHODS[strategy])


def encode(columns: dict[str, np.ndarray], specs: list[InputSpec]) -> np.ndarray:
    """Rows as vectors for distances: numbers standardised (missing: the mean), categories
    one-hot over the training categories."""
    parts = []
    for spec in specs:
        values = columns.get(spec.name)
        if values is None or spec.kind == "text":  # free text has no distance here
            continue
        if spec.is_categorical:
            parts.append(np.stack([values == c for c in spec.categories], axis=1).astype(np.float64)
                         if spec.categories else np.zeros((len(values), 0)))
        else:
            std = np.nanstd(values) or 1.0
            z = (values - np.nanmean(values)) / std
            parts.append(np.nan_to_num(z).reshape(-1, 1))
    return np.hstack(parts) if parts else np.zeros((0, 0))


def farthest_first(features: np.ndarray, order: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k rows of `order` (most uncertain first): the first, then each time the row farthest from
    those already picked (greedy k-center; exact distance ties broken at random, seeded)."""
    from skactiveml.pool import k_greedy_center
    from threadpoolctl import threadpool_limits

    k = min(k, len(order))
    x = features[order]
    labelled = np.full(len(order), np.nan)
    labelled[0] = 0.0  # the most uncertain row is the first centre
    rng = np.random.RandomState(seed)
    while (picked := int((~np.isnan(labelled)).sum())) < k:
        batch = min(CHUNK, k - picked)  # chunks keep k_greedy_center's utilities small
        # one distance row per pick: OpenMP threads cost more than they save (12x slower here)
        with threadpool_limits(1, "openmp"):
            chosen, _utilities = k_greedy_center(x, labelled, batch, random_state=rng,
                                                 mapping=np.flatnonzero(np.isnan(labelled)))
        labelled[chosen] = picked + np.arange(1, batch + 1)
    ranked = np.flatnonzero(~np.isnan(labelled))
    return order[ranked[np.argsort(labelled[ranked], kind="stable")]]


def choose(proba: np.ndarray, k: int, strategy: Strategy = "margin", features: np.ndarray | None = None,
           candidates: int = 10, seed: int = 0) -> np.ndarray:
    """Row indices to label, most useful first (diverse when `features` are given)."""
    scores = uncertainty(proba, strategy)
    order = np.argsort(-scores, kind="stable")
    if features is None:
        return order[:k]
    return farthest_first(features, order[: max(k * candidates, k)], k, seed)


def select_rows(model_dir: str | Path, pool_path: str | Path, k: int, strategy: Strategy = "margin",
                diverse: bool = False, seed: int = 0) -> pd.DataFrame:
    """The k pool rows to label next, as read (snake_case names), with their uncertainty and rank."""
    from traincycle.inputs import frame_columns, screen
    from traincycle.predict import load_predictor, read_batches

    pred = load_predictor(model_dir)
    if pred.manifest["task"] == "regression":
        raise DataError(f"{model_dir}: uncertainty sampling needs class probabilities; the model is "
                        "a regression")
    frames = [b for b in read_batches(pool_path, pred) if not b.empty]
    if not frames:
        raise DataError(f"{pool_path}: the pool has no rows")
    pool = pd.concat(frames, ignore_index=True)
    specs = pred.specs
    columns = frame_columns(pool, specs, where=str(pool_path))
    proba = pred.scores(screen(columns, specs, SCORE_ALL, len(pool)))
    picked = choose(proba, k, strategy, encode(columns, specs) if diverse else None, seed=seed)
    out = pool.iloc[picked].copy()
    out.insert(0, "uncertainty", uncertainty(proba, strategy)[picked])
    out.insert(0, "rank", np.arange(1, len(picked) + 1))
    out.insert(0, "pool_row", picked)
    return out.reset_index(drop=True)


def write_selection(frame: pd.DataFrame, output: str | Path, model_dir: str | Path) -> None:
    """to_label.csv (or .parquet), atomically; a CSV in the source's format (its column names,
    its missing-value marker), ready to label and append to the data."""
    from traincycle.io import atomic_path
    from traincycle.predict import load_predictor

    options = load_predictor(model_dir).read_options
    original = {snake: orig for orig, snake in options.names.items()}
    output = Path(output)
    with atomic_path(output) as tmp:
        if output.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.rename(columns=original).to_csv(tmp, index=False, sep=options.delimiter,
                                                  na_rep=options.na_values[0] if options.na_values else "")
