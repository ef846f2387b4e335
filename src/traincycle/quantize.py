"""Post-training int8 quantisation and fp16 conversion of an exported ONNX graph.

Dynamic quantisation stores MatMul/Gemm weights as int8 and quantises activations on the fly;
static quantisation also fixes activation ranges from a calibration sample of train rows.
fp16 halves the model's float weights with the converter onnxruntime ships
(`onnxruntime.transformers.float16`, the maintained fork of onnxconverter-common's, whose 1.16
release crashes on nodes with several consumers); the featurizer's ai.onnx.ml operators have no
fp16 kernels, so they stay float32 and Casts join the two parts.
Tree ensembles have no MatMul/Gemm to quantise and are left alone.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from traincycle.config import check_range

#: operators whose weights int8 quantisation shrinks
WEIGHT_OPS = ("MatMul", "Gemm")


@dataclasses.dataclass(frozen=True)
class QuantizeConfig:
    """Which int8 variants to try."""

    dynamic: bool = True
    static: bool = True
    #: train rows sampled (seeded) to calibrate activation ranges for static quantisation
    calibration_rows: int = 512
    per_channel: bool = False
    #: an fp16 copy of the graph where onnxruntime's CPU provider runs it
    fp16: bool = True

    def __post_init__(self) -> None:
        check_range("optimize.quantize.calibration_rows", self.calibration_rows, 1)


def has_weights(model_bytes: bytes, op_types: tuple[str, ...] = WEIGHT_OPS) -> bool:
    """Whether the graph has MatMul/Gemm (or other `op_types`) nodes worth quantising."""
    import onnx

    graph = onnx.load_from_string(model_bytes).graph
    return any(node.op_type in op_types for node in graph.node)


def quantize_dynamic(
    model_bytes: bytes, per_channel: bool = False, op_types: tuple[str, ...] = WEIGHT_OPS
) -> bytes:
    """int8 weights for MatMul/Gemm, activations quantised at run time."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model_bytes)
        ort_quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel,
                             op_types_to_quantize=list(op_types))
        return _stable(dst.read_bytes())


def quantize_static(
    model_bytes: bytes, calibration: list[dict[str, np.ndarray]], per_channel: bool = False,
    op_types: tuple[str, ...] = WEIGHT_OPS,
) -> bytes:
    """int8 weights and activations (QDQ), ranges from `calibration` feeds (MinMax)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
    )
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[dict[str, np.ndarray]] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model_bytes)
        ort_quantize_static(
            src, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=list(op_types), calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
        return _stable(dst.read_bytes())


def to_fp16(model_bytes: bytes) -> bytes | None:
    """The graph with float16 weights and float32 inputs/outputs; None if onnxruntime cannot run it."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.transformers import float16

    from traincycle.export import stable_bytes

    model = onnx.load_from_string(model_bytes)
    # everything before the first weight op stays float32: raw inputs (an income, a count) and the
    # network's own standardisation of them can exceed float16's 65504
    first = next((i for i, n in enumerate(model.graph.node) if n.op_type in WEIGHT_OPS), None)
    if first is None:
        return None
    keep = [n.name for n in model.graph.node[:first]]
    half = float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=keep)
    _drop_round_trips(half.graph)
    out = stable_bytes(half)
    try:  # the CPU provider lacks fp16 kernels for some operators; such graphs get no fp16 variant
        ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime raises its own (pybind) exception types
        return None
    return out


def _drop_round_trips(graph: Any) -> None:
    """Remove float32 -> float16 -> float32 Cast pairs the converter puts around kept nodes.

    With float32 inputs kept, the converter still casts every input to float16 and back before
    a blocked node, which turns an income of 1.2M into inf; the pair only loses range.
    """
    import onnx

    def cast_to(node: Any) -> int | None:
        return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None

    producer = {out: node for node in graph.node for out in node.output}
    doomed = []
    for node in graph.node:
        first = producer.get(node.input[0]) if node.input else None
        if cast_to(node) == onnx.TensorProto.FLOAT and first is not None \
                and cast_to(first) == onnx.TensorProto.FLOAT16:
            source, target = first.input[0], node.output[0]
            for other in graph.node:
                other.input[:] = [source if name == target else name for name in other.input]
            for out in graph.output:
                if out.name == target:
                    out.name = source
            doomed.append(node)
    for node in doomed:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for node in [n for n in graph.node if cast_to(n) == onnx.TensorProto.FLOAT16]:
        if not any(out in used for out in node.output):
            graph.node.remove(node)


def _stable(model_bytes: bytes) -> bytes:
    import onnx

    from traincycle.export import stable_bytes

    return stable_bytes(onnx.load_from_string(model_bytes))
