"""One small, readable, deterministic torch training loop with early stopping.

Optimisers Adam/AdamW/SGD+momentum; schedulers step/cosine/one-cycle/reduce-on-plateau;
gradient accumulation and clipping; early stopping that restores the best weights.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
from collections.abc import Callable
from typing import Any, Literal

from traincycle.config import check_range
from traincycle.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class StepLR:
    """Multiply the lr by `gamma` every `step_size` epochs."""

    step_size: int = 10
    gamma: float = 0.5

    def __post_init__(self) -> None:
        check_range("train.mlp.step.step_size", self.step_size, 1)
        check_range("train.mlp.step.gamma", self.gamma, 0.0, 1.0, low_open=True)


@dataclasses.dataclass(frozen=True)
class CosineLR:
    """Cosine decay to `eta_min` over `t_max` epochs (0: all epochs)."""

    t_max: int = 0
    eta_min: float = 0.0

    def __post_init__(self) -> None:
        check_range("train.mlp.cosine.t_max", self.t_max, 0)
        check_range("train.mlp.cosine.eta_min", self.eta_min, 0.0)


@dataclasses.dataclass(frozen=True)
class OneCycleLR:
    """Warm up to `max_lr` for `pct_start` of the steps, then anneal (stepped per batch)."""

    max_lr: float = 0.01
    pct_start: float = 0.3

    def __post_init__(self) -> None:
        check_range("train.mlp.one_cycle.max_lr", self.max_lr, 0.0, low_open=True)
        check_range("train.mlp.one_cycle.pct_start", self.pct_start, 0.0, 1.0, low_open=True, high_open=True)


@dataclasses.dataclass(frozen=True)
class PlateauLR:
    """Multiply the lr by `factor` when the val loss stalls for `patience` epochs."""

    factor: float = 0.5
    patience: int = 3

    def __post_init__(self) -> None:
        check_range("train.mlp.plateau.factor", self.factor, 0.0, 1.0, low_open=True, high_open=True)
        check_range("train.mlp.plateau.patience", self.patience, 0)


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """Optimisation settings of the torch loop (flat, so `-S train.mlp.lr=0.003` works)."""

    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0001
    batch_size: int = 256
    epochs: int = 60
    scheduler: Literal["none", "step", "cosine", "one_cycle", "plateau"] = "none"
    step: StepLR | None = None
    cosine: CosineLR | None = None
    one_cycle: OneCycleLR | None = None
    plateau: PlateauLR | None = None
    #: batches whose gradients are summed before one optimiser step
    grad_accum: int = 1
    #: max gradient norm (0: no clipping)
    clip_norm: float = 0.0
    #: epochs without val-loss improvement before stopping (0: never stop early)
    patience: int = 8
    num_threads: int = 1
    device: Literal["cpu", "cuda", "auto"] = "cpu"

    def __post_init__(self) -> None:
        check_range("train.mlp.lr", self.lr, 0.0, low_open=True)
        check_range("train.mlp.momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_range("train.mlp.weight_decay", self.weight_decay, 0.0)
        check_range("train.mlp.batch_size", self.batch_size, 1)
        check_range("train.mlp.epochs", self.epochs, 1)
        check_range("train.mlp.grad_accum", self.grad_accum, 1)
        check_range("train.mlp.clip_norm", self.clip_norm, 0.0)
        check_range("train.mlp.patience", self.patience, 0)
        check_range("train.mlp.num_threads", self.num_threads, 1)
        if self.scheduler != "none" and getattr(self, self.scheduler) is None:
            raise ConfigError(
                f"params train.mlp.scheduler: {self.scheduler!r} needs its params "
                f"in train.mlp.{self.scheduler}"
            )


@dataclasses.dataclass
class LoopResult:
    """What the loop learned: the best epoch and per-epoch curves."""

    best_epoch: int
    history: list[dict[str, float]]


def seed_everything(seed: int, num_threads: int) -> None:
    """Make torch deterministic: seeds, deterministic kernels, a fixed thread count."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(num_threads)


