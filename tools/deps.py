"""The import graph of src/traincycle and the dvc.yaml deps it implies (a dev tool, not runtime).

    python tools/deps.py            # each stage's src deps; what dvc.yaml misses or lists too much
    python tools/deps.py --write    # rewrite the src/traincycle lines of every stage's deps

A stage's src deps are the modules its script imports, transitively: every ``import`` anywhere in
a module (function-local ones too, they run), minus ``if TYPE_CHECKING:`` blocks, plus the parent
packages Python executes on the way, plus every member of a registry package that loads its
members by name (``importlib.import_module(f"traincycle.models.{name}")``). A package holding
data files (``datasets/``) is one directory dep, so editing its data reruns the stage too; so is
a package all of whose modules the stage imports (``models/`` for train): fewer entries in
dvc.yaml and dvc.lock make every `dvc repro` cheaper.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "traincycle"


@dataclass(frozen=True)
class Graph:
    """Modules of the package (name -> file) and their import edges (name -> imported names)."""

    root: Path
    files: dict[str, Path]
    edges: dict[str, set[str]]

    def path(self, module: str) -> str:
        """The module's file, relative to the repository root."""
        return self.files[module].relative_to(self.root).as_posix()


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module under src/traincycle: dotted name -> file (packages by their __init__.py)."""
    src = root / "src"
    files = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST):
    """Every node except those inside `if TYPE_CHECKING:` (never executed)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _registry_prefix(node: ast.Call) -> str | None:
    """'traincycle.models' for importlib.import_module(f"traincycle.models.{name}")."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name != "import_module" or not node.args or not isinstance(node.args[0], ast.JoinedStr):
        return None
    head = node.args[0].values[0] if node.args[0].values else None
    if isinstance(head, ast.Constant) and str(head.value).startswith(f"{PACKAGE}."):
        return str(head.value).rstrip(".")
    return None


def imports_of(path: Path, module: str, files: dict[str, Path]) -> set[str]:
    """The package's modules that `path` (module `module`, '' for a script) imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and (prefix := _registry_prefix(node)):
            found.update(name for name in files if name.startswith(f"{prefix}."))
    return {name for name in found if name in files and name != module}


def build(root: Path = ROOT) -> Graph:
    """The import graph of src/traincycle."""
    files = module_files(root)
    edges = {name: imports_of(path, name, files) for name, path in files.items()}
    return Graph(root, files, edges)


