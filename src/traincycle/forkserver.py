"""Run a stage script in a process forked from one whose heavy libraries are already imported.

Each stage of `dvc repro` is a new Python process, and each imports pandas, pyarrow, SciPy,
scikit-learn, Great Expectations... again: about a third of a cold repro (docs/performance.md).
``python -m traincycle.forkserver SCRIPT ARGS...`` (each stage's command in dvc.yaml) runs
SCRIPT as ``python SCRIPT ARGS...`` would, in a child forked from a server that imported those
libraries once:

- the child gets this process's argv, working directory, environment, umask, CPU affinity,
  priority and its stdin, stdout and stderr themselves (passed over the socket); its exit status
  is this process's; SIGINT, SIGTERM and SIGHUP sent here reach it, and it ends if this
  process dies;
- the server holds third-party libraries only: the stage's own code (``traincycle``, the
  script) is imported afresh by every child, so an edit is always seen;
- one server per interpreter, installed-library set and environment (the key), on a Unix
  socket in a private per-user folder. A launch that finds none starts one and runs its own
  stage in this process meanwhile; the server takes requests between its imports, and exits
  after ``TRAINCYCLE_FORKSERVER_IDLE`` seconds (default 30) without one.

``TRAINCYCLE_FORKSERVER=0`` runs every stage in this process (as ``python SCRIPT`` would), as
do platforms other than Linux. The server runs with this interpreter's options (``-O``, ``-X``,
``-W``...), which are part of the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any, NoReturn

#: what the server imports, in order: what the stages import at start-up on tabular data
PRELOAD = ("numpy", "pyarrow", "pandas", "pyarrow.parquet", "yaml", "click", "scipy.stats", "sklearn",
           "sklearn.metrics", "sklearn.model_selection", "sklearn.preprocessing", "sklearn.pipeline",
           "sklearn.linear_model", "xgboost", "skops.io", "great_expectations", "onnx", "skl2onnx")
#: environment variables that change from one stage, run or test to the next and that no library
#: reads on import (DVC names the stage and experiment; pytest the test): one server serves them all
UNKEYED = ("PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TRAINCYCLE_FORKSERVER_IDLE")
UNKEYED_PREFIXES = ("DVC_", "PYTEST_")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STATUS = struct.Struct("!i")
_LENGTH = struct.Struct("!Q")


def main(argv: list[str]) -> NoReturn:
    """Run `argv` (SCRIPT ARGS...) in a forked child of the warm server, or here."""
    if not argv:
        raise SystemExit("usage: python -m traincycle.forkserver SCRIPT [ARGS...]")
    path = socket_path(server_key()) if usable() else None
    # a path longer than AF_UNIX allows, or a socket folder others could enter: run here
    if path is not None and len(os.fsencode(path)) < 108 and private(path.parent):
        conn = connect(path)
        if conn is not None:
            raise SystemExit(run_remote(conn, argv))
        start_server(path)
    run_here(argv)
    raise SystemExit(0)


def usable() -> bool:
    """Whether stages may run forked: Linux, not switched off, stdin, stdout and stderr open (they
    are handed over), no library shadowed."""
    return (sys.platform == "linux" and hasattr(socket, "send_fds")
            and os.environ.get("TRAINCYCLE_FORKSERVER", "1") != "0" and all(map(is_open, (0, 1, 2)))
            and not shadowed())


def is_open(fd: int) -> bool:
    """Whether file descriptor `fd` is open (a daemon may start its commands with one closed)."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def project_paths() -> list[str]:
    """The entries of sys.path inside the working directory: the project's own code (``src``)."""
    cwd = os.getcwd()
    return [p for p in sys.path[1:] if p == cwd or p.startswith(cwd + os.sep)]


def shadowed() -> bool:
    """Whether the project's own code has a module named like a preloaded library: the server's
    copy of that library would not be the one this process imports."""
    names = {name.split(".")[0] for name in PRELOAD}
    return any(os.path.exists(os.path.join(entry, name)) or os.path.exists(os.path.join(entry, f"{name}.py"))
               for entry in project_paths() for name in names)


