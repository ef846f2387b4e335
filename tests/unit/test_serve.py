"""traincycle serve: a real uvicorn server on 127.0.0.1, real HTTP requests, bounded in time."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from test_predict import model_dir  # noqa: F401 - the shared module-scoped fixture

from traincycle.inputs import PredictConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app):
    """`app` served by uvicorn on a free loopback port; yields the base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def server(model_dir, tmp_path):  # noqa: F811
    from traincycle.serve import LogConfig, create_app

    root, rows = model_dir
    log = LogConfig(tmp_path / "logs" / "requests.jsonl", max_bytes=1000, backups=2)
    with running(create_app(root, min_confidence=0.9, max_rows=5, max_body_bytes=4000,
                            log=log)) as url:
        yield url, rows


def records(rows, n: int) -> list[dict]:
    """Complete rows (the service requires every field) as JSON-ready dicts."""
    out = rows.dropna().head(n).drop(columns="income").astype(object)
    return out.to_dict(orient="records")


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
        assert first["flags"] == []
        spec = client.get("/openapi.json").json()
        operation = spec["paths"]["/predict"]["post"]
        assert set(operation["responses"]) == {"200", "400", "413", "422"}
        row = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["rows"]
        assert row["items"]["properties"]["age"] == {"type": ["number", "null"]}
        assert set(row["items"]["required"]) == {"age", "hours_per_week", "education", "sex", "race"}
        one = records(rows, 1)[0]
        bad = [
            ({"rows": [{**one, "age": "old"}]}, 422, "field 'age': expected a number or null"),
            ({"rows": [{**one, "hours_per_week": False}]}, 422, "got bool False"),
            ({"rows": [{**one, "sex": 1}]}, 422, "field 'sex': expected a category"),
            ({"rows": [{**one, "extra": 1}]}, 422, "unknown field 'extra'"),
            ({"rows": [{k: v for k, v in one.items() if k != "race"}]}, 422,
             "column 'race' is missing"),
            ({"rows": [one, {k: v for k, v in one.items() if k != "race"}]}, 422,
             "row 1: field 'race' is missing"),
            ({"rows": []}, 422, "expected 1 to 5"),
            ({"rows": records(rows, 6)}, 422, "expected 1 to 5"),  # over --max-rows
            ({"rows": [1]}, 422, "row 0: expected an object"),
            ({"rows": [one], "more": 1}, 422, "unknown field 'more'"),
            ([one], 422, "expected an object"),
            ({"rows": [{"pad": "x" * 5000}]}, 413, "over 4000 bytes"),  # over the body cap
        ]
        for payload, code, needle in bad:
            got = client.post("/predict", json=payload)
            assert got.status_code == code, (payload, got.text)
            assert needle in got.json()["detail"], got.text
        for raw in (b"not json", b'{"rows": [{"age": NaN}]}'):
            got = client.post("/predict", content=raw, headers={"content-type": "application/json"})
            assert got.status_code == 400 and "not valid JSON" in got.json()["detail"]


def test_unknown_and_missing_values_are_scored_with_flags(server) -> None:
    url, rows = server
    one = records(rows, 1)[0]
    payload = {"rows": [
        {**one, "age": None, "education": "?"},
        {**one, "race": "Martian", "hours_per_week": 500},
        {k: None for k in one},
        one,
    ]}
    reply = httpx.post(f"{url}/predict", json=payload, timeout=10)
    assert reply.status_code == 200, reply.text
    flags = [p["flags"] for p in reply.json()["predictions"]]
    assert flags[0] == ["missing:age", "missing:education"]
    assert flags[1] == ["out_of_range:hours_per_week", "unknown_category:race"]
    assert len(flags[2]) == 5 and all(f.startswith("missing:") for f in flags[2])
    assert flags[3] == []


def test_request_log_and_prometheus_metrics(server, tmp_path: Path) -> None:
    import json

    url, rows = server
    good = {"rows": records(rows, 3)}
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(12):
            assert client.post("/predict", json=good).status_code == 200
        assert client.post("/predict", json={"rows": [{"age": "Bachelors"}]}).status_code == 422
        odd = {**records(rows, 1)[0], "race": "Martian"}
        assert client.post("/predict", json={"rows": [odd]}).status_code == 200
        scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert 'traincycle_requests_total{status="200"} 13.0' in text
    assert 'traincycle_requests_total{status="422"} 1.0' in text
    assert "traincycle_rows_total 37.0" in text
    assert "traincycle_confidence_count 37.0" in text
    assert "traincycle_request_latency_seconds_bucket" in text
    assert 'traincycle_flagged_rows_total{kind="unknown_category"} 1.0' in text
    assert "traincycle_low_confidence_rows_total" in text
    logs = sorted((tmp_path / "logs").iterdir())
    assert [p.name for p in logs] == ["requests.jsonl", "requests.jsonl.1", "requests.jsonl.2"]
    assert all(p.stat().st_size <= 1000 for p in logs)  # capped and rotated, 2 backups kept
    lines = [json.loads(line) for p in reversed(logs) for line in p.read_text().splitlines()]
    last = lines[-1]
    assert set(last) == {"time", "model_version", "data_version", "status", "latency_ms", "rows",
                         "input_sha256", "confidence_mean", "confidence_min", "low_confidence",
                         "any_low_confidence", "flagged"}
    assert last["rows"] == 1 and last["flagged"] == 1 and last["status"] == 200
    assert lines[-2]["status"] == 422 and lines[-2]["rows"] == 0
    every = "".join(p.read_text() for p in logs)
    assert "Bachelors" not in every and "Martian" not in every  # never raw values
    hashes = {line["input_sha256"] for line in lines if line["status"] == 200 and line["rows"] == 3}
    assert len(hashes) == 1  # the same body, the same hash


def test_original_header_names_are_accepted(model_dir, tmp_path: Path) -> None:  # noqa: F811
    """Keys may be the source's own column names (the manifest's parsing.names), as in predict."""
    import json
    import shutil

    from fastapi.testclient import TestClient

    from traincycle.serve import create_app

    root, rows = model_dir
    copy = tmp_path / "model"
    shutil.copytree(root, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["parsing"]["names"]["Hours-per-week"] = "hours_per_week"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    one = records(rows, 1)[0]
    renamed = {("Hours-per-week" if k == "hours_per_week" else k): v for k, v in one.items()}
    with TestClient(create_app(copy)) as client:
        a = client.post("/predict", json={"rows": [one]}).json()["predictions"]
        b = client.post("/predict", json={"rows": [renamed]}).json()["predictions"]
    assert a == b


@pytest.mark.parametrize("policy", [PredictConfig(),
                                    PredictConfig(unknown="error", missing_columns="impute")])
def test_schemathesis_finds_nothing(model_dir, tmp_path: Path, policy) -> None:  # noqa: F811
    """Property-based tests generated from the service's own OpenAPI document, every check on:
    valid requests are accepted, invalid ones refused with a documented 4xx, bodies conform."""
    from traincycle.serve import create_app

    root, _rows = model_dir
    st = str(Path(sys.executable).parent / "st")
    with running(create_app(root, max_rows=20, max_body_bytes=20_000, cfg=policy)) as url:
        result = subprocess.run(
            [st, "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", "40",
             "--seed", "7", "--generation-database", "none", "--workers", "1", "--no-color",
             "--request-timeout", "10", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout


def test_cli_help_is_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; import traincycle.cli; "
            "assert 'fastapi' not in sys.modules and 'onnxruntime' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
