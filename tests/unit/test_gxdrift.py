"""KL divergence per column by Great Expectations' ExpectColumnKLDivergenceToBeLessThan: small for
a sample of the same distribution, large for a shifted one, finite with unseen categories."""

from __future__ import annotations

import numpy as np

from traincycle.gxdrift import kl_divergences, partition
from traincycle.inputs import InputSpec

SPECS = [InputSpec("age", "numeric", "float64"), InputSpec("race", "categorical", "str")]


def test_kl_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    race = np.array(["White", "Black", "Asian", None], dtype=object)
    reference = {"age": rng.normal(40, 10, 5000), "race": rng.choice(race, 5000, p=[.6, .2, .1, .1])}
    same = {"age": rng.normal(40, 10, 2000), "race": rng.choice(race, 2000, p=[.6, .2, .1, .1])}
    moved = {"age": rng.normal(55, 10, 2000),
             "race": rng.choice(np.array(["White", "Martian"], dtype=object), 2000)}
    low = kl_divergences(reference, same, SPECS, 0.5, 10)
    high = kl_divergences(reference, moved, SPECS, 0.5, 10)
    assert set(low) == set(high) == {"age", "race"}
    assert low["age"] < 0.05 and low["race"] < 0.05
    assert high["age"] > 0.5 and np.isfinite(high["race"]) and high["race"] > 0.5


def test_partition_objects() -> None:
    numbers = partition(np.array([1.0, 2.0, 3.0, 4.0, np.nan]), SPECS[0], 2)
    assert numbers["bins"] == [1.0, 2.5, 4.0] and numbers["weights"] == [0.5, 0.5]
    assert partition(np.array([np.nan]), SPECS[0], 10) is None
    assert partition(np.array([7.0, 7.0]), SPECS[0], 10)["bins"] == [6.5, 7.5]
    cats = partition(np.array(["a", None, "a", "b"], dtype=object), SPECS[1], 10)
    assert dict(zip(cats["values"], cats["weights"], strict=True)) == {"a": 0.5, "(missing)": 0.25, "b": 0.25}
