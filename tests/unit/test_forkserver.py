"""traincycle.forkserver: a stage launched through it behaves as `python SCRIPT` would, whether it
runs in the launcher itself (no server yet) or in a child forked from the warm server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from traincycle import forkserver
from traincycle.errors import ConfigError
from traincycle.pipeline import stage_commands, stage_script

from conftest import ROOT

REPORT = textwrap.dedent("""
    import json, os, sys
    warm = "numpy" in sys.modules  # the launcher imports no numpy; the server has
    import traincycle.pipeline
    print("to stdout")
    print("to stderr", file=sys.stderr)
    json.dump({"warm": warm, "argv": sys.argv, "cwd": os.getcwd(), "flag": os.environ.get("FLAG"),
               "umask": os.umask(0), "cores": sorted(os.sched_getaffinity(0)), "path0": sys.path[0],
               "code": traincycle.pipeline.__file__, "main": __name__, "optimize": sys.flags.optimize,
               "warnoptions": sys.warnoptions}, open("report.json", "w"))
    sys.exit(int(sys.argv[1]))
""")


def socket_folder() -> Iterator[Path]:
    """A private socket folder (short: a socket path has at most 107 bytes); every server started
    there is stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tcfs", dir="/tmp"))
    yield folder
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in proc.info["cmdline"] or []):
            proc.terminate()
    shutil.rmtree(folder, ignore_errors=True)


#: one folder for the module: its tests share a server where their environments match
runtime = pytest.fixture(scope="module")(socket_folder)
fresh_runtime = pytest.fixture(socket_folder)


def environment(runtime: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": "src",
           "TRAINCYCLE_FORKSERVER": "1", "TRAINCYCLE_FORKSERVER_IDLE": "60", **extra}
    env.pop("TRACEBACK", None)
    return env


def project(tmp: Path, name: str = "proj") -> Path:
    """A project folder with its own copy of traincycle under src/ and the REPORT script."""
    root = tmp / name
    shutil.copytree(ROOT / "src" / "traincycle", root / "src" / "traincycle",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "stages").mkdir()
    (root / "stages" / "report.py").write_text(REPORT)
    return root


def launch(cwd: Path, env: dict[str, str], *args: str, prefix: tuple[str, ...] = (),
           options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, *options, "-m", "traincycle.forkserver", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def warm_up(root: Path, env: dict[str, str], options: tuple[str, ...] = ()) -> None:
    """Launch the REPORT script until it runs forked from a server (the first launch starts one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert launch(root, env, "stages/report.py", "0", options=options).returncode == 0
        if json.loads((root / "report.json").read_text())["warm"]:
            return
        time.sleep(0.2)
    raise AssertionError("no fork server answered")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_forked_stage_runs_as_the_launcher_would(tmp_path: Path, runtime: Path) -> None:
    root = project(tmp_path)
    env = environment(runtime, FLAG="on")
    cold = launch(root, env, "stages/report.py", "3", "--opt", "x y")
    first = json.loads((root / "report.json").read_text())
    warm_up(root, env)
    warm = launch(root, env, "stages/report.py", "3", "--opt", "x y")
    second = json.loads((root / "report.json").read_text())
    plain = subprocess.run([sys.executable, "stages/report.py", "3", "--opt", "x y"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
    third = json.loads((root / "report.json").read_text())
    assert (first["warm"], second["warm"], third["warm"]) == (False, True, False)
    for run in (cold, warm, plain):
        assert (run.returncode, run.stdout, run.stderr) == (3, "to stdout\n", "to stderr\n")
    for report in (first, second, third):
        assert report["argv"] == ["stages/report.py", "3", "--opt", "x y"]
        assert report["flag"] == "on" and report["main"] == "__main__"
        assert report["cwd"] == str(root) and report["path0"] == str(root / "stages")
        assert report["code"] == str(root / "src" / "traincycle" / "pipeline.py")
        assert report["umask"] == third["umask"] and report["cores"] == third["cores"]


def test_each_project_gets_its_own_code_from_a_shared_server(tmp_path: Path, runtime: Path) -> None:
    """Projects of one environment share a server; each child imports its project's traincycle."""
    first, second = project(tmp_path, "first"), project(tmp_path, "second")
    env = environment(runtime)
    warm_up(first, env)
    assert launch(second, env, "stages/report.py", "0").returncode == 0
    report = json.loads((second / "report.json").read_text())
    assert report["warm"] and report["code"] == str(second / "src" / "traincycle" / "pipeline.py")


@pytest.mark.parametrize(("body", "code", "stderr"), [
    ("import sys; sys.exit('stopped: bad value')", 1, "stopped: bad value\n"),
    ("raise ValueError('boom')", 1, "ValueError: boom"),
    ("import sys; sys.exit(None)", 0, ""),
    ("import sys; sys.exit(258)", 2, ""),
])
def test_exit_status_and_errors_are_pythons(tmp_path: Path, runtime: Path, body: str, code: int,
                                            stderr: str) -> None:
    root = project(tmp_path)
    (root / "stages" / "end.py").write_text(body + "\n")
    env = environment(runtime)
    warm_up(root, env)
    run = launch(root, env, "stages/end.py")
    assert run.returncode == code and stderr in run.stderr
    assert ("Traceback" in run.stderr) == ("raise" in body)


def test_the_stage_ends_as_python_ends(tmp_path: Path, runtime: Path) -> None:
    """Threads joined and executors stopped, C's stdio flushed (it is a pipe here: buffered)."""
    root = project(tmp_path)
    (root / "stages" / "ends.py").write_text(textwrap.dedent("""
        import ctypes, threading, time
        from concurrent.futures import ThreadPoolExecutor
        ThreadPoolExecutor(1).submit(time.sleep, 0.2)  # never shut down by the script
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True))).start()
        ctypes.CDLL(None).printf(b"from C\\n")
    """))
    env = environment(runtime)
    warm_up(root, env)
    run = launch(root, env, "stages/ends.py")
    assert run.returncode == 0 and sorted(run.stdout.splitlines()) == ["from C", "thread done"]


@pytest.mark.parametrize(("how", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM),
                                           (signal.SIGINT, 128 + signal.SIGINT),
                                           (signal.SIGKILL, -signal.SIGKILL)])
