"""A small convolutional network for images, trained by the same loop as the MLP.

Input: the ``px_<i>`` feature columns of an image featurizer (normalised pixels, height x
width x channels flattened). The network reshapes them, augments them while training (random
shifts, small rotations, optional flips, random erasing — torch tensor ops, seeded through
torch's generator), then runs conv–BN–ReLU blocks with max pooling, global average pooling,
dropout and a linear head. Augmentation is an identity in eval mode, so the exported graph and
every prediction see the image as it is.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.errors import ConfigError
from traincycle.models.base import Fit, FitSpec
from traincycle.models.mlp import export_onnx, make_evaluator, predict_proba, save
from traincycle.trainer import CosineLR, TrainerConfig

__all__ = ["INT8_OPS", "QAT", "TASKS", "CNNConfig", "export_onnx", "fit", "load", "predict_proba",
           "predict_values", "save"]

TASKS = ("binary", "multiclass")
#: the data modality this family needs (families without it take any float features)
MODALITY = "image"
WEIGHTS = "model.safetensors"
#: the params key setting its thread count (tune --jobs pins it to a trial's cores)
THREADS = "num_threads"
#: int8 quantisation covers the conv layers too
INT8_OPS = ("MatMul", "Gemm", "Conv")
#: optimize.qat applies (its Linear layers; convolutions stay as trained)
QAT = True


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """train.cnn.augment: what the training loop varies (all off: plain training)."""

    #: largest shift, as a fraction of the image side
    shift: float = 0.1
    #: largest rotation in degrees
    rotate: float = 10.0
    #: random horizontal flips (never for digits or text: a flipped 2 is not a 2)
    flip: bool = False
    #: probability of erasing one random rectangle per image
    erase: float = 0.1
    #: erased rectangle side, as a fraction of the image side
    erase_size: float = 0.25

    def __post_init__(self) -> None:
        check_range("train.cnn.augment.shift", self.shift, 0.0, 0.5)
        check_range("train.cnn.augment.rotate", self.rotate, 0.0, 180.0)
        check_range("train.cnn.augment.erase", self.erase, 0.0, 1.0)
        check_range("train.cnn.augment.erase_size", self.erase_size, 0.0, 1.0, low_open=True)


@dataclasses.dataclass(frozen=True)
class CNNConfig(TrainerConfig):
    """train.cnn: architecture, augmentation and the trainer's optimisation settings."""

    #: output channels of each conv block (each block halves height and width)
    #: three blocks leave 3x3 of a 28x28 image for the global pooling (two left 7x7 and underfit)
    channels: tuple[int, ...] = (32, 64, 128)
    #: conv–BN–ReLU layers per block
    convs_per_block: int = 1
    dropout: float = 0.25
    batch_size: int = 64
    lr: float = 0.003
    epochs: int = 15
    patience: int = 5
    scheduler: Literal["none", "step", "cosine", "one_cycle", "plateau"] = "cosine"
    cosine: CosineLR | None = dataclasses.field(default_factory=CosineLR)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.channels:
            raise ConfigError("params train.cnn.channels: expected at least one block")
        for width in self.channels:
            check_range("train.cnn.channels[]", width, 1)
        check_range("train.cnn.convs_per_block", self.convs_per_block, 1, 4)
        check_range("train.cnn.dropout", self.dropout, 0.0, 1.0, high_open=True)


