"""KL divergence of each column from the reference, computed by Great Expectations 1.x.

``ExpectColumnKLDivergenceToBeLessThan`` is the one distributional expectation of GX 1.x that
works (its bootstrapped-KS and chi-square ones are unfinished stubs), so `traincycle monitor`
runs it beside :mod:`traincycle.drift`'s scipy figures: the reference becomes a GX partition
object (numbers: a histogram over the reference's quantile bins; categories: their shares) and
one suite checks every column of the current rows. A little weight is held out for bins and
categories the reference never saw, so the divergence stays finite (GX's
``internal_weight_holdout`` / ``tail_weight_holdout`` for numbers; for categories, which GX
gives no holdout, the partition itself holds it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from traincycle.inputs import InputSpec

#: weight spread over empty reference bins, and (numbers) beyond the reference's range
HOLDOUT = 0.01
MISSING = "(missing)"


def partition(reference: np.ndarray, spec: InputSpec, bins: int,
              unseen: Sequence[str] = ()) -> dict[str, Any] | None:
    """GX's partition object of a reference column (None when it has no values).

    Categories: their shares, with HOLDOUT spread over the `unseen` ones (in the current rows,
    not the reference), since GX refuses a holdout for discrete data and a category of weight 0
    makes the divergence infinite.
    """
    if spec.is_categorical:
        shares = pd.Series(reference, dtype=object).fillna(MISSING).value_counts(normalize=True, sort=False)
        values, weights = [str(v) for v in shares.index], shares.to_numpy()
        if unseen:
            weights = np.append(weights * (1 - HOLDOUT), np.full(len(unseen), HOLDOUT / len(unseen)))
            values += list(unseen)
        return {"values": values, "weights": weights.tolist()}
    present = reference[~np.isnan(reference)]
    if not len(present):
        return None
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant column: one narrow bin around it
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    counts, _ = np.histogram(present, bins=edges)
    return {"bins": edges.tolist(), "weights": (counts / counts.sum()).tolist()}


def kl_divergences(reference: Mapping[str, np.ndarray], current: Mapping[str, np.ndarray],
                   specs: Sequence[InputSpec], threshold: float, bins: int) -> dict[str, float]:
    """Per column present in both, GX's KL divergence of the current values from the reference."""
    import great_expectations as gx

    from traincycle.validate import _context

    context = _context()  # before the suite: GX wants an active context to add expectations
    frame: dict[str, Any] = {}
    suite = gx.ExpectationSuite(name="traincycle:monitor")
    for spec in specs:
        if spec.name not in reference or spec.name not in current:
            continue
        values = current[spec.name]
        holdout: dict[str, float] = {}
        unseen: list[str] = []
        if spec.is_categorical:
            values = pd.Series(values, dtype=object).fillna(MISSING).astype(str)
            known = set(pd.Series(reference[spec.name], dtype=object).fillna(MISSING).astype(str))
            unseen = sorted(set(values) - known)
        else:
            holdout = {"internal_weight_holdout": HOLDOUT, "tail_weight_holdout": HOLDOUT}
        part = partition(reference[spec.name], spec, bins, unseen)
        if part is None:
            continue
        frame[spec.name] = values
        suite.add_expectation(gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
            column=spec.name, partition_object=part, threshold=threshold, **holdout))
    if not frame:
        return {}
    suite = context.suites.add(suite)
    asset = context.data_sources.add_pandas("monitor").add_dataframe_asset("current")
    definition = context.validation_definitions.add(gx.ValidationDefinition(
        name="monitor", suite=suite, data=asset.add_batch_definition_whole_dataframe("current")))
    result = definition.run(batch_parameters={"dataframe": pd.DataFrame(frame)})
    out = {}
    for res in result.results:
        observed = res.result.get("observed_value")
        if observed is not None:
            out[res.expectation_config.kwargs["column"]] = float(observed)
    return out
