"""The service image: the Dockerfile passes hadolint, and the slim runtime it installs is enough."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, write_optimized_model

#: project dependencies the image leaves out: serving must not import them
NOT_IN_IMAGE = ("torch", "sklearn", "xgboost", "great_expectations", "dvc", "dvclive", "skl2onnx",
                "onnx", "onnxmltools", "scipy", "optuna", "shap", "fairlearn", "skops", "tqdm", "fsspec")


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2 and "HEALTHCHECK" in text and "\nUSER 10001" in text


def test_image_requirements_are_pinned_by_constraints() -> None:
    names = [line.strip().lower() for line in (ROOT / "docker/serve-requirements.in").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    pinned = {line.split("==")[0].lower() for line in (ROOT / "constraints.txt").read_text().splitlines()}
    assert names and not [n for n in names if n not in pinned]


def test_service_runs_without_the_training_stack(tmp_path: Path) -> None:
    """What the image holds is enough: create the app and answer /health, /predict and /metrics
    with every training-only package made unimportable."""
    root, rows = write_optimized_model(tmp_path / "model")
    row = rows.drop(columns="income").dropna().head(1).astype(object).to_dict(orient="records")[0]
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_IMAGE!r}:
            raise ImportError(f"{{name}} is not in the image")
sys.meta_path.insert(0, Block())
from fastapi.testclient import TestClient
from traincycle.serve import create_app
with TestClient(create_app({str(root)!r})) as client:
    assert client.get("/health").status_code == 200
    reply = client.post("/predict", json={{"rows": [{row!r}]}})
    assert reply.status_code == 200, reply.text
    assert client.get("/metrics").status_code == 200
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
