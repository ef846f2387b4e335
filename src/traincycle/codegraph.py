"""The static import graph of src/traincycle: which of the package's files a stage script runs.

A stage's code is its script plus the package modules it reaches, counting an ``import`` where it
can run: a module's top-level code (class bodies, decorators and default values included) runs on
import, minus ``if TYPE_CHECKING:`` blocks; an import inside a top-level function counts once that
function can be called, i.e. once its name is used by code the stage runs (a name, an attribute,
an imported name or a string such as ``getattr(m, "hook")``, in the script, in the top-level code
of a reached module or in a function already counted). A name matches every function so called,
so the result errs on the side of too much; a function reached only through a name built at run
time (``getattr(m, f"hook_{x}")``) would be missed, and nothing in src/traincycle does that. Also
counted: the parent packages Python executes on the way, every member of a registry package that
loads its members by name (``importlib.import_module(f"traincycle.models.{name}")``), and every
file of a package that ships data (built-in datasets). `traincycle.sources` turns the result into
the per-stage fingerprints dvc.yaml depends on.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "traincycle"


@dataclass(frozen=True)
class Scope:
    """What one piece of code imports from the package and which names it uses."""

    imports: set[str]
    names: set[str]


@dataclass(frozen=True)
class Module:
    """A module's top-level code (runs on import) and its top-level functions (run when called)."""

    top: Scope
    functions: dict[str, Scope]
    #: names bound by a top-level ``from m import f`` -> ``m:f``, or ``g = f`` -> ``this:f``
    #: (each used when the name it binds is)
    aliases: dict[str, str]


@dataclass(frozen=True)
class Graph:
    """Modules of the package (name -> file), every import edge (name -> imported names, wherever
    the import is), each module's code split into top level and functions, and the packages that
    ship data files (name -> every file in the package, repo-relative)."""

    root: Path
    files: dict[str, Path]
    edges: dict[str, set[str]]
    modules: dict[str, Module]
    data: dict[str, list[str]]

    def path(self, module: str) -> str:
        """The module's file, relative to the repository root."""
        return self.files[module].relative_to(self.root).as_posix()


def module_files(root: Path) -> dict[str, Path]:
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


def _is_all(node: ast.AST) -> bool:
    """`__all__ = [...]`."""
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
    )


