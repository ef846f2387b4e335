"""Per-stage code fingerprints: what each dvc.yaml stage depends on instead of a list of modules.

The `sources` stage writes ``.sources/<stage>.sha256`` for every stage script: one line per file
the script runs (``traincycle.codegraph``), in `sha256sum`'s format, so ``sha256sum -c`` checks it
and ``git diff`` names the file that changed. DVC reruns `sources` when anything under
src/traincycle or stages/ changes; a stage then reruns only if the bytes of its own fingerprint
changed, i.e. an edit reruns exactly the stages whose code it touches. Each stage declares one
code dep instead of ~25 module paths, and DVC pays for every declared dep on every `dvc repro`
(reading, checking and rewriting its dvc.lock entry): docs/performance.md has the figures.
"""

from __future__ import annotations

from pathlib import Path

from traincycle.codegraph import build, script_files
from traincycle.errors import ConfigError
from traincycle.io import sha256_file


def fingerprint(root: Path, files: list[str]) -> str:
    """`sha256sum`-style lines for `files` (paths relative to `root`), in the order given."""
    return "".join(f"{sha256_file(root / name)}  {name}\n" for name in files)


def fingerprints(root: Path, scripts: list[Path]) -> dict[str, str]:
    """Each stage script's name (``train`` for stages/train.py) -> the fingerprint of its code."""
    missing = [str(script) for script in scripts if not (root / script).is_file()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such stage script (the sources stage's arguments in dvc.yaml)")
    try:
        graph = build(root)
        return {script.stem: fingerprint(root, script_files(graph, root / script)[0]) for script in scripts}
    except SyntaxError as exc:
        where, base = Path(exc.filename or "?"), root.resolve()
        where = where.relative_to(base) if where.is_relative_to(base) else where
        raise ConfigError(f"{where}:{exc.lineno}: cannot parse the module ({exc.msg})") from None
