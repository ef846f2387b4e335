"""A multi-layer perceptron in torch, trained by traincycle.trainer.

Input standardisation (train mean/std) is the first layer and, for regression, the target
scale the last one, both stored as buffers in the state_dict: the saved network takes raw
featurizer output and returns values on the target's scale, which keeps ONNX export whole.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np

from traincycle.config import check_range
from traincycle.models.base import Fit, FitSpec, main_metric, score
from traincycle.trainer import TrainerConfig

TASKS = ("binary", "multiclass", "regression")
#: fewer train rows than this makes this family's fit unreliable (fit diagnosis)
MIN_TRAIN_ROWS = 5000
#: the params key setting its thread count (tune --jobs pins it to a trial's cores)
THREADS = "num_threads"
WEIGHTS = "model.safetensors"
#: optimize.qat applies: the torch network is fine-tuned through fake int8 on feature rows
QAT = True


@dataclasses.dataclass(frozen=True)
class MLPConfig(TrainerConfig):
    """train.mlp: architecture plus the trainer's optimisation settings."""

    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    batch_norm: bool = False
    activation: Literal["relu", "gelu", "tanh"] = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("train.mlp.dropout", self.dropout, 0.0, 1.0, high_open=True)
        for width in self.hidden:
            check_range("train.mlp.hidden[]", width, 1)


def build_network(arch: dict[str, Any]) -> Any:
    """nn.Sequential: standardise -> [Linear, (BatchNorm), activation, Dropout] x hidden -> Linear."""
    import torch
    from torch import nn

    class Affine(nn.Module):
        """x * scale + shift with fixed (buffer) parameters."""

        def __init__(self, width: int) -> None:
            super().__init__()
            self.register_buffer("scale", torch.ones(width))
            self.register_buffer("shift", torch.zeros(width))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale + self.shift

    act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[arch["activation"]]
    layers: list[nn.Module] = [Affine(arch["n_inputs"])]
    width = arch["n_inputs"]
    for out in arch["hidden"]:
        layers.append(nn.Linear(width, out))
        if arch["batch_norm"]:
            layers.append(nn.BatchNorm1d(out))
        layers += [act(), nn.Dropout(arch["dropout"])]
        width = out
    layers.append(nn.Linear(width, arch["n_outputs"]))
    if arch["task"] == "regression":
        layers.append(Affine(arch["n_outputs"]))
    return nn.Sequential(*layers)