def _is_rename(node: ast.AST) -> bool:
    """`name = other_name` (a second name for a function)."""
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Name))


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


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` statement in `module` reads."""
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return base


def _getattr_name(node: ast.Call) -> str | None:
    """'hook' for getattr(x, "hook", ...) / hasattr(x, "hook"): a function looked up by its name."""
    func = getattr(node.func, "id", None)
    if func in {"getattr", "hasattr"} and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        return str(node.args[1].value)
    return None


def _scope(nodes: list[ast.AST], module: str, is_package: bool, files: dict[str, Path]) -> Scope:
    """The package modules imported and the names used by `nodes` and everything under them.

    A name known to mean a function of one module is qualified, ``module:function`` (a bare name
    means one of this module's own, ``from m import f`` names m's); an attribute, or the name in
    ``getattr(x, "name")``, may mean any module's function of that name and stays bare.
    """
    found: set[str] = set()
    names: set[str] = set()
    for tree in nodes:
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _from_base(node, module, is_package)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
                names.update(f"{base}:{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Call) and (prefix := _registry_prefix(node)):
                found.update(name for name in files if name.startswith(f"{prefix}."))
            elif isinstance(node, ast.Name):
                names.add(f"{module}:{node.id}")
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Call) and (attr := _getattr_name(node)):
                names.add(attr)
    return Scope({name for name in found if name in files and name != module}, names)


def scan(path: Path, module: str, files: dict[str, Path]) -> Module:
    """Module `module` (``''`` for a script) at `path`: its top-level code and its functions.

    A top-level function's decorators and default values run at import, so they count as
    top-level code; its body (nested functions included) runs when it is called.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    top: list[ast.AST] = []
    bodies: dict[str, list[ast.AST]] = {}
    aliases: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            top += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
            bodies.setdefault(node.name, []).extend(node.body)
        elif _is_rename(node):  # `featurize = featurize_images`: used when the new name is
            aliases[node.targets[0].id] = f"{module}:{node.value.id}"
        elif not _is_all(node):  # `__all__` lists names, it calls nothing (no one star-imports)
            top.append(node)
        if isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            aliases.update({alias.asname or alias.name: f"{base}:{alias.name}" for alias in node.names})
    scope = _scope(top, module, is_package, files)
    # a top-level `from m import f` binds f here; f is used when this module's code uses it
    scope = Scope(scope.imports, scope.names - set(aliases.values()))
    functions = {name: _scope(body, module, is_package, files) for name, body in bodies.items()}
    return Module(scope, functions, aliases)


def build(root: Path) -> Graph:
    """The import graph of src/traincycle under `root` (the repository)."""
    root = root.resolve()
    files = module_files(root)
    modules = {name: scan(path, name, files) for name, path in files.items()}
    edges = {name: m.top.imports.union(*(f.imports for f in m.functions.values()))
             for name, m in modules.items()}
    return Graph(root, files, edges, modules, data_packages(root))


def parents(module: str) -> list[str]:
    """The packages Python executes before `module`: traincycle, traincycle.models, ..."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_used(module: str, name: str, used: set[str]) -> bool:
    """Whether counted code uses `module`'s `name`: by that name in general (an attribute) or as
    that module's."""
    return name in used or f"{module}:{name}" in used


def closure(graph: Graph, start: Scope) -> dict[str, str | None]:
    """Every module reached from `start` (a script's code) -> the module that led there.

    A module reached runs its top-level code (imports, parent packages); a top-level function of
    a reached module counts, with its imports, once its name is used by counted code.
    """
    seen: dict[str, str | None] = {}
    used = set(start.names)
    counted: set[tuple[str, str]] = set()
    queue = deque((name, None) for name in sorted(start.imports))
    grew = True
    while grew:
        while queue:
            name, via = queue.popleft()
            if name in seen:
                continue
            seen[name] = via
            used |= graph.modules[name].top.names
            queue.extend((nxt, name) for nxt in sorted(graph.modules[name].top.imports | set(parents(name)))
                         if nxt not in seen)
        grew = False
        while bound := {alias for n in seen for local, alias in graph.modules[n].aliases.items()
                        if _is_used(n, local, used) and alias not in used}:
            used |= bound  # `from m import f` here, and this module's counted code uses f: m's f
        for name in sorted(seen):
            for function, scope in sorted(graph.modules[name].functions.items()):
                if _is_used(name, function, used) and (name, function) not in counted:
                    counted.add((name, function))
                    used |= scope.names
                    queue.extend((nxt, name) for nxt in sorted(scope.imports) if nxt not in seen)
                    grew = True
    return seen


def data_packages(root: Path) -> dict[str, list[str]]:
    """Packages that ship non-Python files (built-in datasets) -> every file in the package
    (sorted repo-relative paths): a stage that reaches the package runs on all of them."""
    def owner(path: Path) -> Path:
        while not (path / "__init__.py").is_file():
            path = path.parent
        return path

    src = root / "src"
    files = [p for p in (src / PACKAGE).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    folders = {owner(p.parent) for p in files if p.suffix not in {".py", ".pyc"}}
    return {
        ".".join(folder.relative_to(src).parts): sorted(
            p.relative_to(root).as_posix() for p in files if p.is_relative_to(folder)
        )
        for folder in folders
    }


def script_files(graph: Graph, script: Path) -> tuple[list[str], dict[str, str | None]]:
    """The files a stage script runs (sorted repo-relative paths: the script, each module it
    reaches, every file of a data package it reaches) and how each module is reached."""
    code = scan(script, "", graph.files)  # a script runs all of its code and uses all it imports
    scopes = [code.top, *code.functions.values()]
    names = set(code.aliases.values()).union(*(c.names for c in scopes))
    reached = closure(graph, Scope(set().union(*(c.imports for c in scopes)), names))
    files = {script.resolve().relative_to(graph.root).as_posix()}
    files.update(graph.path(name) for name in reached)
    for name in reached:
        files.update(graph.data.get(name, ()))
    return sorted(files), reached
