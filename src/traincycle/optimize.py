"""Optimise the trained model for serving: ONNX export, pruning, int8, behind a parity gate.

Variants (each one ONNX graph over raw columns, see :mod:`traincycle.export`):

* ``onnx_float`` — the native featurizer + model, exported losslessly (always built);
* ``int8_dynamic`` / ``int8_static`` — onnxruntime int8 quantisation (graphs with MatMul/Gemm);
* ``pruned_<kind>`` (+ ``_int8``) — MLP magnitude or structured pruning, optionally fine-tuned;
* ``trees_<n>`` — xgboost / random forest keeping their first n trees;
* ``fp16`` — float16 weights where onnxruntime's CPU provider runs them;
* ``qat_int8_static`` — torch networks fine-tuned with quantisation-aware training (torchao),
  then static int8 like ``int8_static`` (:mod:`traincycle.qat`).

Each variant is scored on the validation rows only and compared with the native model
(:mod:`traincycle.parity`); the chosen one is the smallest accepted variant (or the float
export with ``choose: float``). Latencies are wall-clock, so they go to the timings file only.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from traincycle.config import check_range
from traincycle.errors import ConfigError, DataError, GateFailed
from traincycle.io import sha256_bytes, sha256_file
from traincycle.modalities import of_featurizer
from traincycle.parity import ParityConfig, compare, judge, metric_name
from traincycle.prune import PruneConfig
from traincycle.qat import QATConfig
from traincycle.quantize import QuantizeConfig

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
FLOAT = "onnx_float"


@dataclasses.dataclass(frozen=True)
class OptimizeConfig:
    """The optimize section of params.yaml."""

    prune: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    quantize: QuantizeConfig = dataclasses.field(default_factory=QuantizeConfig)
    qat: QATConfig = dataclasses.field(default_factory=QATConfig)
    parity: ParityConfig = dataclasses.field(default_factory=ParityConfig)
    #: which accepted variant ships: the smallest file, or always the float export
    choose: Literal["smallest", "float"] = "smallest"
    #: single rows timed for the batch-1 latency (median); the large batch is timed 5 times
    latency_rows: int = 50
    #: rows of the large batch timed (timings key batch<N>_ms); lower it for a big network such
    #: as a fine-tuned encoder, where 1024 texts take minutes per call on a CPU
    latency_batch: int = 1024

    def __post_init__(self) -> None:
        check_range("optimize.latency_rows", self.latency_rows, 1)
        check_range("optimize.latency_batch", self.latency_batch, 1)


@dataclasses.dataclass
class Variant:
    """One candidate: its ONNX bytes, how it was made, and (once scored) its parity figures."""

    name: str
    onnx: bytes
    lossless: bool
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    figures: dict[str, float] = dataclasses.field(default_factory=dict)
    verdict: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What optimize reads: featurizer, model and the validation (and train) rows."""

    featurizer: Any  # traincycle.featurize.Featurizer
    model: Any  # traincycle.models.Model
    val: pd.DataFrame  # processed val (row_id, features, target)
    raw_val: pd.DataFrame  # interim val, the raw rows
    train: pd.DataFrame | None = None  # processed train (fine-tuning)
    raw_train: pd.DataFrame | None = None  # interim train (int8 calibration)


def quiet_onnxruntime() -> None:
    """onnxruntime's quantiser warns through the root logger on every call; keep stderr readable."""
    logging.getLogger().setLevel(logging.ERROR)