def pick_device(name: str) -> Any:
    """cpu, cuda, or auto (cuda when present)."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params train.mlp.device: cuda requested but no CUDA device is available")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def make_optimizer(params: Any, cfg: TrainerConfig) -> Any:
    """Adam, AdamW or SGD with momentum."""
    import torch

    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    kind = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt: Any, cfg: TrainerConfig, steps_per_epoch: int) -> Any:
    """The configured lr scheduler, or None."""
    from torch.optim import lr_scheduler as sched

    if cfg.scheduler == "step" and cfg.step:
        return sched.StepLR(opt, cfg.step.step_size, cfg.step.gamma)
    if cfg.scheduler == "cosine" and cfg.cosine:
        return sched.CosineAnnealingLR(opt, cfg.cosine.t_max or cfg.epochs, cfg.cosine.eta_min)
    if cfg.scheduler == "one_cycle" and cfg.one_cycle:
        total = cfg.epochs * steps_per_epoch + 1  # the last step after the final batch stays in range
        return sched.OneCycleLR(
            opt, cfg.one_cycle.max_lr, total_steps=total, pct_start=cfg.one_cycle.pct_start
        )
    if cfg.scheduler == "plateau" and cfg.plateau:
        return sched.ReduceLROnPlateau(opt, factor=cfg.plateau.factor, patience=cfg.plateau.patience)
    return None


def show_progress() -> bool:
    """A progress bar only on an interactive terminal, never under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def fit(
    module: Any,
    train: Any,
    val: Any,
    loss_fn: Callable[[Any, Any], Any],
    cfg: TrainerConfig,
    seed: int,
    evaluate: Callable[[Any, Any], dict[str, float]],
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> LoopResult:
    """Train `module` on the `train` TensorDataset; early-stop on val loss; restore the best weights.

    `evaluate(module, dataset)` returns {"loss": .., <metric>: ..} in eval mode; it is called on
    train and val after every epoch, so curves compare like with like (no dropout).
    `progress(epoch, row)` sees each epoch's curve row (a tune trial's pruner may stop the loop).
    """
    import torch
    from torch.utils.data import DataLoader

    seed_everything(seed, cfg.num_threads)
    device = pick_device(cfg.device)
    module.to(device)
    # one-row last batches break batch norm; dropping them keeps the loop simple
    loader = DataLoader(
        train,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=len(train) % cfg.batch_size == 1,
        generator=torch.Generator().manual_seed(seed),
    )
    steps = math.ceil(len(loader) / cfg.grad_accum)
    opt = make_optimizer(module.parameters(), cfg)
    scheduler = make_scheduler(opt, cfg, steps)
    epochs = range(cfg.epochs)
    if show_progress():
        from tqdm import tqdm

        epochs = tqdm(epochs, desc="train", unit="epoch")
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, waited = math.inf, 0, copy.deepcopy(module.state_dict()), 0
    for epoch in epochs:
        module.train()
        for i, (xb, yb) in enumerate(loader):
            loss = loss_fn(module(xb.to(device)), yb.to(device))
            (loss / cfg.grad_accum).backward()  # summed over accum batches = one bigger batch
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(loader):
                if cfg.clip_norm:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.clip_norm)
                opt.step()
                opt.zero_grad()
                if cfg.scheduler == "one_cycle":
                    scheduler.step()
        tr, va = evaluate(module, train), evaluate(module, val)
        history.append(
            {
                **{f"train/{k}": v for k, v in tr.items()},
                **{f"val/{k}": v for k, v in va.items()},
                "lr": opt.param_groups[0]["lr"],
            }
        )
        if progress is not None:
            progress(epoch, history[-1])
        if scheduler is not None and cfg.scheduler != "one_cycle":
            scheduler.step(va["loss"]) if cfg.scheduler == "plateau" else scheduler.step()
        if va["loss"] < best_loss:
            best_loss, best_epoch, best_state, waited = (
                va["loss"],
                epoch,
                copy.deepcopy(module.state_dict()),
                0,
            )
        else:
            waited += 1
            if cfg.patience and waited >= cfg.patience:
                break
    module.load_state_dict(best_state)
    module.to("cpu")
    return LoopResult(best_epoch, history)
