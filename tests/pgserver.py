"""A throwaway PostgreSQL server for tests: `initdb` in a temp folder, `pg_ctl` on a free loopback port.

PostgreSQL refuses to run as root, so when the tests run as root the data folder is handed to
the `postgres` user and the server commands run as that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bin_dir() -> Path:
    """The PostgreSQL server binaries (Debian keeps them out of PATH, under a versioned folder)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL server not installed (initdb not found): `make test` installs it")
    return Path(versions[-1]).parent


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Run a server with its data in a new temp folder; yield its URL (user postgres, no password).

    The folder is made directly under the system temp dir: pytest's own tmp folders are private
    to root, so the `postgres` user could not enter them.
    """
    folder = Path(tempfile.mkdtemp(prefix="traincycle-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port, tools = folder / "data", free_port(), bin_dir()
    run = lambda *cmd: subprocess.run(_as_server_user([str(c) for c in cmd]), check=True,  # noqa: E731
                                      capture_output=True, text=True, timeout=120)
    run(tools / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(tools / "pg_ctl", "-D", data, "-o", options, "-l", folder / "server.log", "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(tools / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