def session(model_bytes: bytes) -> Any:
    """A single-threaded onnxruntime session: deterministic scores, comparable latencies."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def check_exportable(featurizer: Any, model: Any) -> None:
    """Refuse, with a clear message, what ONNX export cannot represent (modality and family say)."""
    modality_check = getattr(of_featurizer(featurizer.meta), "check_exportable", None)
    if modality_check is not None:
        modality_check(featurizer.meta)
    check = getattr(model.hooks, "check_exportable", None)
    if check is not None:
        check(featurizer.meta)
    if not hasattr(model.hooks, "export_onnx"):
        raise ConfigError(f"params train.model: {model.family} has no ONNX export")
    takes_features = getattr(model.hooks, "INPUT", "features") == "features"  # not documents
    if takes_features and list(featurizer.feature_names) != list(model.feature_names):
        raise DataError("optimize: the model's feature_names differ from the featurizer's; "
                        "retrain after featurize")


def build_variants(inp: Inputs, cfg: OptimizeConfig, seed: int) -> list[Variant]:
    """Export the native model and derive the pruned / int8 / trimmed variants."""
    from traincycle import quantize

    fz, model, hooks = inp.featurizer, inp.model, inp.model.hooks
    modality = of_featurizer(fz.meta)
    ops = getattr(hooks, "INT8_OPS", quantize.WEIGHT_OPS)

    def onnx_of(native: Any) -> bytes:
        return modality.export_onnx(fz, model, native)

    base = onnx_of(model.native)
    variants = [Variant(FLOAT, base, lossless=True)]
    calibration = _calibration(inp, cfg, seed) if cfg.quantize.static else []
    variants += _int8(base, "", cfg.quantize, calibration, ops)
    variants += _qat(inp, cfg, calibration, ops, seed, onnx_of)
    if cfg.prune.enabled and hasattr(hooks, "trim"):  # tree families: keep the first n trees
        total = hooks.n_trees(model.native)
        for keep in sorted({max(1, round(f * total)) for f in cfg.prune.tree_fractions}):
            if keep < total:
                trimmed = hooks.trim(model.native, model.task, keep)
                variants.append(Variant(f"trees_{keep}", onnx_of(trimmed), lossless=False,
                                        info={"trees": keep, "of": total}))
    if cfg.prune.enabled and hasattr(hooks, "prune"):  # networks: pruned weights, then int8
        train = None
        if inp.train is not None:
            train = (inp.train[model.feature_names].to_numpy(np.float32),
                     inp.train[fz.meta["target"]].to_numpy())
        net, info = hooks.prune(model.native, model.task, cfg.prune, train, seed)
        name = f"pruned_{cfg.prune.kind}"
        pruned = onnx_of(net)
        variants.append(Variant(name, pruned, lossless=False, info=info))
        variants += _int8(pruned, name + "_", dataclasses.replace(cfg.quantize, static=False), [], ops)
    return variants


def _qat(inp: Inputs, cfg: OptimizeConfig, calibration: list[dict[str, np.ndarray]],
         ops: tuple[str, ...], seed: int, onnx_of: Callable[[Any], bytes]) -> list[Variant]:
    """The QAT-fine-tuned network as static int8, calibrated on the same rows as int8_static."""
    from traincycle import qat, quantize

    model = inp.model
    # the family says whether its network is fine-tuned with fake quantisation on feature rows
    if not (cfg.qat.enabled and calibration and inp.train is not None and getattr(model.hooks, "QAT", False)):
        return []
    X = inp.train[model.feature_names].to_numpy(np.float32)
    y = inp.train[inp.featurizer.meta["target"]].to_numpy()
    tuned = qat.qat_finetune(model.native, X, y, model.task, cfg.qat, seed)
    int8 = quantize.quantize_static(onnx_of(tuned), calibration, per_channel=True, op_types=ops)
    return [Variant("qat_int8_static", int8, lossless=False, info={"qat_epochs": cfg.qat.epochs})]


def _int8(model_bytes: bytes, prefix: str, cfg: QuantizeConfig,
          calibration: list[dict[str, np.ndarray]], ops: tuple[str, ...]) -> list[Variant]:
    from traincycle import quantize

    if not quantize.has_weights(model_bytes, ops):
        return []
    quiet_onnxruntime()
    out = []
    if cfg.dynamic:
        out.append(Variant(f"{prefix}int8_dynamic", quantize.quantize_dynamic(
            model_bytes, cfg.per_channel, ops), lossless=False))
    if cfg.static and calibration:
        out.append(Variant(f"{prefix}int8_static", quantize.quantize_static(
            model_bytes, calibration, cfg.per_channel, ops), lossless=False,
            info={"calibration_rows": sum(len(next(iter(b.values()))) for b in calibration)}))
    half = quantize.to_fp16(model_bytes) if cfg.fp16 else None
    if half is not None:
        out.append(Variant(f"{prefix}fp16", half, lossless=False))
    return out


def _calibration(inp: Inputs, cfg: OptimizeConfig, seed: int) -> list[dict[str, np.ndarray]]:
    """Seeded sample of train rows (those featurize kept) in batches of 64, as feeds."""
    if inp.train is None or inp.raw_train is None:
        return []
    _native, feeds = of_featurizer(inp.featurizer.meta).requests(inp.featurizer, inp.model, inp.train,
                                                                 inp.raw_train)
    n = min(cfg.quantize.calibration_rows, len(inp.train))
    pick = np.sort(np.random.default_rng(seed).choice(len(inp.train), n, replace=False))
    return [feeds(pick[i:i + 64]) for i in range(0, n, 64)]


def score_variants(variants: list[Variant], inp: Inputs, cfg: OptimizeConfig) -> np.ndarray:
    """Score every variant on the val rows' raw input and judge it against the native model."""
    from traincycle.export import output_name

    model = inp.model
    reference = model.scores(inp.val[model.feature_names])
    y = inp.val[inp.featurizer.meta["target"]].to_numpy()
    _native, feeds = of_featurizer(inp.featurizer.meta).requests(inp.featurizer, model, inp.val, inp.raw_val)
    every = feeds(np.arange(len(inp.val)))
    for variant in variants:
        scores = session(variant.onnx).run([output_name(model.task)], every)[0]
        finite = bool(np.isfinite(scores).all())
        variant.figures = compare(reference, np.nan_to_num(scores, posinf=1.0, neginf=0.0), y, model.task)
        variant.verdict = judge(variant.name, variant.figures, cfg.parity, variant.lossless)
        if not finite:  # e.g. a value past float16's range: never shipped, whatever the figures say
            variant.verdict = {"accepted": False, "reason": "non-finite scores on val"}
    return reference


