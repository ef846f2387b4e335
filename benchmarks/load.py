"""A bounded load test of `traincycle serve`: locust, headless, on loopback, against a bare FastAPI
endpoint parsing the same bodies.

    python benchmarks/load.py [--model models/optimized] [--users 20] [--seconds 30]

Each server (the service over the model directory; the bare endpoint of benchmarks/serve.py,
which parses the rows into a pydantic model and returns a constant) runs alone in its own
uvicorn process while locust's users post single-row bodies (the validation split's raw rows)
back to back, with no wait between requests: a closed loop that measures capacity. The table
gives requests, requests/s, p50/p99 latency and errors per server, the server process's CPU
milliseconds per request (user + system, read from the process before and after the run: far
steadier than wall time on a shared machine, and what bounds requests/s once the cores are
busy), and the service's requests/s and CPU per request as a share of the bare endpoint's.
Wall-clock figures: a benchmark, never a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import tempfile
from pathlib import Path

from harness import BIN, ROOT, cpu_seconds, env, load_line, table
from serve import BARE, SERVICE, free_port, sample_rows, start

#: locust's users: FastHttpUser (geventhttpclient) so the client is not the bottleneck
LOCUSTFILE = """
import json, os, random
from locust import FastHttpUser, constant, task

ROWS = json.load(open(os.environ["LOAD_ROWS"]))
BODIES = [json.dumps({"rows": [row]}) for row in ROWS]
HEADERS = {"content-type": "application/json"}


class Client(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.pick = random.Random(id(self) % 1000)  # each user its own fixed sequence of rows

    @task
    def predict(self):
        self.client.post("/predict", data=self.pick.choice(BODIES), headers=HEADERS)
"""


def run_locust(port: int, users: int, seconds: int, work: Path, rows_file: Path) -> dict[str, object]:
    """One headless locust run against 127.0.0.1:`port`; its aggregated stats."""
    prefix = work / f"load_{port}"
    cmd = [str(BIN / "locust"), "-f", str(work / "locustfile.py"), "--headless", "--only-summary",
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", f"http://127.0.0.1:{port}",
           "--csv", str(prefix), "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    result = subprocess.run(cmd, env={**env(), "LOAD_ROWS": str(rows_file)}, capture_output=True,
                            text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise SystemExit(f"locust failed ({result.returncode}): {result.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv", newline="") as fh:
        total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return {"requests": int(total["Request Count"]), "requests/s": float(total["Requests/s"]),
            "p50 ms": float(total["50%"]), "p99 ms": float(total["99%"]),
            "errors": int(total["Failure Count"])}


def main(model: Path, users: int, seconds: int) -> list[dict[str, object]]:
    servers = {"service": lambda port: SERVICE.format(model=str(model), port=port),
               "bare FastAPI": lambda port: BARE.format(manifest=str(model / "manifest.json"), port=port)}
    out: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "locustfile.py").write_text(LOCUSTFILE)
        rows_file = work / "rows.json"
        rows_file.write_text(json.dumps(sample_rows(model, 1000)))
        for name, code in servers.items():
            port = free_port()
            proc = start(code(port), port)
            try:
                before = cpu_seconds(proc.pid)
                stats = run_locust(port, users, seconds, work, rows_file)
                cpu_ms = 1e3 * (cpu_seconds(proc.pid) - before) / max(int(stats["requests"]), 1)
                out.append({"server": name, "users": users, "seconds": seconds, **stats,
                            "server CPU ms/request": cpu_ms})
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    bare, bare_cpu = float(out[1]["requests/s"]), float(out[1]["server CPU ms/request"])
    for row in out:
        row["requests/s vs bare"] = float(row["requests/s"]) / bare
        row["CPU/request vs bare"] = float(row["server CPU ms/request"]) / bare_cpu
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models/optimized")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(f"{args.model}: no manifest.json; run `dvc repro` first")
    before = os.getloadavg()[0]
    print(table(main(args.model, args.users, args.seconds)))
    print(load_line(before))
