"""The import contract of src/traincycle and dvc.yaml deps that follow the imports.

Layers (imports flow one way): stages/ and cli.py -> stage functions (ingest.py ... optimize.py)
-> models/ and modalities/ -> leaves (errors, config, io, metrics). No cycles.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_tool():
    spec = importlib.util.spec_from_file_location("traincycle_deps_tool", ROOT / "tools" / "deps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


deps = _load_tool()

#: what models/ and modalities/ must never import: the stage bodies and commands that use them
UPPER = {f"traincycle.{name}" for name in (
    "train", "evaluate", "optimize", "predict", "serve", "tune", "report", "experiment", "cli",
)}
LEAVES = {"traincycle", "traincycle.errors", "traincycle.config", "traincycle.io", "traincycle.metrics"}
#: cycles allowed for now (none: keep it that way). An entry must match a cycle exactly.
KNOWN_CYCLES: list[frozenset[str]] = []


@pytest.fixture(scope="module")
def graph():
    return deps.build(ROOT)


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


def test_dvc_yaml_deps_follow_the_imports():
    problems = deps.check(ROOT)
    assert not problems, "\n".join(str(p) for p in problems)


def _toy_repo(tmp_path: Path) -> Path:
    pkg = tmp_path / "src" / "traincycle"
    (pkg / "models").mkdir(parents=True)
    (pkg / "datasets" / "toy").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "leaf.py").write_text("X = 1\n")
    (pkg / "helper.py").write_text("def f():\n    from traincycle.leaf import X\n    return X\n")
    (pkg / "unused.py").write_text("")
    (pkg / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import traincycle.unused\n"
    )
    (pkg / "models" / "__init__.py").write_text(
        "import importlib\ndef get(n):\n    return importlib.import_module(f'traincycle.models.{n}')\n"
    )
    (pkg / "models" / "fam.py").write_text("from .. import leaf\n")
    (pkg / "parts").mkdir()
    for name in ("__init__", "used", "spare"):
        (pkg / "parts" / f"{name}.py").write_text("")
    (pkg / "datasets" / "__init__.py").write_text("")
    (pkg / "datasets" / "toy" / "data.csv").write_text("a\n1\n")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "one.py").write_text(
        "from traincycle import helper, typed\n"
        "from traincycle.models import get\n"
        "from traincycle.parts import used\n"
        "import traincycle.datasets\n"
        "helper.f()\n"
    )
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          one:
            cmd: python stages/one.py
            deps:
              - stages/one.py
              - src/traincycle/unused.py   # stale
              - data/in.csv
            outs:
              - data/out.csv
    """))
    return tmp_path


def test_deps_check_names_the_stage_the_missing_module_and_the_chain(tmp_path):
    root = _toy_repo(tmp_path)
    [problem] = deps.check(root)
    assert problem.stage == "one"
    assert problem.extra == ["src/traincycle/unused.py"]
    # models/ is reached whole (its registry loads every member): one directory dep; of parts/
    # the stage imports one module, so its files are listed and parts/spare.py is not
    assert sorted(problem.missing) == [
        "src/traincycle/__init__.py", "src/traincycle/datasets", "src/traincycle/helper.py",
        "src/traincycle/leaf.py", "src/traincycle/models", "src/traincycle/parts/__init__.py",
        "src/traincycle/parts/used.py", "src/traincycle/typed.py",
    ]
    chain = problem.missing["src/traincycle/leaf.py"]
    assert chain == "stages/one.py -> traincycle.helper -> traincycle.leaf"
    assert "stage 'one'" in str(problem) and "missing src/traincycle/leaf.py" in str(problem)


def test_deps_rewrite_fixes_dvc_yaml_and_keeps_other_lines(tmp_path):
    root = _toy_repo(tmp_path)
    graph = deps.build(root)
    wanted = {"one": deps.script_deps(graph, root / "stages" / "one.py")[0]}
    path = root / "dvc.yaml"
    path.write_text(deps.rewrite(path.read_text(), wanted))
    assert deps.check(root) == []
    text = path.read_text()
    assert "- data/in.csv" in text and "- data/out.csv" in text and "unused" not in text


def test_deps_count_a_function_local_import_only_where_the_function_can_be_called(tmp_path):
    pkg = tmp_path / "src" / "traincycle"
    (pkg / "reg").mkdir(parents=True)
    for name in ("__init__", "fitting", "explaining", "building"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "lib.py").write_text("def build():\n    from traincycle import building\n")
    (pkg / "reg" / "__init__.py").write_text(
        "import importlib\ndef get(n):\n    return importlib.import_module(f'traincycle.reg.{n}')\n"
    )
    (pkg / "reg" / "a.py").write_text(textwrap.dedent("""\
        from traincycle.lib import build
        __all__ = ["explain", "fit", "run"]
        def fit():
            from traincycle import fitting
        def explain():
            from traincycle import explaining
        run = build
    """))
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "fit.py").write_text("from traincycle.reg import get\nget('a').fit()\n")
    (tmp_path / "stages" / "run.py").write_text(
        "from traincycle.reg import get\ngetattr(get('a'), 'run')()\n"
    )
    graph = deps.build(tmp_path)
    fit = deps.script_deps(graph, tmp_path / "stages" / "fit.py")[0]
    run = deps.script_deps(graph, tmp_path / "stages" / "run.py")[0]
    # the registry's members are loaded by name, so each is a dep; of their functions only those
    # the stage names (an attribute, getattr's string, a second name for a function) count
    assert "src/traincycle/reg" in fit and "src/traincycle/fitting.py" in fit
    assert "src/traincycle/explaining.py" not in fit and "src/traincycle/building.py" not in fit
    assert "src/traincycle/building.py" in run and "src/traincycle/fitting.py" not in run
    assert "src/traincycle/lib.py" in fit  # imported at a.py's top level: runs on import