def choose(variants: list[Variant], cfg: OptimizeConfig) -> Variant:
    """The variant to ship: the smallest accepted one (ties: listed first), or the float one."""
    accepted = [v for v in variants if v.verdict["accepted"]]
    if not accepted:
        reasons = "; ".join(f"{v.name}: {v.verdict['reason']}" for v in variants)
        raise GateFailed(f"optimize: no variant passed the parity gate on val ({reasons})")
    if cfg.choose == "float":
        floats = [v for v in accepted if v.name == FLOAT]
        if not floats:
            raise GateFailed(f"optimize: variant {FLOAT!r} failed the parity gate: "
                             f"{variants[0].verdict['reason']}")
        return floats[0]
    return min(accepted, key=lambda v: len(v.onnx))


def report(variants: list[Variant], chosen: Variant, reference_metric: float, task: str,
           native_bytes: int) -> dict[str, Any]:
    """reports/optimize.json: per-variant size, val metric, parity figures; the chosen one."""
    float_bytes = len(variants[0].onnx)
    float_weights = model_weight_bytes(variants[0].onnx)
    rows = {}
    for v in variants:
        weights = model_weight_bytes(v.onnx)
        rows[v.name] = {
            "bytes": len(v.onnx),
            "size_vs_float": len(v.onnx) / float_bytes,
            "model_weight_bytes": weights,
            "weights_vs_float": weights / max(float_weights, 1),
            "val_metric": v.figures["metric"],
            "metric_delta": v.figures["metric_delta"],
            "max_prob_diff": v.figures["max_prob_diff"],
            "agreement": v.figures["agreement"],
            "accepted": v.verdict["accepted"],
            "reason": v.verdict["reason"],
            **{k: val for k, val in v.info.items() if not isinstance(val, dict)},
        }
    return {
        "metric": metric_name(task),
        "native": {"val_metric": reference_metric, "bytes": native_bytes},
        "chosen": chosen.name,
        "chosen_bytes": len(chosen.onnx),
        "chosen_metric_delta": chosen.figures["metric_delta"],
        "variants": rows,
    }


