"""The import contract of src/traincycle (the per-stage code deps: tests/unit/test_sources.py).

Layers (imports flow one way): stages/ and cli.py -> stage functions (ingest.py ... optimize.py)
-> models/ and modalities/ -> leaves (errors, config, io, metrics). No cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from traincycle import codegraph

ROOT = Path(__file__).resolve().parents[2]

#: what models/ and modalities/ must never import: the stage bodies and commands that use them
UPPER = {f"traincycle.{name}" for name in (
    "train", "evaluate", "optimize", "predict", "serve", "tune", "report", "experiment", "cli",
)}
LEAVES = {"traincycle", "traincycle.errors", "traincycle.config", "traincycle.io", "traincycle.metrics"}
#: cycles allowed for now (none: keep it that way). An entry must match a cycle exactly.
KNOWN_CYCLES: list[frozenset[str]] = []


@pytest.fixture(scope="module")
def graph():
    return codegraph.build(ROOT)


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles(graph):
    found = cycles(graph.edges)
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycle(s) in src/traincycle: {new}"
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not stale, f"KNOWN_CYCLES lists cycles that are gone (remove them): {stale}"


def test_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_nothing_in_src_imports_stages_or_the_cli(graph):
    for name, path in graph.files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module or ""]
            for target in targets:
                upward = target == "stages" or target.startswith("stages.")
                assert not upward, f"{graph.path(name)} imports {target}"
        if name != "traincycle.cli":
            assert "traincycle.cli" not in graph.edges[name], f"{graph.path(name)} imports traincycle.cli"


def test_leaves_import_only_leaves(graph):
    for leaf in sorted(LEAVES & set(graph.files)):
        upward = sorted(graph.edges[leaf] - LEAVES)
        assert not upward, f"{graph.path(leaf)} is a leaf module but imports {upward}"


def test_models_and_modalities_do_not_import_stage_functions(graph):
    for name in sorted(graph.files):
        if name.startswith(("traincycle.models", "traincycle.modalities")):
            upward = sorted(graph.edges[name] & UPPER)
            assert not upward, f"{graph.path(name)} imports stage-level module(s) {upward}"


def _named(node: ast.AST, names: set[str]) -> bool:
    """`x.family`, `family`, `meta["modality"]` or `meta.get("modality")` for a name in `names`."""
    if isinstance(node, ast.Attribute):
        return node.attr in names
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in names
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value in names
    return False


def _literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and all(_literal(e) for e in node.elts)


def name_branches(graph, names: set[str], allowed: str) -> list[str]:
    """Comparisons of a family/modality name with string literals outside the `allowed` package."""
    found = []
    for name, path in graph.files.items():
        if name.startswith(allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_named(x, names) for x in sides) and any(_literal(x) for x in sides):
                    found.append(f"{graph.path(name)}:{node.lineno}")
    for script in sorted((ROOT / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_named(x, names) for x in sides) and any(_literal(x) for x in sides):
                    found.append(f"stages/{script.name}:{node.lineno}")
    return found


def test_nothing_outside_models_branches_on_the_family(graph):
    found = name_branches(graph, {"family", "model"}, "traincycle.models")
    assert not found, f"branches on a model family name (use a hook in models/<family>.py): {found}"


def test_nothing_outside_modalities_branches_on_the_modality(graph):
    found = name_branches(graph, {"modality"}, "traincycle.modalities")
    assert not found, f"branches on data.modality (use the modality registry): {found}"