def parents(module: str) -> list[str]:
    """The packages Python executes before `module`: traincycle, traincycle.models, ..."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(graph: Graph, start: set[str]) -> dict[str, str | None]:
    """Every module reached from `start` (imports and parent packages) -> the module that led there."""
    seen: dict[str, str | None] = {}
    queue = deque((name, None) for name in sorted(start))
    while queue:
        name, via = queue.popleft()
        if name in seen:
            continue
        seen[name] = via
        for nxt in sorted(graph.edges[name] | set(parents(name))):
            if nxt not in seen:
                queue.append((nxt, name))
    return seen


def chain(reached: dict[str, str | None], module: str, script: str) -> str:
    """How `script` reaches `module`: 'stages/x.py -> traincycle.a -> traincycle.b'."""
    steps = [module]
    while (via := reached[steps[-1]]) is not None:
        steps.append(via)
    return " -> ".join([script, *reversed(steps)])


def _data_packages(graph: Graph) -> set[str]:
    """Packages that ship non-Python files (built-in datasets): a stage depends on the directory."""
    def owner(path: Path) -> Path:
        while not (path / "__init__.py").is_file():
            path = path.parent
        return path

    src = graph.root / "src"
    data = {
        owner(p.parent)
        for p in (src / PACKAGE).rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    }
    return {".".join(d.relative_to(src).parts) for d in data}


def _whole_packages(graph: Graph, reached: dict[str, str | None]) -> set[str]:
    """Subpackages every module of which is reached (a registry the stage loads by name).

    One directory dep covers such a package exactly, and each dep entry costs DVC time on every
    `dvc repro` (reading, checking and rewriting dvc.lock), so it replaces the per-module entries.
    """
    packages = {name for name, path in graph.files.items() if path.name == "__init__.py" and "." in name}
    whole = {
        pkg for pkg in packages
        if all(m in reached for m in graph.files if m == pkg or m.startswith(f"{pkg}."))
    }
    return {pkg for pkg in whole if not any(pkg.startswith(f"{outer}.") for outer in whole)}


def script_deps(graph: Graph, script: Path) -> tuple[list[str], dict[str, str | None]]:
    """The src deps of a stage script (sorted repo-relative paths) and how each module is reached.

    A module is listed by its file, unless its package is one directory dep: a package holding
    data files, or one whose every module the stage reaches.
    """
    reached = closure(graph, imports_of(script, "", graph.files))
    dirs = {pkg for pkg in _data_packages(graph) if pkg in reached} | _whole_packages(graph, reached)
    deps = set()
    for name in reached:
        owner = next((pkg for pkg in dirs if name == pkg or name.startswith(f"{pkg}.")), None)
        deps.add(graph.path(owner).rsplit("/", 1)[0] if owner else graph.path(name))
    return sorted(deps), reached


def dvc_stages(root: Path = ROOT) -> dict[str, dict]:
    """The stages of dvc.yaml."""
    return yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def src_entries(stage: dict) -> list[str]:
    """The src/traincycle deps a stage lists in dvc.yaml."""
    return [d for d in stage.get("deps", []) if isinstance(d, str) and d.startswith(f"src/{PACKAGE}")]


@dataclass(frozen=True)
class Mismatch:
    """A stage whose dvc.yaml src deps differ from its script's import closure."""

    stage: str
    missing: dict[str, str]  # dep -> the import chain that needs it
    extra: list[str]

    def __str__(self) -> str:
        lines = [f"stage {self.stage!r}: dvc.yaml deps differ from what stages/{self.stage}.py imports"]
        lines += [f"  missing {dep}  ({why})" for dep, why in sorted(self.missing.items())]
        lines += [f"  extra   {dep}  (not imported by the stage)" for dep in self.extra]
        lines.append("  fix: python tools/deps.py --write")
        return "\n".join(lines)


def check(root: Path = ROOT) -> list[Mismatch]:
    """Each stage whose src deps in dvc.yaml are not exactly its script's import closure."""
    graph = build(root)
    problems = []
    for stage, spec in dvc_stages(root).items():
        script = f"stages/{stage}.py"
        want, reached = script_deps(graph, root / script)
        have = src_entries(spec)
        missing = {}
        for dep in sorted(set(want) - set(have)):
            module = next(m for m in reached if graph.path(m) == dep or graph.path(m).startswith(f"{dep}/"))
            missing[dep] = chain(reached, module, script)
        extra = sorted(set(have) - set(want))
        if missing or extra:
            problems.append(Mismatch(stage, missing, extra))
    return problems


_ITEM = re.compile(r"^(\s*)- (\S+)")


def rewrite(text: str, wanted: dict[str, list[str]]) -> str:
    """dvc.yaml text with each stage's src/traincycle deps replaced by `wanted[stage]`.

    The new lines follow the stage's ``- stages/<stage>.py`` line; every other line (comments,
    data deps, params) stays as it is.
    """
    out: list[str] = []
    stage = None
    in_deps = False
    for line in text.splitlines(keepends=True):
        header = re.match(r"^  (\w[\w-]*):\s*$", line)
        if header:
            stage, in_deps = header.group(1), False
        elif re.match(r"^    deps:\s*$", line):
            in_deps = True
        elif re.match(r"^    \S", line):
            in_deps = False
        item = _ITEM.match(line)
        if in_deps and stage in wanted and item:
            if item.group(2).startswith(f"src/{PACKAGE}"):
                continue
            out.append(line)
            if item.group(2) == f"stages/{stage}.py":
                out.extend(f"{item.group(1)}- {dep}\n" for dep in wanted[stage])
            continue
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the src deps in dvc.yaml")
    args = parser.parse_args(argv)
    graph = build(ROOT)
    wanted = {stage: script_deps(graph, ROOT / f"stages/{stage}.py")[0] for stage in dvc_stages(ROOT)}
    if args.write:
        path = ROOT / "dvc.yaml"
        path.write_text(rewrite(path.read_text(encoding="utf-8"), wanted), encoding="utf-8")
    problems = check(ROOT)
    for stage, deps in wanted.items():
        print(f"{stage}: {' '.join(deps)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