def model_weight_bytes(model_bytes: bytes) -> int:
    """Bytes of the model part's initializers (weights), excluding the featurizer's tables."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model_bytes).graph
    return sum(numpy_helper.to_array(i).nbytes for i in graph.initializer
               if i.name.startswith("model_"))


def manifest(chosen: Variant, featurizer: Any, model: Any, source_sha256: str,
             parsing: dict[str, Any] | None = None,
             ranges: Ranges | None = None,
             data_version: str | None = None) -> dict[str, Any]:
    """The serving contract next to model.onnx: inputs (as the modality says), outputs, opsets, hashes.

    `parsing` is how ingest read the source (provenance.json's record), so predict and serve read
    new rows alike; `ranges` are the schema's numeric (min, max), beyond which rows are flagged;
    `data_version` names the source data (the service logs and reports it).
    """
    import onnx

    from traincycle.export import output_name

    onx = onnx.load_from_string(chosen.onnx)
    meta = featurizer.meta
    fields = of_featurizer(meta).manifest_fields(featurizer, model)
    inputs = fields.pop("inputs")
    bounds = _ranges([spec["name"] for spec in inputs], ranges or {})
    return {
        "format": "onnx",
        "variant": chosen.name,
        "task": model.task,
        "family": model.family,
        "target": meta["target"],
        "classes": list(model.classes),
        "positive_label": meta.get("positive_label"),
        "output": output_name(model.task),
        "inputs": [{**spec, **bounds[spec["name"]]} for spec in inputs],
        **({"parsing": parsing} if parsing else {}),
        **({"data_version": data_version} if data_version else {}),
        **fields,
        "opset": {(imp.domain or "ai.onnx"): imp.version for imp in onx.opset_import},
        "model_sha256": sha256_bytes(chosen.onnx),
        "source_sha256": source_sha256,
    }


Ranges = dict[str, tuple[float | None, float | None]]


def serving_inputs(provenance: str | Path | None, schema: str | Path | None,
                   ) -> tuple[dict[str, Any] | None, Ranges, str | None]:
    """The manifest's parsing record and data version (from ingest's provenance.json: a hash of
    the source files' hashes) and numeric ranges (schema)."""
    import json

    from traincycle.io import read_json
    from traincycle.schema import is_pattern, load_schema

    record = read_json(provenance) if provenance else {}
    parsing = record.get("parsing")
    files = record.get("sha256")
    version = sha256_bytes(json.dumps(files, sort_keys=True).encode())[:12] if files else None
    ranges = {}
    if schema:  # every named column (its own entry wins over a pattern) and ranged patterns
        for name, col in load_schema(schema).columns.items():
            if not is_pattern(name) or col.min is not None or col.max is not None:
                ranges[name] = (col.min, col.max)
    return parsing, ranges, version


def _ranges(names: list[str], ranges: Ranges) -> dict[str, dict[str, float]]:
    """Each column's schema range: its own entry, else the first pattern (e.g. ``g*``) it matches."""
    import fnmatch

    from traincycle.schema import is_pattern

    patterns = [(key, r) for key, r in ranges.items() if is_pattern(key)]
    out = {}
    for name in names:
        low, high = ranges[name] if name in ranges else next(
            (r for key, r in patterns if fnmatch.fnmatchcase(name, key)), (None, None))
        out[name] = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    return out


def source_hash(paths: list[Path]) -> str:
    """One hash over the native artifacts (files, or every file under directories), by name."""
    lines = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            rel = f.relative_to(path) if path.is_dir() else Path(f.name)
            lines.append(f"{path.name}/{rel.as_posix()} {sha256_file(f)}")
    return sha256_bytes("\n".join(lines).encode())


def median_seconds(func: Callable[[], Any], repeats: int) -> float:
    """Median wall time of `func` over `repeats` calls (one warm-up call first)."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_variants(variants: list[Variant], inp: Inputs, cfg: OptimizeConfig) -> dict[str, Any]:
    """Batch-1 and batch-`latency_batch` (1024) median latencies on val requests, native vs
    each variant.

    A request is the modality's raw input (a table row, an image, a document): the native path
    featurizes and scores it, a variant converts it to feeds and runs the graph.
    """
    from traincycle.export import output_name

    model = inp.model
    native, feeds = of_featurizer(inp.featurizer.meta).requests(inp.featurizer, model, inp.val, inp.raw_val)
    n = len(inp.val)
    batch = np.arange(cfg.latency_batch) % max(n, 1)
    large = f"batch{cfg.latency_batch}"
    singles = [np.array([i % n]) for i in range(cfg.latency_rows)]

    def per_row(predict: Callable[[np.ndarray], Any]) -> float:
        rows = iter(_cycle(singles))
        return median_seconds(lambda: predict(next(rows)), cfg.latency_rows)

    out: dict[str, Any] = {"native": {"batch1_ms": 1e3 * per_row(native),
                                      f"{large}_ms": 1e3 * median_seconds(lambda: native(batch), 5)}}
    big = feeds(batch)
    for v in variants:
        sess, name = session(v.onnx), output_name(model.task)

        def run(at: np.ndarray, sess: Any = sess, name: str = name) -> Any:
            return sess.run([name], feeds(at))

        out[v.name] = {"batch1_ms": 1e3 * per_row(run),
                       f"{large}_ms": 1e3 * median_seconds(
                           lambda sess=sess, name=name: sess.run([name], big), 5)}
    for name, row in out.items():
        if name != "native":
            row["batch1_vs_native"] = row["batch1_ms"] / out["native"]["batch1_ms"]
            row[f"{large}_vs_native"] = row[f"{large}_ms"] / out["native"][f"{large}_ms"]
    return out


def _cycle(items: list[Any]) -> Iterator[Any]:
    while True:
        yield from items


def optimize(inp: Inputs, cfg: OptimizeConfig, seed: int) -> tuple[list[Variant], Variant, float]:
    """Build, score and judge every variant; return them, the chosen one and the native metric."""
    from traincycle.parity import metric_value

    check_exportable(inp.featurizer, inp.model)
    variants = build_variants(inp, cfg, seed)
    reference = score_variants(variants, inp, cfg)
    y = inp.val[inp.featurizer.meta["target"]].to_numpy()
    return variants, choose(variants, cfg), metric_value(inp.model.task, y, reference)


def artifact_bytes(paths: list[Path]) -> int:
    """Total size of files and directories (the native model's footprint)."""
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_size for f in files)
