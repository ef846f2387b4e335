"""`traincycle serve` latency vs a bare FastAPI endpoint parsing the same body, side by side.

    python benchmarks/serve.py [--model models/optimized] [--requests 400] [--rows data/interim/val.parquet]
        [--batch 1000]

Two uvicorn servers run on loopback, one process each: the service over the model directory,
and a bare FastAPI app whose endpoint parses the same request into a pydantic model of the
same columns (numbers or null, text or null) and returns a constant. One client sends them the
same bodies, interleaved, so both see the same load; the table gives p50/p99 per request and
the ratio to the bare endpoint (goal: single row <= 2x), each server's CPU milliseconds per
request (its process's user + system time: steadier than wall time when other work shares the
cores, and what bounds requests/s under load), and the 1,000-row request's p50
(goal: <= 50 ms), beside the ONNX graph alone scoring the same rows in this process, on as many
threads as the service uses (what no HTTP service can go under), and the load average before
and after. Wall-clock figures: a benchmark, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT, cpu_seconds, env, load_line, table

SERVICE = """
import uvicorn
from traincycle.serve import create_app
uvicorn.run(create_app({model!r}, max_rows=1000, max_body_bytes=10_000_000), host="127.0.0.1",
            port={port}, log_level="warning")
"""

#: the baseline: FastAPI + pydantic parsing the same rows, no model
BARE = """
import json
from typing import Optional
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, create_model
inputs = json.load(open({manifest!r}))["inputs"]
Row = create_model("Row", **{{c["name"]: (Optional[str] if c["kind"] == "categorical"
                                        else Optional[float], None) for c in inputs}})
Body = create_model("Body", rows=(list[Row], ...))
app = FastAPI()
@app.post("/predict")
def predict(body: Body) -> dict:
    return {{"ok": len(body.rows)}}
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(code: str, port: int) -> subprocess.Popen:
    """A server process; returns once it answers."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-c", code], env={**env(), "PYTHONPATH": str(ROOT / "src")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180  # a 10,000-column model: its OpenAPI schema alone takes seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(f"server failed to start: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 180 s")


def sample_rows(model: Path, n: int, source: Path) -> list[dict]:
    """Raw rows as a client would send them: the validation split's, target dropped."""
    import pandas as pd

    manifest = json.loads((model / "manifest.json").read_text())
    names = [c["name"] for c in manifest["inputs"]]
    raw = pd.read_parquet(source)[names]
    raw = pd.concat([raw] * (n // len(raw) + 1)).head(n).astype(object)
    return raw.where(raw.notna(), None).to_dict(orient="records")


def timed(client, url: str, body: bytes, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        reply = client.post(url, content=body, headers={"content-type": "application/json"})
        out.append(1e3 * (time.perf_counter() - start))
        if reply.status_code != 200:
            raise SystemExit(f"{url}: {reply.status_code} {reply.text[:300]}")
    return out


def graph_ms(model: Path, rows: list[dict], repeat: int) -> float:
    """p50 of the model's ONNX graph alone on `rows` (already parsed into its feeds)."""
    from traincycle.inputs import PredictConfig
    from traincycle.predict import load_predictor

    pred = load_predictor(model, threads=len(os.sched_getaffinity(0)))  # as the service does
    screened = pred.intake(PredictConfig()).parse_request(json.dumps({"rows": rows}).encode(),
                                                          "application/json", len(rows)).screened
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        pred.scores(screened)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def main(model: Path, requests: int, source: Path, batch: int = 1000) -> list[dict[str, object]]:
    import httpx

    rows = sample_rows(model, 1000, source)
    ports = {"service": free_port(), "bare": free_port()}
    procs = [start(SERVICE.format(model=str(model), port=ports["service"]), ports["service"]),
             start(BARE.format(manifest=str(model / "manifest.json"), port=ports["bare"]), ports["bare"])]
    try:
        out = []
        with httpx.Client(timeout=30) as client:
            for size, repeat in ((1, requests), (batch, max(requests // 10, 10))):
                times: dict[str, list[float]] = {"service": [], "bare": []}
                cpu = {name: cpu_seconds(proc.pid) for name, proc in zip(ports, procs, strict=True)}
                for i in range(repeat):  # interleaved, each request a different row set
                    sent = rows[i % 1000: i % 1000 + 1] if size == 1 else rows[:size]
                    body = json.dumps({"rows": sent}).encode()
                    for name, port in ports.items():
                        times[name] += timed(client, f"http://127.0.0.1:{port}/predict", body, 1)
                cpu = {name: 1e3 * (cpu_seconds(proc.pid) - cpu[name]) / repeat
                       for name, proc in zip(ports, procs, strict=True)}
                p50 = {k: statistics.median(v) for k, v in times.items()}
                p99 = {k: sorted(v)[int(0.99 * (len(v) - 1))] for k, v in times.items()}
                out.append({"rows per request": size, "requests": repeat,
                            "bare p50 ms": p50["bare"], "service p50 ms": p50["service"],
                            "service p99 ms": p99["service"], "ratio p50": p50["service"] / p50["bare"],
                            "bare CPU ms": cpu["bare"], "service CPU ms": cpu["service"],
                            "CPU ratio": cpu["service"] / cpu["bare"],
                            "graph alone p50 ms": graph_ms(model, rows[:size], repeat),
                            "goal": "<= 2x bare" if size == 1 else ("<= 50 ms" if size == 1000 else "")})
        return out
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models/optimized")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--batch", type=int, default=1000,
                        help="rows of the large request (wide tables: fewer, under the 10 MB body limit)")
    parser.add_argument("--rows", type=Path, default=ROOT / "data/interim/val.parquet",
                        help="raw rows to send (another project's model: its val split)")
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(f"{args.model}: no manifest.json; run `dvc repro` first")
    before = os.getloadavg()[0]
    print(table(main(args.model, args.requests, args.rows, min(args.batch, 1000))))
    print(load_line(before))
