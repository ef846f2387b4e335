"""The service image for real: `make image` builds it offline with podman from a local Debian
base, the container answers /health and /predict on a loopback port as the service does in
process, and it is stopped and removed. Slow (a cold build makes the base with debootstrap):
run by `make test-all`."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from pgserver import free_port
from test_pipeline import sh

from conftest import ROOT, write_optimized_model

#: what `make image` reads from the project (docker/wheels is made by the build itself)
COPY = ["Makefile", "Dockerfile", ".dockerignore", "pyproject.toml", "constraints.txt", "README.md",
        "docker", "src"]


def copy_build_context(project: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name,
                            ignore=shutil.ignore_patterns("__pycache__", "wheels", "*.egg-info"))
        else:
            shutil.copy2(src, project / name)


def wait_healthy(url: str, seconds: float = 90) -> dict:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            reply = httpx.get(url, timeout=2)
            if reply.status_code == 200:
                return reply.json()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {seconds} s")
        time.sleep(0.5)


@pytest.mark.slow
def test_image_builds_offline_runs_and_answers_like_the_service(tmp_path: Path) -> None:
    import httpx
    from fastapi.testclient import TestClient

    from traincycle.serve import create_app

    project = tmp_path / "project"
    project.mkdir()
    copy_build_context(project)
    model, raw = write_optimized_model(project / "models/optimized")
    rows = raw.drop(columns="income").head(3).astype(object)
    body = {"rows": rows.where(rows.notna(), None).to_dict(orient="records")}
    tag = f"localhost/traincycle-serve-test:{os.getpid()}"
    name = f"traincycle-serve-test-{os.getpid()}"

    build = sh("make", "image", f"IMAGE={tag}", cwd=project)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    port = free_port()
    try:
        started = sh("podman", "run", "-d", "--name", name, "--runtime", "runc",
                     "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=512:512",
                     "-p", f"127.0.0.1:{port}:8000", tag, cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        health = wait_healthy(f"http://127.0.0.1:{port}/health")
        reply = httpx.post(f"http://127.0.0.1:{port}/predict", json=body, timeout=30)
        assert reply.status_code == 200, reply.text
        with TestClient(create_app(model)) as client:
            local_health = client.get("/health").json()
            local = client.post("/predict", json=body).json()
        assert health["model_version"] == local_health["model_version"]
        served = reply.json()["predictions"]
        assert [p["label"] for p in served] == [p["label"] for p in local["predictions"]]
        for got, want in zip(served, local["predictions"], strict=True):
            assert got["flags"] == want["flags"]
            assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)

        # the image's HEALTHCHECK passes, it runs unprivileged, and its request log holds no raw value
        assert sh("podman", "healthcheck", "run", name, cwd=tmp_path).returncode == 0
        assert sh("podman", "exec", name, "id", "-u", cwd=tmp_path).stdout.strip() == "10001"
        log = sh("podman", "exec", name, "cat", "/app/logs/requests.jsonl", cwd=tmp_path).stdout.splitlines()
        assert len(log) == 1 and json.loads(log[0])["rows"] == len(rows)
        assert not [v for v in rows.iloc[0] if isinstance(v, str) and v in log[0]]
    finally:
        sh("podman", "rm", "-f", "-t", "2", name, cwd=tmp_path)
        sh("podman", "rmi", "-f", tag, cwd=tmp_path)
    assert sh("podman", "container", "exists", name, cwd=tmp_path).returncode == 1
