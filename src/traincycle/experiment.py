"""DVC experiments driven from Python: run one, find its commit, read files from it.

`traincycle tune` runs every trial through these functions so each trial is an ordinary
`dvc exp run` that `dvc exp show`, `dvc exp apply` and `dvc exp branch` know about.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from traincycle.errors import ConfigError, DataError, UserError, one_line

#: experiment names DVC accepts (git ref components; no spaces, no `..`, no leading dash)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
#: what DVC prints when another DVC process holds the repository lock, or git's lock on the
#: experiments' stash ref (two tune workers of a shared study starting trials in one clone);
#: either way nothing ran yet, so the command is retried
LOCK_BUSY = ("Unable to acquire lock", "is busy, it is being blocked by")
LOCK_RETRIES = 60
LOCK_WAIT_S = 0.5
#: DVC rewrites its rwlock file in place; a DVC process killed mid-write (a tune worker killed in
#: a trial's set-up) leaves it half-written, and DVC then refuses every later command in the repo
RWLOCK_CORRUPT = re.compile(r"Unable to read RWLock-file '([^']+)'\. JSON structure is corrupted")


class ExperimentFailed(UserError):
    """A `dvc exp run` exited non-zero (the stage's own error is in the message)."""


def format_value(value: Any) -> str:
    """Render a param value for `-S key=value` so it lands in params.yaml with its type intact.

    DVC parses the value with Hydra's grammar and writes it back with ruamel (YAML 1.2), while
    the stages read params.yaml with PyYAML (YAML 1.1). Two mismatches bite: a float whose
    shortest form has no dot (``1e-05``) is read back as the *string* '1e-05', and words such as
    ``yes``/``off`` turn into booleans. Floats are therefore nudged by one ulp when needed (the
    nearest float with a dotted mantissa) and ambiguous strings are refused.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"param value {value!r}: expected a finite number")
        return repr(yaml_float(value))
    if isinstance(value, str):
        if yaml.safe_load(value) != value or not re.fullmatch(r"[A-Za-z0-9_.+/-]+", value):
            raise ConfigError(
                f"param value {value!r}: would not survive `dvc exp run -S` as a string "
                "(YAML reads it as another type or it needs quoting); choose another name"
            )
        return value
    raise ConfigError(f"param value {value!r}: expected a number, string or boolean")


def yaml_float(value: float) -> float:
    """`value`, or its nearest neighbour, whose repr PyYAML reads back as a float."""
    while _dotless(repr(value)):
        value = math.nextafter(value, math.inf)
    return value


def _dotless(text: str) -> bool:
    mantissa = text.lower().split("e")[0]
    return "e" in text.lower() and "." not in mantissa


def override_args(overrides: Mapping[str, Any]) -> list[str]:
    """`-S key=value` arguments for `dvc exp run`, in the mapping's order."""
    args: list[str] = []
    for key, value in overrides.items():
        args += ["-S", f"{key}={format_value(value)}"]
    return args


def dvc_env() -> dict[str, str]:
    """Environment for child `dvc` processes: this interpreter's bin dir first on PATH.

    Stage commands call `python` from PATH; putting the running environment first makes
    experiments (and their temp copies under .dvc/tmp) use the project's environment.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("TRACEBACK", None)
    return env


def dvc(
    *args: str,
    cwd: str | Path = ".",
    check: bool = True,
    cores: Sequence[int] = (),
    environ: Mapping[str, str] | None = None,
    wait: bool = False,
) -> subprocess.CompletedProcess:
    """Run `dvc <args>` in `cwd`, capturing output; raise ExperimentFailed on failure.

    With `cores`, the command runs pinned to them with BLAS/OpenMP threads limited to match;
    `environ` adds variables to its environment; `wait`: DVC waits for its repository lock
    (`--wait-for-lock`). DVC holds the repository lock while it sets an experiment up; a
    parallel trial that meets it without waiting (or meets git's lock on the stash ref) retries
    instead of failing.
    """
    from traincycle.pinning import child_env, pinned

    env = {**(child_env(dvc_env(), len(cores)) if cores else dvc_env()), **(environ or {})}
    # POSIX subprocess looks `dvc` up on env's PATH, so the project's dvc wins
    command = pinned(["dvc", *(["--wait-for-lock"] if wait else []), *args], cores)
    for attempt in range(LOCK_RETRIES + 1):
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        corrupt = RWLOCK_CORRUPT.search(result.stderr + result.stdout)
        busy = any(text in result.stderr + result.stdout for text in LOCK_BUSY) or bool(
            corrupt and repair_rwlock(Path(cwd) / corrupt.group(1)))
        if result.returncode == 0 or not busy or attempt == LOCK_RETRIES:
            break
        time.sleep(LOCK_WAIT_S * (1 + attempt % 3))
    if check and result.returncode != 0:
        command = " ".join(args[:2])
        raise ExperimentFailed(f"dvc {command} failed: {last_error(result.stderr + result.stdout)}")
    return result


def repair_rwlock(path: Path) -> bool:
    """Reset DVC's rwlock file at `path` if it is still not JSON; True when it was reset.

    Checked again under DVC's own guard of the file, so a write in progress is never taken for
    a broken one. The locks it recorded belonged to processes that died with the writer or are
    lost with the truncated file either way; an empty lock table lets DVC go on.
    """
    import json

    from dvc.lock import make_lock

    with make_lock(str(path.with_name(path.name + ".lock")), tmp_dir=str(path.parent)):
        try:
            json.loads(path.read_text(encoding="utf-8"))
            return False
        except FileNotFoundError:
            return False
        except (json.JSONDecodeError, UnicodeDecodeError):
            path.write_text(json.dumps({"read": {}, "write": {}}), encoding="utf-8")
            return True


def last_error(output: str) -> str:
    """The most telling line of a failed command's output (the stage's one-line error)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    # a stage's own one-line error says more than DVC's "ERROR: failed to reproduce ..."
    for prefixes in (("error:", "internal error:"), ("ERROR:",)):
        for line in reversed(lines):
            if line.startswith(prefixes):
                return one_line(line)
    return one_line(lines[-1]) if lines else "no output"


def run_experiment(
    name: str,
    overrides: Mapping[str, Any],
    *,
    cwd: str | Path = ".",
    temp: bool = True,
    force: bool = False,
    targets: Sequence[str] = (),
    downstream: bool = False,
    single: bool = False,
    cores: Sequence[int] = (),
    environ: Mapping[str, str] | None = None,
) -> str:
    """Run `dvc exp run --name NAME -S ...` and return the experiment's commit sha.

    `temp` runs it in a copy under .dvc/tmp (the workspace stays untouched and every trial
    starts from the same baseline); `force` reruns the stages even if DVC has them cached
    (with `targets` and `downstream`: only those stages and the ones after them; with `single`:
    only the targets themselves); `cores`, `environ`: see `dvc`.
    """
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"experiment name {name!r}: use letters, digits, '_', '-' and '.'")
    args = ["exp", "run", "--name", name, *override_args(overrides)]
    if temp:
        args.append("--temp")
    if force:
        args.append("--force")
    if downstream:
        args.append("--downstream")
    if single:
        args.append("--single-item")
    # wait for DVC's repository lock instead of failing after 3 s: `exp run` holds it while it
    # stashes a trial and takes it again after the trial is collected, so a trial meeting another
    # one's stash either restarted DVC (seconds of a core) or failed after training
    result = dvc(*args, *targets, cwd=cwd, check=False, cores=cores, environ=environ, wait=True)
    if result.returncode != 0:
        raise ExperimentFailed(
            f"experiment {name} failed: {last_error(result.stderr + result.stdout)}"
        )
    rev = experiment_rev(name, cwd=cwd)
    if rev is None:
        raise ExperimentFailed(f"experiment {name}: dvc reported success but left no exp ref")
    return rev


