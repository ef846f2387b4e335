"""Pruning: zero or remove the least important MLP weights/neurons, or keep fewer trees.

* ``magnitude`` (unstructured): the smallest-magnitude fraction of all Linear weights is set to
  zero. The dense ONNX file keeps the zeros, so size only shrinks once compressed or quantised.
* ``structured``: the hidden neurons with the smallest incoming-weight norm are removed whole,
  shrinking the Linear (and BatchNorm) layers around them, so the file gets smaller and faster.
* trees: an xgboost model keeps its first rounds, a random forest its first estimators.

An optional short fine-tune on train recovers some of the loss (pruned weights stay zero).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PruneConfig:
    """What to prune and how much."""

    enabled: bool = True
    #: MLP: magnitude (unstructured, zeroed weights) or structured (whole neurons removed)
    kind: Literal["magnitude", "structured"] = "structured"
    #: MLP: fraction of weights (magnitude) or hidden neurons (structured) to prune
    amount: float = 0.3
    #: MLP: epochs of fine-tuning on train after pruning (0: none)
    finetune_epochs: int = 2
    finetune_lr: float = 0.001
    finetune_batch_size: int = 256
    #: trees: keep these fractions of the trees (each one a variant)
    tree_fractions: tuple[float, ...] = (0.5, 0.75)

    def __post_init__(self) -> None:
        check_range("optimize.prune.amount", self.amount, 0.0, 1.0, high_open=True)
        check_range("optimize.prune.finetune_epochs", self.finetune_epochs, 0)
        check_range("optimize.prune.finetune_lr", self.finetune_lr, 0.0, low_open=True)
        check_range("optimize.prune.finetune_batch_size", self.finetune_batch_size, 1)
        for i, frac in enumerate(self.tree_fractions):
            check_range(f"optimize.prune.tree_fractions[{i}]", frac, 0.0, 1.0, low_open=True,
                        high_open=True)


# --------------------------------------------------------------------------- MLP


def linear_layers(net: Any) -> list[Any]:
    """The Linear layers of `net` in forward (registration) order."""
    import torch

    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)]


def prune_magnitude(net: Any, amount: float) -> tuple[Any, dict[str, Any]]:
    """A copy of `net` with the smallest `amount` of all Linear weights (globally) set to zero.

    Returns the copy and the masks (weight -> bool keep mask) for fine-tuning.
    """
    import torch

    net = copy.deepcopy(net)
    layers = linear_layers(net)
    magnitudes = torch.cat([layer.weight.detach().abs().reshape(-1) for layer in layers])
    k = round(amount * magnitudes.numel())
    if k == 0:
        return net, {}
    # ties broken by position, so the same weights go on every run
    order = torch.argsort(magnitudes, stable=True)
    keep_flat = torch.ones_like(magnitudes, dtype=torch.bool)
    keep_flat[order[:k]] = False
    masks, start = {}, 0
    with torch.no_grad():
        for layer in layers:
            n = layer.weight.numel()
            mask = keep_flat[start:start + n].reshape(layer.weight.shape)
            layer.weight.mul_(mask)
            masks[layer] = mask
            start += n
    return net, masks


def prune_structured(net: Any, amount: float) -> Any:
    """A copy of `net` with `amount` of each hidden layer's neurons removed (smallest L2 norm).

    Assumes the Linear layers run in order with only element-wise modules (activations,
    dropout, BatchNorm1d) between them, as in a plain MLP.
    """
    import torch

    net = copy.deepcopy(net)
    modules = [m for m in net.modules() if not list(m.children())]
    linears = [i for i, m in enumerate(modules) if isinstance(m, torch.nn.Linear)]
    for pos, nxt in itertools.pairwise(linears):
        layer, following = modules[pos], modules[nxt]
        if following.in_features != layer.out_features:
            raise ConfigError("optimize.prune.kind structured: the MLP's layers are not a plain chain")
        n_keep = max(1, layer.out_features - round(amount * layer.out_features))
        norms = layer.weight.detach().norm(dim=1)
        keep = torch.sort(torch.argsort(norms, descending=True, stable=True)[:n_keep]).values
        _slice_linear(layer, rows=keep)
        for between in modules[pos + 1:nxt]:
            if isinstance(between, torch.nn.BatchNorm1d):
                _slice_batchnorm(between, keep)
        _slice_linear(following, cols=keep)
    return net


def _slice_linear(layer: Any, rows: Any = None, cols: Any = None) -> None:
    import torch

    with torch.no_grad():
        weight = layer.weight
        if rows is not None:
            weight = weight[rows]
            if layer.bias is not None:
                layer.bias = torch.nn.Parameter(layer.bias[rows].clone())
            layer.out_features = len(rows)
        if cols is not None:
            weight = weight[:, cols]
            layer.in_features = len(cols)
        layer.weight = torch.nn.Parameter(weight.clone())


def _slice_batchnorm(bn: Any, keep: Any) -> None:
    import torch

    with torch.no_grad():
        if bn.affine:
            bn.weight = torch.nn.Parameter(bn.weight[keep].clone())
            bn.bias = torch.nn.Parameter(bn.bias[keep].clone())
        if bn.track_running_stats:
            bn.running_mean = bn.running_mean[keep].clone()
            bn.running_var = bn.running_var[keep].clone()
        bn.num_features = len(keep)


def finetune(
    net: Any, X: np.ndarray, y: np.ndarray, task: str, cfg: PruneConfig, seed: int,
    masks: dict[Any, Any] | None = None,
) -> Any:
    """A few seeded epochs of Adam on train; masked (pruned) weights are kept at zero."""
    import torch

    if cfg.finetune_epochs == 0:
        return net
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if task == "regression":
        target = torch.from_numpy(np.array(y, dtype=np.float32))
    else:
        target = torch.from_numpy(np.array(y, dtype=np.int64))
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.finetune_lr)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(cfg.finetune_epochs):
        order = torch.randperm(len(features), generator=generator)
        for start in range(0, len(order), cfg.finetune_batch_size):
            idx = order[start:start + cfg.finetune_batch_size]
            optimizer.zero_grad()
            loss = _loss(net(features[idx]), target[idx], task)
            loss.backward()
            optimizer.step()
            if masks:
                with torch.no_grad():
                    for layer, mask in masks.items():
                        layer.weight.mul_(mask)
    return net.eval()


def _loss(out: Any, target: Any, task: str) -> Any:
    import torch.nn.functional as f

    if task == "regression":
        return f.mse_loss(out.reshape(-1), target)
    if out.shape[1] == 1:
        return f.binary_cross_entropy_with_logits(out.reshape(-1), target.float())
    return f.cross_entropy(out, target)


def sparsity(net: Any) -> float:
    """Share of Linear weights that are exactly zero."""
    layers = linear_layers(net)
    total = sum(layer.weight.numel() for layer in layers)
    zeros = sum(int((layer.weight == 0).sum()) for layer in layers)
    return zeros / max(total, 1)
