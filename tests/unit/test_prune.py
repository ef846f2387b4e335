"""Pruning: magnitude sparsity, structured neuron removal, tree trimming (the tree families' hooks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from traincycle.models.mlp import build_network
from traincycle.prune import (
    PruneConfig,
    finetune,
    linear_layers,
    prune_magnitude,
    prune_structured,
    sparsity,
)


def net(batch_norm: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network({"n_inputs": 6, "hidden": [10, 8], "n_outputs": 2, "dropout": 0.0,
                          "batch_norm": batch_norm, "activation": "relu", "task": "binary"}).eval()


def test_magnitude_zeroes_the_smallest_weights_and_finetune_keeps_them_zero() -> None:
    original = net()
    pruned, masks = prune_magnitude(original, 0.5)
    assert sparsity(pruned) == pytest.approx(0.5, abs=0.01)
    assert sparsity(original) == 0.0  # the input is untouched
    kept = torch.cat([m.weight.abs().reshape(-1) for m in linear_layers(pruned)])
    pairs = zip(linear_layers(original), linear_layers(pruned), strict=True)
    dropped_max = torch.cat([o.weight.abs().reshape(-1)[~masks[p].reshape(-1)] for o, p in pairs]).max()
    assert kept[kept > 0].min() >= dropped_max
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 6)).astype(np.float32), rng.integers(0, 2, 64)
    tuned = finetune(pruned, X, y, "binary", PruneConfig(finetune_epochs=2, finetune_batch_size=16), 0, masks)
    assert sparsity(tuned) >= 0.5 - 0.01


@pytest.mark.parametrize("batch_norm", [False, True])
def test_structured_removes_whole_neurons_and_keeps_the_interface(batch_norm: bool) -> None:
    original = net(batch_norm)
    pruned = prune_structured(original, 0.5)
    widths = [(m.in_features, m.out_features) for m in linear_layers(pruned)]
    assert widths == [(6, 5), (5, 4), (4, 2)]
    out = pruned(torch.randn(3, 6))
    assert out.shape == (3, 2)
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in original.parameters())


def test_trim_trees_keeps_the_first_trees() -> None:
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier

    from traincycle.models import boosting
    from traincycle.models import forest as forest_family

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 4)).astype(np.float32), rng.integers(0, 2, 120)
    booster = xgb.XGBClassifier(n_estimators=10, max_depth=2, random_state=0).fit(X, y)
    trimmed = boosting.trim(booster, "binary", 4)
    assert boosting.n_trees(trimmed) == 4 and boosting.n_trees(booster) == 10
    np.testing.assert_allclose(trimmed.predict_proba(X),
                               booster.predict_proba(X, iteration_range=(0, 4)), rtol=1e-6)
    forest = RandomForestClassifier(n_estimators=6, random_state=0).fit(X, y)
    assert forest_family.n_trees(forest_family.trim(forest, "binary", 2)) == 2
