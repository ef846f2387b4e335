"""A DVC rwlock file left half-written by a killed DVC process no longer stops later runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from traincycle import experiment


def dvc_repo(root: Path) -> Path:
    """A git + DVC repository with one stage."""
    root.mkdir()
    (root / "dvc.yaml").write_text("stages:\n  one:\n    cmd: echo 1 > out.txt\n    outs: [out.txt]\n")
    env = experiment.dvc_env()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    return root


def test_a_half_written_rwlock_is_reset_and_the_command_retried(tmp_path):
    repo = dvc_repo(tmp_path / "repo")
    rwlock = repo / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text('{"read": {"out.txt": [{"pid": 1, "cm')  # the writer was killed here

    result = experiment.dvc("repro", cwd=repo)

    assert result.returncode == 0
    assert (repo / "out.txt").read_text().strip() == "1"
    held = json.loads(rwlock.read_text())  # DVC rewrote it after the run: nothing held
    assert not any(held.get(kind) for kind in ("read", "write"))


def test_a_valid_or_missing_rwlock_is_left_alone(tmp_path):
    path = tmp_path / "rwlock"
    assert not experiment.repair_rwlock(path)
    held = {"read": {}, "write": {"out.txt": {"pid": 7, "cmd": "dvc repro"}}}
    path.write_text(json.dumps(held))
    assert not experiment.repair_rwlock(path)
    assert json.loads(path.read_text()) == held
