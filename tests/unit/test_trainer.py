"""The torch loop: early stopping restores the best weights, accumulation, schedulers, config."""

from __future__ import annotations

import dataclasses

import pytest

from traincycle.config import build
from traincycle.errors import ConfigError
from traincycle.trainer import TrainerConfig, fit

torch = pytest.importorskip("torch")


def regression_data(n: int, seed: int) -> tuple:
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def evaluate(module, data) -> dict[str, float]:
    xs, ys = data.tensors
    module.eval()
    with torch.no_grad():
        return {"loss": float(torch.nn.functional.mse_loss(module(xs), ys))}


def run(cfg: TrainerConfig, seed: int = 0, train=None, val=None):
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 1)
    result = fit(
        net,
        train or regression_data(64, 1),
        val or regression_data(32, 2),
        torch.nn.MSELoss(),
        cfg,
        seed,
        evaluate,
    )
    return net, result


def config(**kw) -> TrainerConfig:
    return dataclasses.replace(TrainerConfig(), **kw)


def test_early_stopping_restores_best_weights() -> None:
    # a huge lr makes val loss explode after the first epochs; patience stops it
    cfg = config(optimizer="sgd", lr=0.6, momentum=0.0, epochs=30, patience=3, batch_size=8)
    net, result = run(cfg)
    val_losses = [row["val/loss"] for row in result.history]
    assert len(val_losses) < 30
    assert result.best_epoch == min(range(len(val_losses)), key=val_losses.__getitem__)
    assert evaluate(net, regression_data(32, 2))["loss"] == pytest.approx(val_losses[result.best_epoch])


def test_accumulation_equals_bigger_batch() -> None:
    # no shuffling effect: one batch per epoch either way (64 rows = 4 x 16 accumulated, or 1 x 64)
    big, _ = run(config(optimizer="sgd", lr=0.05, momentum=0.0, epochs=5, patience=0, batch_size=64))
    acc, _ = run(
        config(optimizer="sgd", lr=0.05, momentum=0.0, epochs=5, patience=0, batch_size=16, grad_accum=4)
    )
    for a, b in zip(big.parameters(), acc.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("scheduler", "params", "check"),
    [
        ("step", {"step_size": 2, "gamma": 0.5}, lambda lrs: lrs[2] == pytest.approx(lrs[0] * 0.5)),
        ("cosine", {"t_max": 0, "eta_min": 0.0}, lambda lrs: lrs[-1] < lrs[0] / 2),
        ("one_cycle", {"max_lr": 0.1, "pct_start": 0.3}, lambda lrs: max(lrs) > 0.05 and lrs[-1] < 0.01),
        ("plateau", {"factor": 0.5, "patience": 0}, lambda lrs: min(lrs) <= 0.05),
    ],
)
def test_schedulers_change_the_lr(scheduler: str, params: dict, check) -> None:
    cfg = build(
        TrainerConfig,
        {
            "lr": 0.1,
            "epochs": 6,
            "patience": 0,
            "optimizer": "sgd",
            "scheduler": scheduler,
            scheduler: params,
        },
        "train.mlp",
    )
    _, result = run(cfg)
    lrs = [row["lr"] for row in result.history]
    assert check(lrs), lrs


def test_scheduler_without_params_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"train\.mlp\.cosine"):
        build(TrainerConfig, {"scheduler": "cosine"}, "train.mlp")


@pytest.mark.parametrize("bad", [{"lr": -0.1}, {"lr": "fast"}, {"batch_size": 0}, {"optimizer": "lion"}])
def test_bad_trainer_params_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError, match=r"train\.mlp\."):
        build(TrainerConfig, bad, "train.mlp")


def test_same_seed_same_weights() -> None:
    cfg = config(epochs=4, batch_size=8, patience=0)
    a, _ = run(cfg, seed=3)
    b, _ = run(cfg, seed=3)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(x, y)


def test_clipping_bounds_the_update() -> None:
    cfg = config(
        optimizer="sgd",
        lr=1.0,
        momentum=0.0,
        epochs=1,
        patience=0,
        batch_size=64,
        clip_norm=0.01,
        weight_decay=0.0,
    )
    torch.manual_seed(0)
    before = [p.detach().clone() for p in torch.nn.Linear(4, 1).parameters()]
    net, _ = run(cfg)
    with torch.no_grad():
        step = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(net.parameters(), before, strict=True)))
    assert float(step) <= 0.01 + 1e-5
