"""traincycle serve: a real uvicorn server on 127.0.0.1, real HTTP requests, bounded in time."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from test_predict import model_dir  # noqa: F401 - the shared module-scoped fixture


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(model_dir):  # noqa: F811
    import uvicorn

    from traincycle.serve import create_app

    root, rows = model_dir
    app = create_app(root, min_confidence=0.9, max_rows=5, max_body_bytes=4000)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", rows
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive()


def records(rows, n: int) -> list[dict]:
    out = rows.head(n).drop(columns="income").astype(object)
    return out.where(out.notna(), None).to_dict(orient="records")


def test_predict_health_openapi_and_bad_requests(server) -> None:
    url, rows = server
    with httpx.Client(base_url=url, timeout=10) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and len(health["model_version"]) == 12
        reply = client.post("/predict", json={"rows": records(rows, 3)})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["model_version"] == health["model_version"]
        first = body["predictions"][0]
        assert first["label"] in ("<=50K", ">50K")
        assert abs(sum(first["probabilities"].values()) - 1) < 1e-5
        assert first["confidence"] == max(first["probabilities"].values())
        assert first["low_confidence"] == (first["confidence"] < 0.9)
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Row"]["properties"]
        assert "Martian" not in str(schema) and "Female" in str(schema["sex"])
        bad = [
            ({"rows": [{**records(rows, 1)[0], "race": "Martian"}]}, 422),
            ({"rows": [{**records(rows, 1)[0], "age": "old"}]}, 422),
            ({"rows": [{**records(rows, 1)[0], "extra": 1}]}, 422),
            ({"rows": []}, 422),
            ({"rows": records(rows, 6)}, 422),  # over --max-rows
            ({"rows": [{"pad": "x" * 5000}]}, 413),  # over the body cap
        ]
        for payload, code in bad:
            got = client.post("/predict", json=payload)
            assert got.status_code == code, (payload, got.text)
            assert got.json()["detail"]
        assert client.post("/predict", content=b"not json",
                           headers={"content-type": "application/json"}).status_code == 422


def test_missing_values_are_accepted(server) -> None:
    url, rows = server
    row = {**records(rows, 1)[0], "age": None, "education": None}
    reply = httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=10)
    assert reply.status_code == 200, reply.text


def test_cli_help_is_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; import traincycle.cli; "
            "assert 'fastapi' not in sys.modules and 'onnxruntime' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