def server_key() -> str:
    """A digest of everything that decides what the server's imports load: the interpreter, the
    library folders and when they last changed (an install), the environment and this code; and
    the container (`namespaces`).

    The project's own folders are left out, so the projects of one environment share a server
    (`shadowed` checks they hide no preloaded library); [0] is the working directory (-m).
    """
    own = set(project_paths())
    stamps = [(p, os.stat(p).st_mtime_ns if os.path.isdir(p) else 0) for p in sys.path[1:] if p not in own]
    env = sorted((k, v) for k, v in os.environ.items()
                 if k not in UNKEYED and not k.startswith(UNKEYED_PREFIXES))
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    flags = [repr(sys.flags), sys.warnoptions, repr(sys._xoptions)]  # -O, -B, -X ..., -W ...
    blob = json.dumps([sys.executable, sys.version, flags, stamps, env, code, namespaces()])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def namespaces() -> list[str]:
    """This process's mount and pid namespaces: containers that share a /tmp (same user, same
    image) must not reach each other's server, whose children would see the other's files."""
    names = []
    for kind in ("mnt", "pid"):
        try:
            names.append(os.readlink(f"/proc/self/ns/{kind}"))
        except OSError:
            names.append("")
    return names


def socket_path(key: str) -> Path:
    """The server's socket, in a folder only this user can enter."""
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"traincycle-forkserver-{os.getuid()}"
    return folder / f"{key}.sock"


def private(folder: Path) -> bool:
    """Create `folder` (mode 700) if needed; whether it is this user's and closed to others."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o077 and folder.is_dir()


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def connect(path: Path) -> socket.socket | None:
    """A connection to this user's server at `path`, or None when there is none."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        if peer_uid(conn) == os.getuid():
            return conn
    except OSError:
        pass
    conn.close()
    return None


def start_server(path: Path) -> None:
    """Start the server of socket `path`, detached: it outlives this process and holds none of
    its files."""
    import subprocess

    boot = ("import sys; sys.path[:] = sys.argv[2:]; "
            "from traincycle.forkserver import serve; serve(sys.argv[1])")
    package_root = str(Path(__file__).resolve().parents[1])  # this traincycle, wherever it was found
    flags = subprocess._args_from_interpreter_flags()  # this interpreter's -O, -B, -X, -W options
    subprocess.Popen(
        [sys.executable, *flags, "-c", boot, str(path), package_root, *sys.path[1:]],
        cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


def run_here(argv: list[str]) -> None:
    """Run SCRIPT ARGS... in this process, as ``python SCRIPT ARGS...`` would: a fresh __main__
    (absolute __file__), sys.argv as given, the script's folder first on sys.path."""
    import builtins
    import io
    import types
    from importlib.machinery import SourceFileLoader

    script = os.path.abspath(argv[0])
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(script)
    with io.open_code(script) as file:
        code = compile(file.read(), script, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=builtins,
                         __loader__=SourceFileLoader("__main__", script))
    sys.modules["__main__"] = main
    exec(code, main.__dict__)  # what the interpreter does with a script


def run_remote(conn: socket.socket, argv: list[str]) -> int:
    """Have the server run `argv` with this process's context; its exit status."""
    request = json.dumps({
        "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path[1:],
        "umask": current_umask(), "affinity": sorted(os.sched_getaffinity(0)),
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
    }).encode()
    message = _LENGTH.pack(len(request)) + request
    sent = socket.send_fds(conn, [message[:65536]], [0, 1, 2])
    conn.sendall(message[sent:])

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):  # the stage has just ended
            conn.send(bytes([signum]))

    for signum in FORWARDED:
        signal.signal(signum, forward)
    status = _recv_exact(conn, _STATUS.size)
    if len(status) < _STATUS.size:  # the server died before the stage ended
        print("traincycle.forkserver: the server ended before the stage did", file=sys.stderr)
        return 1
    code = _STATUS.unpack(status)[0]
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell reports it