def git(*args: str, cwd: str | Path = ".") -> str:
    """Run a read-only git command and return its stdout; raise DataError on failure."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataError(f"git {' '.join(args[:2])}: {one_line(result.stderr or 'failed')}")
    return result.stdout


def experiment_rev(name: str, *, cwd: str | Path = ".") -> str | None:
    """Commit of experiment `name` based on the current HEAD, or None if there is none."""
    head = git("rev-parse", "HEAD", cwd=cwd).strip()
    ref = f"refs/exps/{head[:2]}/{head[2:]}/{name}"
    out = git("for-each-ref", "--format=%(objectname)", ref, cwd=cwd).strip()
    return out or None


def experiment_names(*, cwd: str | Path = ".") -> list[str]:
    """Names of the experiments based on the current HEAD, sorted."""
    head = git("rev-parse", "HEAD", cwd=cwd).strip()
    out = git("for-each-ref", "--format=%(refname)", f"refs/exps/{head[:2]}/{head[2:]}", cwd=cwd)
    return sorted(line.rsplit("/", 1)[1] for line in out.splitlines() if line)


def read_at_rev(rev: str, path: str, *, cwd: str | Path = ".") -> str:
    """Text of `path` at commit `rev`: git-tracked files directly, DVC-tracked ones via dvc.api."""
    result = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True)
    if result.returncode == 0:
        return result.stdout.decode("utf-8")
    import dvc.api  # heavy; only for DVC-cached outputs

    try:
        return dvc.api.read(path, repo=str(cwd), rev=rev, mode="r")
    except Exception as exc:  # dvc raises many types (missing path, missing cache)
        raise DataError(f"{path} at {rev[:7]}: not readable ({type(exc).__name__})") from None


def lookup(doc: Any, key: str, where: str) -> float:
    """The number at dotted `key` in a parsed metrics document."""
    node = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            have = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
            raise DataError(f"{where}: no key {key!r} (found: {have})")
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise DataError(f"{where}: {key!r} is {node!r}, expected a number")
    return float(node)