def fit(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: MLPConfig, spec: FitSpec
) -> Fit:
    """Train with early stopping on val loss; the best epoch's weights are kept."""
    import torch
    from torch.utils.data import TensorDataset

    from traincycle import trainer

    regression = spec.task == "regression"
    arch = {
        "task": spec.task,
        "n_inputs": X.shape[1],
        "hidden": list(cfg.hidden),
        "n_outputs": 1 if regression else spec.n_classes,
        "dropout": cfg.dropout,
        "batch_norm": cfg.batch_norm,
        "activation": cfg.activation,
    }
    trainer.seed_everything(spec.seed, cfg.num_threads)  # weight init is seeded too
    net = build_network(arch)
    std = X.std(axis=0)
    net[0].scale.copy_(torch.from_numpy(1.0 / np.where(std > 0, std, 1.0)).float())
    net[0].shift.copy_(torch.from_numpy(-X.mean(axis=0) / np.where(std > 0, std, 1.0)).float())
    if regression:
        net[-1].scale.fill_(float(y.std() or 1.0))
        net[-1].shift.fill_(float(y.mean()))
        loss_fn: Any = torch.nn.MSELoss()
        target = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
        target_val = torch.from_numpy(y_val.astype(np.float32)).reshape(-1, 1)
    else:
        weight = None
        if spec.class_weight == "balanced":
            counts = np.maximum(np.bincount(y, minlength=spec.n_classes), 1)
            weight = torch.tensor(len(y) / (spec.n_classes * counts), dtype=torch.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        target, target_val = torch.tensor(y), torch.tensor(y_val)
    train = TensorDataset(torch.tensor(X), target)  # a copy: parquet-backed arrays are read-only
    val = TensorDataset(torch.tensor(X_val), target_val)
    result = trainer.fit(net, train, val, loss_fn, cfg, spec.seed, make_evaluator(loss_fn, spec.task),
                         spec.progress)
    net.eval()
    net.traincycle_arch = arch  # save() writes it into model.json
    n_params = sum(p.numel() for p in net.parameters())
    return Fit(net, int(n_params), result.best_epoch, result.history, {"architecture": arch})


def make_evaluator(loss_fn: Any, task: str) -> Any:
    """`evaluate(module, dataset)` for the trainer: loss and the task's main metric, in eval mode."""
    import torch

    regression = task == "regression"
    metric = main_metric(task)

    def evaluate(module: Any, data: Any) -> dict[str, float]:
        xs, ys = data.tensors
        module.eval()
        with torch.no_grad():
            device = next(module.parameters()).device
            out = module(xs.to(device)).cpu()
            loss = float(loss_fn.cpu()(out, ys))
        output = out.numpy().ravel() if regression else torch.softmax(out, 1).double().numpy()
        return {
            "loss": loss,
            metric: score(task, ys.numpy().ravel() if regression else ys.numpy(), output)[metric],
        }

    return evaluate


def save(native: Any, directory: Path) -> dict[str, Any]:
    """state_dict as safetensors; the architecture goes into model.json."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in native.state_dict().items()}
    save_file(state, str(directory / WEIGHTS))
    return {"weights": WEIGHTS, "architecture": native.traincycle_arch}


def load(directory: Path, meta: dict[str, Any]) -> Any:
    """Rebuild the network from model.json and load its safetensors weights."""
    from safetensors.torch import load_file

    net = build_network(meta["architecture"])
    net.load_state_dict(load_file(str(directory / meta.get("weights", WEIGHTS))))
    net.traincycle_arch = meta["architecture"]
    return net.eval()


def _forward(native: Any, X: np.ndarray) -> Any:
    import torch

    native.eval()
    with torch.no_grad():
        return native(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))


def predict_proba(native: Any, X: np.ndarray) -> np.ndarray:
    """Softmax of the logits."""
    import torch

    return torch.softmax(_forward(native, X), 1).double().numpy()


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Regression output on the target's scale."""
    return _forward(native, X).double().numpy().ravel()


def export_onnx(native: Any, task: str, n_features: int) -> Any:
    """``torch.onnx.export`` of the net with its output head (softmax / sigmoid / value)."""
    import io
    import warnings

    import onnx
    import torch

    from traincycle.export import FEATURES, OPSET, output_name

    wrapper = torch_scores(native, task).eval()
    buffer = io.BytesIO()
    # the tracer warns about the output-width branch, which is fixed per model: harmless here
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper, (torch.zeros(2, n_features),), buffer, input_names=[FEATURES],
            output_names=[output_name(task)], opset_version=OPSET, dynamo=False,
            dynamic_axes={FEATURES: {0: "batch"}, output_name(task): {0: "batch"}},
        )
    return onnx.load_from_string(buffer.getvalue())


def torch_scores(net: Any, task: str) -> Any:
    """Wrap a torch module so it returns what ``Model.predict_proba``/``predict`` return."""
    return _torch_module_class()(net, task)


def _torch_module_class() -> type:
    import torch

    class _TorchScores(torch.nn.Module):
        """Logits -> probabilities (softmax, or sigmoid for one binary logit); regression as is."""

        def __init__(self, net: Any, task: str) -> None:
            super().__init__()
            self.net = net
            self.task = task

        def forward(self, x: Any) -> Any:
            out = self.net(x)
            if self.task == "regression":
                return out.reshape(-1, 1)
            if out.shape[1] == 1:
                p = torch.sigmoid(out)
                return torch.cat([1 - p, p], dim=1)
            return torch.softmax(out, dim=1)

    return _TorchScores


def prune(native: Any, task: str, cfg: Any, train: tuple[np.ndarray, np.ndarray] | None,
          seed: int) -> tuple[Any, dict[str, Any]]:
    """The net pruned as ``optimize.prune`` says (magnitude or structured), fine-tuned on train."""
    from traincycle import prune as pruning

    if cfg.kind == "magnitude":
        net, masks = pruning.prune_magnitude(native, cfg.amount)
    else:
        net, masks = pruning.prune_structured(native, cfg.amount), {}
    if train is not None and cfg.finetune_epochs:
        net = pruning.finetune(net, *train, task, cfg, seed, masks)
    net = net.eval()
    info = {"amount": cfg.amount, "sparsity": pruning.sparsity(net),
            "finetune_epochs": cfg.finetune_epochs if train is not None else 0}
    return net, info


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try for an overfitting or underfitting fit (fit diagnosis)."""
    p = params
    if verdict == "overfitting":
        return [f"train.mlp.dropout={min(0.5, p.get('dropout', 0.1) + 0.2):g}",
                f"train.mlp.weight_decay={p.get('weight_decay', 1e-4) * 10:g}"]
    if at_budget_end:
        return [f"train.mlp.epochs={p.get('epochs', 50) * 2}"]
    return ["train.mlp.hidden=[256,128]", f"train.mlp.lr={p.get('lr', 1e-3) * 3:g}"]