def current_umask() -> int:
    """This process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def serve(path_name: str) -> None:
    """The server: one per key, while another holds the key's lock it leaves at once."""
    import fcntl
    import importlib
    import select

    try:
        idle = float(os.environ.get("TRAINCYCLE_FORKSERVER_IDLE", "30"))
    except ValueError:
        idle = 30.0  # a malformed setting must not cost every stage a failed server start
    path = Path(path_name)
    lock = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 - held for the server's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path_name)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` it: the socket goes too
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)

    def serve_ready(timeout: float | None) -> bool:
        ready, _, _ = select.select([listener, *children], [], [], timeout)
        for item in ready:
            if item is listener:
                accept(listener, children, lock)
            else:
                report(item, children)
        return bool(ready)

    with contextlib.suppress(OSError):  # started by a pinned launcher: import on any core
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception:  # the stage's own import reports it
                continue
            serve_ready(0)
        while serve_ready(None if children else idle) or children:
            pass
        path.unlink(missing_ok=True)  # idle: no launcher finds it now; serve those already queued
        while serve_ready(None if children else 0):
            pass
    finally:
        path.unlink(missing_ok=True)


def accept(listener: socket.socket, children: dict[int, tuple[int, socket.socket]], lock: Any) -> None:
    """Take one connection: fork the child that runs it and track it by a pidfd."""
    conn, _ = listener.accept()
    if peer_uid(conn) != os.getuid():
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        listener.close()
        lock.close()
        for pidfd, (_, other) in children.items():
            os.close(pidfd)
            other.close()
        run_child(conn)
    children[os.pidfd_open(pid)] = (pid, conn)


def report(pidfd: int, children: dict[int, tuple[int, socket.socket]]) -> None:
    """A child ended: send its exit status to whoever launched it."""
    pid, conn = children.pop(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):  # the launcher is gone
        conn.sendall(_STATUS.pack(os.waitstatus_to_exitcode(status)))
    conn.close()


def run_child(conn: socket.socket) -> NoReturn:
    """In the forked child: take on the launcher's context, run its script, exit as Python would."""
    code = 1
    try:
        request = receive(conn)
        adopt(request)
        watch(conn)
        code = execute(request["argv"])
    except BaseException:  # taking on the context failed: say why, on its stderr
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def receive(conn: socket.socket) -> dict[str, Any]:
    """The launcher's request, with its stdin, stdout and stderr put in place as fds 0, 1, 2."""
    first, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    (length,) = _LENGTH.unpack(first[:_LENGTH.size])
    body = first[_LENGTH.size:]
    return json.loads(body + _recv_exact(conn, length - len(body)))


def adopt(request: dict[str, Any]) -> None:
    """Take on the launcher's working directory, environment, umask, cores, priority and path."""
    import time

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.umask(request["umask"])
    with contextlib.suppress(OSError):  # a core outside this container, a priority only root may set
        os.sched_setaffinity(0, request["affinity"])
        os.setpriority(os.PRIO_PROCESS, 0, request["priority"])
    sys.path[:] = ["", *request["path"]]
    for name in [m for m in sys.modules if m == "traincycle" or m.startswith("traincycle.")]:
        del sys.modules[name]  # the project's own code, imported afresh from its path
    # as Python starts, whatever the server inherited (nohup, `&`) or set (its SIGTERM handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.stdout.reconfigure(line_buffering=os.isatty(1))


def watch(conn: socket.socket) -> None:
    """Deliver the signals the launcher forwards; end this child when the launcher is gone."""
    import threading

    def loop() -> None:
        while data := conn.recv(16):
            for signum in data:
                os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=loop, name="forkserver-watch", daemon=True).start()


def execute(argv: list[str]) -> int:
    """Run the script, then what Python runs at exit; the exit status Python would give."""
    import atexit
    import ctypes
    import threading

    try:
        run_here(argv)
        code = 0
    except SystemExit as exc:
        code = exit_code(exc.code)
    except BaseException as exc:  # reported as the interpreter would; Ctrl-C exits as a SIGINT
        sys.excepthook(*sys.exc_info())
        code = 128 + signal.SIGINT if isinstance(exc, KeyboardInterrupt) else 1
    # what the interpreter does at exit: stop executors and join non-daemon threads, run atexit
    # callbacks, flush Python's streams and C's stdio (a library printing through printf)
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed by the script, or a broken pipe
            stream.flush()
    ctypes.CDLL(None).fflush(None)
    return code


def exit_code(value: object) -> int:
    """The status `sys.exit(value)` gives: None is 0, an int itself, anything else printed and 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main(sys.argv[1:])
