"""Quantisation-aware training for torch networks (mlp, cnn) with torchao, shipped as int8 ONNX.

`torch.ao.quantization` is deprecated; torchao's QAT is its maintained successor. Its
`QATConfig(step="prepare")` swaps every `nn.Linear` for a fake-quantised one (int8 symmetric
per-channel weights, int8 asymmetric per-token activations), a few seeded epochs fine-tune
the trained network through the rounding, and `step="convert"` swaps plain `nn.Linear` back
with the adapted weights. The network is then exported like any other and quantised by
onnxruntime's static int8 (QDQ, per-channel weights, the same calibration rows as
post-training static int8), so the two int8 graphs differ only in their weights and the
parity gate compares them on equal terms. torchao's QAT covers Linear layers (convolutions
stay as trained); onnxruntime's int8 here quantises MatMul/Gemm only anyway.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from traincycle.config import check_range


@dataclasses.dataclass(frozen=True)
class QATConfig:
    """Params `optimize.qat`."""

    enabled: bool = True
    epochs: int = 2
    lr: float = 0.0005
    batch_size: int = 256

    def __post_init__(self) -> None:
        check_range("optimize.qat.epochs", self.epochs, 1)
        check_range("optimize.qat.lr", self.lr, 0.0, low_open=True)
        check_range("optimize.qat.batch_size", self.batch_size, 1)


def qat_finetune(net: Any, X: np.ndarray, y: np.ndarray, task: str, cfg: QATConfig, seed: int) -> Any:
    """A copy of `net` fine-tuned with int8 fake quantisation, converted back to float Linear layers."""
    import logging

    import torch

    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)  # torchao's import-time notices
    from torchao.quantization import quantize_
    from torchao.quantization.qat import IntxFakeQuantizeConfig
    from torchao.quantization.qat import QATConfig as TorchaoQAT

    from traincycle.prune import PruneConfig, finetune

    net = copy.deepcopy(net)
    activations = IntxFakeQuantizeConfig(torch.int8, "per_token", is_symmetric=False)
    weights = IntxFakeQuantizeConfig(torch.int8, "per_channel", is_symmetric=True)
    quantize_(net, TorchaoQAT(activation_config=activations, weight_config=weights, step="prepare"))
    schedule = PruneConfig(finetune_epochs=cfg.epochs, finetune_lr=cfg.lr, finetune_batch_size=cfg.batch_size)
    net = finetune(net, X, y, task, schedule, seed)
    quantize_(net, TorchaoQAT(step="convert"))
    return net.eval()
