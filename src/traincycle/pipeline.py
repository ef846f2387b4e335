"""Read the pipeline definition (dvc.yaml) without DVC: stage names and resolved commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from traincycle.errors import ConfigError

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def read_spec(path: str | Path) -> dict:
    """dvc.yaml as a mapping, or a one-line ConfigError naming the file."""
    try:
        spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the pipeline file ({type(exc).__name__})") from None
    return spec if isinstance(spec, dict) else {}


def stage_deps(path: str | Path, stage: str) -> list[str]:
    """The dependency paths of `stage` in dvc.yaml (a dep may carry options: its key)."""
    deps = ((read_spec(path).get("stages") or {}).get(stage) or {}).get("deps") or []
    return [next(iter(d)) if isinstance(d, dict) else str(d) for d in deps]


def stage_commands(repo: str | Path = ".") -> dict[str, str]:
    """Each stage's `cmd` from dvc.yaml with `${var}` references resolved from its `vars`."""
    path = Path(repo) / "dvc.yaml"
    spec = read_spec(path)
    variables: dict[str, object] = {}
    for entry in spec.get("vars", []):
        if isinstance(entry, dict):
            variables.update(entry)

    def resolve(match: re.Match) -> str:
        value: object = variables
        for key in match.group(1).split("."):
            if not isinstance(value, dict) or key not in value:
                raise ConfigError(f"{path}: unknown variable ${{{match.group(1)}}}")
            value = value[key]
        return str(value)

    return {name: _REFERENCE.sub(resolve, stage["cmd"]) for name, stage in spec["stages"].items()}


def stage_script(cmd: str) -> tuple[str, list[str]]:
    """The Python script a stage command runs (its first ``*.py`` word) and the script's arguments;
    what comes before (``PYTHONPATH=src python -m traincycle.forkserver``) is the launcher."""
    words = shlex.split(cmd)
    for index, word in enumerate(words):
        if word.endswith(".py"):
            return word, words[index + 1:]
    raise ConfigError(f"stage command runs no Python script: {cmd}")
