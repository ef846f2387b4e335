"""The optimize stage script on tiny artifacts: outputs, determinism, gate failure exit 3."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_user_error, run_stage, write_params, write_tiny_artifacts

FAST = {"latency_rows": 3, "quantize": {"calibration_rows": 64},
        "prune": {"finetune_epochs": 1, "amount": 0.25}, "qat": {"epochs": 1}}


def run_optimize(root: Path, paths: dict[str, Path], params: Path, out: str = "models/optimized"):
    return run_stage(
        "optimize", "--params", str(params), "--featurizer", str(paths["featurizer"]),
        "--model-dir", str(paths["model"]), "--processed-dir", str(paths["processed"]),
        "--interim-dir", str(paths["interim"]), "--out-dir", str(root / out),
        "--metrics", str(root / "metrics/optimize.json"), "--details", str(root / "reports/optimize.json"),
        "--timings", str(root / ".traincycle/timings/optimize.json"), cwd=root,
    )


def test_mlp_variants_manifest_and_byte_identical_reruns(tmp_path: Path) -> None:
    paths = write_tiny_artifacts(tmp_path, "mlp")
    params = write_params(tmp_path / "params.yaml", optimize=FAST)
    first = run_optimize(tmp_path, paths, params)
    assert first.returncode == 0, first.stderr
    metrics = json.loads((tmp_path / "reports/optimize.json").read_text())
    variants = metrics["variants"]
    head = json.loads((tmp_path / "metrics/optimize.json").read_text())
    chosen = variants[metrics["chosen"]]
    assert head == {"chosen": metrics["chosen"], "size_vs_float": chosen["size_vs_float"],
                    "metric_delta": metrics["chosen_metric_delta"]}
    assert {"onnx_float", "int8_dynamic", "int8_static", "pruned_structured", "fp16",
            "qat_int8_static"} <= set(variants)
    # fp16 halves the network's weights and stays close; QAT's int8 is judged like the others
    assert variants["fp16"]["model_weight_bytes"] < variants["onnx_float"]["model_weight_bytes"] * 0.55
    assert variants["fp16"]["max_prob_diff"] < 1e-2
    assert variants["qat_int8_static"]["qat_epochs"] == 1 and "accepted" in variants["qat_int8_static"]
    assert variants["onnx_float"]["max_prob_diff"] < 1e-4 and variants["onnx_float"]["accepted"]
    assert variants["int8_dynamic"]["model_weight_bytes"] < variants["onnx_float"]["model_weight_bytes"] / 2
    assert metrics["chosen"] in variants and variants[metrics["chosen"]]["accepted"]
    manifest = json.loads((tmp_path / "models/optimized/manifest.json").read_text())
    onnx_bytes = (tmp_path / "models/optimized/model.onnx").read_bytes()
    import hashlib

    assert manifest["model_sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
    assert manifest["variant"] == metrics["chosen"]
    assert [c["name"] for c in manifest["inputs"]] == ["age", "hours_per_week", "education", "sex", "race"]
    assert manifest["classes"] == ["<=50K", ">50K"]
    timings = json.loads((tmp_path / ".traincycle/timings/optimize.json").read_text())
    assert timings["latency"]["native"]["batch1_ms"] > 0
    assert "latency" not in json.dumps(metrics)  # wall-clock stays out of committed metrics
    metrics_text = (tmp_path / "reports/optimize.json").read_bytes()
    second = run_optimize(tmp_path, paths, params)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "reports/optimize.json").read_bytes() == metrics_text
    assert (tmp_path / "models/optimized/model.onnx").read_bytes() == onnx_bytes


def test_gate_failure_exits_3_naming_variant_and_writes_nothing(tmp_path: Path) -> None:
    paths = write_tiny_artifacts(tmp_path, "logistic")
    # sklearn scores in float64, ONNX in float32: a 1e-12 tolerance must trip the critical gate
    params = write_params(tmp_path / "params.yaml", optimize={
        **FAST, "parity": {"exact_prob_diff": 1e-12}})
    result = run_optimize(tmp_path, paths, params)
    assert_user_error(result, "onnx_float", "parity gate", code=3)
    assert not (tmp_path / "models/optimized").exists()
    assert not (tmp_path / "metrics/optimize.json").exists()


def test_bad_params_are_one_line_errors(tmp_path: Path) -> None:
    paths = write_tiny_artifacts(tmp_path, "logistic")
    params = write_params(tmp_path / "params.yaml", optimize={"prune": {"amount": 1.5}})
    assert_user_error(run_optimize(tmp_path, paths, params), "optimize.prune.amount")