def test_signals_reach_the_stage_and_it_ends_with_its_launcher(tmp_path: Path, runtime: Path,
                                                               how: signal.Signals, code: int) -> None:
    root = project(tmp_path)
    (root / "stages" / "wait.py").write_text(
        "import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n")
    env = environment(runtime)
    warm_up(root, env)
    proc = subprocess.Popen([sys.executable, "-m", "traincycle.forkserver", "stages/wait.py"], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stage = int(proc.stdout.readline())
    assert stage != proc.pid  # it runs in a forked child, not in the launcher
    proc.send_signal(how)
    assert proc.wait(timeout=30) == code
    deadline = time.monotonic() + 30
    while alive(stage):
        assert time.monotonic() < deadline, "the stage outlived its launcher"
        time.sleep(0.05)
    if how == signal.SIGINT:
        assert "KeyboardInterrupt" in proc.stderr.read()


def test_the_stage_keeps_its_launchers_cores(tmp_path: Path, runtime: Path) -> None:
    root = project(tmp_path)
    env = environment(runtime)
    warm_up(root, env)
    core = str(min(os.sched_getaffinity(0)))
    assert launch(root, env, "stages/report.py", "0", prefix=("taskset", "-c", core)).returncode == 0
    report = json.loads((root / "report.json").read_text())
    assert report["warm"] and report["cores"] == [int(core)]


def test_the_stage_runs_with_the_launchers_interpreter_options(tmp_path: Path, runtime: Path) -> None:
    root = project(tmp_path)
    options = ("-O", "-W", "error::DeprecationWarning")
    warm_up(root, environment(runtime), options)
    report = json.loads((root / "report.json").read_text())
    assert report["optimize"] == 1 and report["warnoptions"] == ["error::DeprecationWarning"]
    assert launch(root, environment(runtime), "stages/report.py", "0").returncode == 0
    assert json.loads((root / "report.json").read_text())["optimize"] == 0  # another server


def test_a_launcher_with_stdin_closed_runs_its_stage_itself(tmp_path: Path, runtime: Path) -> None:
    root = project(tmp_path)
    env = environment(runtime)
    warm_up(root, env)
    run = subprocess.run([sys.executable, "-m", "traincycle.forkserver", "stages/report.py", "0"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.close(0))
    assert run.returncode == 0 and run.stdout == "to stdout\n"
    assert not json.loads((root / "report.json").read_text())["warm"]


def test_switched_off_it_runs_every_stage_in_the_launcher(tmp_path: Path, fresh_runtime: Path) -> None:
    root = project(tmp_path)
    runtime = fresh_runtime
    env = environment(runtime, TRAINCYCLE_FORKSERVER="0")
    for _ in range(2):
        assert launch(root, env, "stages/report.py", "0").returncode == 0
    assert not json.loads((root / "report.json").read_text())["warm"]
    assert not list(runtime.glob("traincycle-forkserver-*"))


def test_an_idle_server_leaves(tmp_path: Path, fresh_runtime: Path) -> None:
    root = project(tmp_path)
    warm_up(root, environment(fresh_runtime, TRAINCYCLE_FORKSERVER_IDLE="1"))
    deadline = time.monotonic() + 90  # its imports first, then 1 s without a request
    while list(fresh_runtime.glob("traincycle-forkserver-*/*.sock")):
        assert time.monotonic() < deadline, "the idle server stayed"
        time.sleep(0.2)


def test_a_project_module_named_like_a_preloaded_library_runs_unforked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", [str(root), str(root / "src"), *sys.path[1:]])
    assert not forkserver.shadowed()
    (root / "src" / "yaml.py").write_text("")
    assert forkserver.shadowed()


def test_every_stage_runs_its_own_script_through_the_launcher() -> None:
    for name, cmd in stage_commands(ROOT).items():
        assert cmd.startswith("PYTHONPATH=src python -m traincycle.forkserver stages/"), name
        script, args = stage_script(cmd)
        assert script == f"stages/{name}.py" and args and not any(a.endswith(".py") for a in args[:1])
    with pytest.raises(ConfigError, match="runs no Python script"):
        stage_script("echo hi")


def test_the_key_follows_what_imports_see_and_ignores_what_changes_per_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = forkserver.server_key()
    for name, value in (("DVC_STAGE", "train"), ("PYTEST_CURRENT_TEST", "t.py::x"), ("PWD", "/x")):
        monkeypatch.setenv(name, value)
    assert forkserver.server_key() == base
    threads = "3" if os.environ.get("OMP_NUM_THREADS") != "3" else "5"
    monkeypatch.setenv("OMP_NUM_THREADS", threads)  # read by OpenMP and BLAS when they load
    pinned = forkserver.server_key()
    assert pinned != base
    monkeypatch.setattr(forkserver, "namespaces", lambda: ["mnt:[1]", "pid:[2]"])  # another container
    assert forkserver.server_key() not in (base, pinned)
