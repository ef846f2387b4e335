"""Every shell command in README.md and docs/*.md runs, in order, against a copy of the project.

The project is copied into a temporary git repository with shrunk params, `dvc repro` runs once
and is committed (the state after `make repro`), and each page then runs in its own copy of that
state. What each block is and how to mark one is in `docblocks.py`. A renamed command, flag or
params key therefore fails here instead of misleading a reader. Blocks marked slow run only in
the slow suite, whose page runs also execute every other block.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from docblocks import Block, DocError, parse, port_of
from test_pipeline import SHRINK, copy_project, sh, shrink

from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: the e2e shrink, plus smaller explanation samples and a two-trial study
DOC_SHRINK = {
    **SHRINK,
    "evaluate.shap_rows": 50,
    "evaluate.shap_background": 20,
    "optimize.latency_rows": 5,
    "optimize.quantize.calibration_rows": 64,
    "tune.trials": 2,
}
#: what the pages use beyond the pipeline sources copy_project takes
EXTRA_COPY = [".dvc/plots", "tune.yaml", "examples", "tests", "benchmarks", "Makefile",
              "pyproject.toml", "constraints.txt"]
#: params sections whose dataclass is not `<module>.<Section>Config` in the module of that name
CONFIGS = {"problem": ("traincycle.evaluate", "ProblemConfig"), "data": ("traincycle.config", "DataConfig"),
           "predict": ("traincycle.inputs", "PredictConfig")}
BLOCK_TIMEOUT = 1800


def env_for(repo: Path) -> dict[str, str]:
    """The environment of a user with the project's venv active, in `repo`."""
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "BROWSER": "true",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TRACEBACK", None)
    return env


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The project after `make repro`, shrunk and committed: the starting point of every page."""
    params = shrink(yaml.safe_load((ROOT / "params.yaml").read_text()), DOC_SHRINK)
    repo = copy_project(tmp_path_factory.mktemp("docs") / "repo", params, commit=False)
    for name in EXTRA_COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"),
                            dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, repo / name)
    git = ["git", "-c", "user.email=docs@test", "-c", "user.name=docs"]
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], [*git, "commit", "-qm", "init"]):
        assert sh(*cmd, cwd=repo).returncode == 0
    result = sh("dvc", "repro", cwd=repo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for cmd in (["git", "add", "-A"], [*git, "commit", "-qm", "dvc repro"]):
        assert sh(*cmd, cwd=repo).returncode == 0
    return repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_params(path: Path, sections: list[str]) -> None:
    """Load each section of `path` through its dataclass: unknown keys and bad values raise."""
    from traincycle.config import load_section

    for section in sections:
        if section == "seed":
            continue
        module, name = CONFIGS.get(section, (f"traincycle.{section}", f"{section.capitalize()}Config"))
        load_section(path, section, getattr(importlib.import_module(module), name))


def apply(block: Block, repo: Path) -> None:
    """Replace the sections `block` shows (as a reader pasting them would), then check them."""
    target = repo / block.apply
    new = yaml.safe_load(block.text)
    old = yaml.safe_load(target.read_text()) if target.exists() else {}
    target.write_text(yaml.safe_dump({**old, **new}, sort_keys=False))
    check_params(target, list(new))


def wait_for_port(port: int, proc: subprocess.Popen, block: Block) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"{block.where}: the server exited with {proc.returncode}:\n{out[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"{block.where}: nothing listened on port {port} within 300 s")


def run_page(blocks: list[Block], repo: Path, slow: bool) -> None:
    """Apply or run `blocks` in order in `repo`; fail naming the first block that misbehaves."""
    env, ports, servers = env_for(repo), {}, []
    try:
        for block in blocks:
            if block.skip or (block.slow and not slow) or block.lang in ("text", "json"):
                continue
            if block.apply:
                apply(block, repo)
                continue
            text = block.text
            if block.background and (port := port_of(block)):
                ports[port] = str(free_port())
            for doc_port, port in ports.items():
                text = re.sub(rf"\b{doc_port}\b", port, text)
            if block.background:
                proc = subprocess.Popen(["bash", "-c", f"exec {text.strip()}"], cwd=repo, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
                servers.append(proc)
                wait_for_port(int(ports[port_of(block)]), proc, block)
                continue
            result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", text], cwd=repo, env=env,
                                    capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
            assert result.returncode == block.exit_code, (
                f"{block.where}: exit {result.returncode}, expected {block.exit_code}\n{text}\n"
                f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    finally:
        for proc in servers:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def page_params():
    for page in PAGES:
        try:
            blocks = parse(page)
        except DocError:  # reported by test_every_page_parses
            continue
        if any((b.runs and not b.slow) or b.apply for b in blocks):
            yield pytest.param(page, False, id=page.name)
        if any(b.slow for b in blocks):
            yield pytest.param(page, True, id=f"{page.name}-all", marks=pytest.mark.slow)


@pytest.mark.parametrize(("page", "slow"), list(page_params()))
def test_page_commands_run(page: Path, slow: bool, base: Path, tmp_path: Path):
    repo = tmp_path / "repo"
    shutil.copytree(base, repo, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    run_page(parse(page), repo, slow)


def test_every_page_parses():
    """Every block is run, applied, shown or skipped with a reason; README has commands to run."""
    blocks = {page.name: parse(page) for page in PAGES}
    assert sum(b.runs for b in blocks["README.md"]) >= 5


# --- the runner itself: what it catches ------------------------------------------------------


def write_page(tmp_path: Path, body: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(body)
    return page


def test_a_renamed_flag_fails_the_page(tmp_path):
    page = write_page(tmp_path, "```sh\ntraincycle ledger --path-to x\n```\n")
    with pytest.raises(AssertionError, match=r"page\.md:1: exit 2, expected 0"):
        run_page(parse(page), tmp_path, slow=False)


def test_a_renamed_params_key_fails_the_page(tmp_path):
    from traincycle.errors import ConfigError

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    page = write_page(tmp_path, "<!-- apply: params.yaml -->\n```yaml\nsplit:\n  tran: 0.7\n```\n")
    with pytest.raises(ConfigError, match="params split: unknown key 'tran'"):
        run_page(parse(page), tmp_path, slow=False)


def test_expected_exit_codes_and_slow_blocks(tmp_path):
    page = write_page(tmp_path, "<!-- run: exit=3 -->\n```sh\nexit 3\n```\n"
                                "<!-- run: slow -->\n```sh\nexit 1\n```\n")
    run_page(parse(page), tmp_path, slow=False)
    with pytest.raises(AssertionError, match=r"page\.md:6: exit 1"):
        run_page(parse(page), tmp_path, slow=True)


@pytest.mark.parametrize(("body", "message"), [
    ("```\nls\n```\n", r"language '\(none\)'"),
    ("```bash\nls\n```\n", "language 'bash'"),
    ("```yaml\nseed: 1\n```\n", "needs `<!-- apply: params.yaml -->`"),
    ("<!-- not run: -->\n```sh\nls\n```\n", "needs a reason"),
    ("<!-- not run: needs a cluster -->\n```sh\nls\n```\n", "must say so in the text"),
    ("<!-- run: fast -->\n```sh\nls\n```\n", "unknown run option 'fast'"),
    ("```sh\nls\n", "unclosed code fence"),
])
def test_unplaceable_blocks_are_errors(tmp_path, body, message):
    with pytest.raises(DocError, match=message):
        parse(write_page(tmp_path, body))


def test_a_skipped_block_states_its_reason_to_the_reader(tmp_path):
    page = write_page(tmp_path, "Not run by the docs tests (needs a cluster):\n\n"
                                "<!-- not run: needs a cluster -->\n```sh\nexit 1\n```\n")
    (block,) = parse(page)
    assert block.skip == "needs a cluster" and not block.runs
    run_page([block], tmp_path, slow=True)