def build_network(arch: dict[str, Any]) -> Any:
    """The CNN described by `arch` (shape, channels, convs_per_block, dropout, augment, n_outputs)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Augment(nn.Module):
        """Random affine (shift + rotation), flips and erasing; identity in eval mode."""

        def __init__(self, cfg: dict[str, Any]) -> None:
            super().__init__()
            self.cfg = cfg

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            cfg = self.cfg
            if not self.training:
                return x
            n, _, h, w = x.shape
            dev = x.device
            if cfg["shift"] or cfg["rotate"]:
                angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(cfg["rotate"])
                # affine_grid works in [-1, 1] coordinates: a shift of f of the side is 2f
                tx = (torch.rand(n, device=dev) * 2 - 1) * 2 * cfg["shift"]
                ty = (torch.rand(n, device=dev) * 2 - 1) * 2 * cfg["shift"]
                cos, sin = angle.cos(), angle.sin()
                theta = torch.stack(
                    [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
                )
                grid = F.affine_grid(theta, list(x.shape), align_corners=False)
                # border padding repeats the background instead of inventing a black frame
                x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
            if cfg["flip"]:
                flip = torch.rand(n, device=dev) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            if cfg["erase"]:
                eh, ew = max(1, round(h * cfg["erase_size"])), max(1, round(w * cfg["erase_size"]))
                top = torch.randint(0, h - eh + 1, (n,), device=dev)
                left = torch.randint(0, w - ew + 1, (n,), device=dev)
                on = torch.rand(n, device=dev) < cfg["erase"]
                rows = torch.arange(h, device=dev)[None, :]
                cols = torch.arange(w, device=dev)[None, :]
                in_rows = (rows >= top[:, None]) & (rows < top[:, None] + eh)
                in_cols = (cols >= left[:, None]) & (cols < left[:, None] + ew)
                mask = in_rows[:, :, None] & in_cols[:, None, :] & on[:, None, None]
                x = x.masked_fill(mask[:, None, :, :], 0.0)  # 0 = the train mean after normalising
            return x

    class ImageNet(nn.Module):
        """flat pixels -> (N, C, H, W) -> augment -> conv blocks -> global average pool -> head."""

        def __init__(self) -> None:
            super().__init__()
            self.shape = tuple(arch["shape"])
            height, width, channels = self.shape
            self.augment = Augment(arch["augment"])
            layers: list[nn.Module] = []
            size, width_in = min(height, width), channels
            for out in arch["channels"]:
                for _ in range(arch["convs_per_block"]):
                    layers += [
                        nn.Conv2d(width_in, out, 3, padding=1, bias=False),
                        nn.BatchNorm2d(out),
                        nn.ReLU(),
                    ]
                    width_in = out
                if size >= 2:  # tiny inputs (8x8 digits) run out of pixels to pool
                    layers.append(nn.MaxPool2d(2))
                    size //= 2
            self.features = nn.Sequential(*layers)
            self.dropout = nn.Dropout(arch["dropout"])
            self.head = nn.Linear(width_in, arch["n_outputs"])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            height, width, channels = self.shape
            x = x.reshape(-1, height, width, channels).permute(0, 3, 1, 2)
            x = self.features(self.augment(x))
            return self.head(self.dropout(x.mean(dim=(2, 3))))

    return ImageNet()


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: CNNConfig, spec: FitSpec
) -> Fit:
    """Train with augmentation and early stopping on val loss; the best epoch's weights are kept."""
    import torch
    from torch.utils.data import TensorDataset

    from traincycle import trainer

    if len(spec.input_shape) != 3 or int(np.prod(spec.input_shape)) != X.shape[1]:
        raise ConfigError(
            "params train.model: cnn needs image features (data.modality: image); "
            f"got {X.shape[1]} feature columns without an image shape"
        )
    arch = {
        "task": spec.task,
        "shape": list(spec.input_shape),
        "channels": list(cfg.channels),
        "convs_per_block": cfg.convs_per_block,
        "dropout": cfg.dropout,
        "augment": dataclasses.asdict(cfg.augment),
        "n_outputs": spec.n_classes,
    }
    trainer.seed_everything(spec.seed, cfg.num_threads)  # weight init is seeded too
    net = build_network(arch)
    weight = None
    if spec.class_weight == "balanced":
        counts = np.maximum(np.bincount(y, minlength=spec.n_classes), 1)
        weight = torch.tensor(len(y) / (spec.n_classes * counts), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    train = TensorDataset(torch.tensor(X), torch.tensor(y))  # copies: parquet arrays are read-only
    val = TensorDataset(torch.tensor(X_val), torch.tensor(y_val))
    result = trainer.fit(net, train, val, loss_fn, cfg, spec.seed, make_evaluator(loss_fn, spec.task),
                         spec.progress)
    net.eval()
    net.traincycle_arch = arch  # save() writes it into model.json
    n_params = sum(p.numel() for p in net.parameters())
    return Fit(net, int(n_params), result.best_epoch, result.history, {"architecture": arch})


def load(directory: Path, meta: dict[str, Any]) -> Any:
    """Rebuild the network from model.json and load its safetensors weights."""
    from safetensors.torch import load_file

    net = build_network(meta["architecture"])
    net.load_state_dict(load_file(str(directory / meta.get("weights", WEIGHTS))))
    net.traincycle_arch = meta["architecture"]
    return net.eval()


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Classification only: the most likely class index."""
    return predict_proba(native, X).argmax(axis=1)
