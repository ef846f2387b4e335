"""Per-stage code fingerprints (`sources` stage): what they cover and how dvc.yaml uses them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from traincycle.codegraph import build, script_files
from traincycle.sources import fingerprints

ROOT = Path(__file__).resolve().parents[2]


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
    return tmp_path


def test_script_files_follow_the_imports_a_stage_can_run(tmp_path):
    root = _toy_repo(tmp_path)
    files, reached = script_files(build(root), root / "stages" / "one.py")
    # the registry loads its members by name: all of models/; a data package: all its files;
    # TYPE_CHECKING imports never run; of parts/ only the imported module
    assert files == [
        "src/traincycle/__init__.py", "src/traincycle/datasets/__init__.py",
        "src/traincycle/datasets/toy/data.csv", "src/traincycle/helper.py", "src/traincycle/leaf.py",
        "src/traincycle/models/__init__.py", "src/traincycle/models/fam.py",
        "src/traincycle/parts/__init__.py", "src/traincycle/parts/used.py", "src/traincycle/typed.py",
        "stages/one.py",
    ]
    assert reached["traincycle.leaf"] == "traincycle.helper"  # reached through helper.f()


def test_a_function_local_import_counts_only_where_the_function_can_be_called(tmp_path):
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
    graph = build(tmp_path)
    fit = script_files(graph, tmp_path / "stages" / "fit.py")[0]
    run = script_files(graph, tmp_path / "stages" / "run.py")[0]
    # of the registry members' functions only those the stage names (an attribute, getattr's
    # string, a second name for a function) count
    assert "src/traincycle/reg/a.py" in fit and "src/traincycle/fitting.py" in fit
    assert "src/traincycle/explaining.py" not in fit and "src/traincycle/building.py" not in fit
    assert "src/traincycle/building.py" in run and "src/traincycle/fitting.py" not in run
    assert "src/traincycle/lib.py" in fit  # imported at a.py's top level: runs on import


def test_a_fingerprint_is_sha256sum_of_the_files_and_changes_only_with_them(tmp_path):
    root = _toy_repo(tmp_path)
    (root / "stages" / "two.py").write_text("from traincycle.parts import spare\n")
    before = fingerprints(root, [Path("stages/one.py"), Path("stages/two.py")])
    leaf = root / "src" / "traincycle" / "leaf.py"
    line = f"{hashlib.sha256(leaf.read_bytes()).hexdigest()}  src/traincycle/leaf.py\n"
    assert line in before["one"]
    check = subprocess.run(["sha256sum", "-c", "--quiet", "-"], cwd=root, input=before["one"], text=True)
    assert check.returncode == 0
    leaf.write_text("X = 2\n")
    after = fingerprints(root, [Path("stages/one.py"), Path("stages/two.py")])
    assert after["one"] != before["one"] and after["two"] == before["two"]


def test_a_module_that_does_not_parse_is_one_line_naming_it(tmp_path):
    root = _toy_repo(tmp_path)
    (root / "src" / "traincycle" / "leaf.py").write_text("def broken(:\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRACEBACK", None)
    result = subprocess.run([sys.executable, str(ROOT / "stages" / "sources.py"), "--out-dir", ".sources",
                             "stages/one.py"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "src/traincycle/leaf.py:1" in result.stderr, result.stderr
    assert not (root / ".sources").exists()
    argv = [sys.executable, str(ROOT / "stages" / "sources.py"), "--out-dir", ".sources", "stages/one.py",
            "stages/gone.py"]
    result = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "stages/gone.py" in result.stderr


def test_each_stage_depends_on_its_fingerprint_not_on_module_paths():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    sources = stages.pop("sources")
    assert sources["deps"] == ["src/traincycle", "stages"]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in sources["outs"]]
    assert outs == [f".sources/{name}.sha256" for name in stages]
    for name, stage in stages.items():
        assert f"stages/{name}.py" in sources["cmd"].split()
        assert f".sources/{name}.sha256" in stage["deps"], name
        code = [d for d in stage["deps"] if str(d).startswith(("src/traincycle", "stages/"))]
        assert not code, f"{name} lists code paths the fingerprint already covers: {code}"

