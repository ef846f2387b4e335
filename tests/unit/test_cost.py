"""Compute cost records: usage, the energy/CO2e estimate, history, base-run lookup, FLOPs, tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from traincycle import cost
from traincycle.errors import ConfigError

from conftest import make_frame, run_stage, write_params

SRC = Path(cost.__file__).resolve().parents[1]


def test_grid_from_environment():
    assert cost.grid({}) == ("WORLD", 475.0, 5.0)
    assert cost.grid({"TRAINCYCLE_COUNTRY": "fra"})[:2] == ("FRA", 56.039)
    env = {"TRAINCYCLE_CARBON_INTENSITY": "100", "TRAINCYCLE_WATTS_PER_CORE": "7.5"}
    assert cost.grid(env)[1:] == (100, 7.5)
    with pytest.raises(ConfigError, match="TRAINCYCLE_COUNTRY: no carbon intensity for 'XYZ'"):
        cost.grid({"TRAINCYCLE_COUNTRY": "XYZ"})
    with pytest.raises(ConfigError, match="TRAINCYCLE_WATTS_PER_CORE: expected a positive number"):
        cost.grid({"TRAINCYCLE_WATTS_PER_CORE": "-1"})


def test_estimate_formula():
    # 720 CPU s at 5 W = 3600 J; 1 GiB for 3600 s at 0.375 W/GB = 1350 J; 4950 J = 1.375 Wh
    out = cost.estimate({"cpu_seconds": 720, "wall_seconds": 3600, "peak_memory_mb": 1024}, 400, 5)
    assert out["energy_wh"] == pytest.approx(1.375)
    assert out["co2e_g"] == pytest.approx(1.375e-3 * 400)


def test_usage_counts_this_process():
    sum(i * i for i in range(200_000))
    figures = cost.usage()
    assert figures["cpu_seconds"] > 0 and figures["wall_seconds"] > 0 and figures["peak_memory_mb"] > 10


def test_tracked_records_success_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cost"

    @cost.tracked("demo", folder)
    def ok() -> str:
        cost.note(extra=3)
        return "done"

    assert ok() == "done"
    doc = json.loads((folder / "demo.json").read_text())
    assert doc["stage"] == "demo" and doc["extra"] == 3 and doc["rev"] is None
    assert {"cpu_seconds", "wall_seconds", "peak_memory_mb", "energy_wh", "co2e_g"} <= set(doc)

    @cost.tracked("broken", folder)
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        broken()
    assert not (folder / "broken.json").exists()
    assert [d["stage"] for d in cost.history(folder)] == ["demo"]


def git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_base_run_is_a_clean_run_of_the_revision(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    clean = cost.source_state(tmp_path)
    assert clean["rev"] and clean["changes"] is None
    (tmp_path / "params.yaml").write_text("seed: 2\n")
    dirty = cost.source_state(tmp_path)
    assert dirty["rev"] == clean["rev"] and dirty["changes"]
    folder = tmp_path / "cost"
    folder.mkdir()
    runs = [{"stage": "train", "cpu_seconds": 10.0, **clean},
            {"stage": "train", "cpu_seconds": 20.0, **dirty}]
    (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs) + "not json\n")
    assert cost.base_costs(clean["rev"], folder)["train"]["cpu_seconds"] == 10.0


def test_cost_table_shows_change_from_base():
    new = {"train": {"cpu_seconds": 20.0, "wall_seconds": 10, "peak_memory_mb": 300, "energy_wh": 2.0,
                     "co2e_g": 1.0, "inference_flops_per_row": 1.2e4}}
    old = {"train": {"cpu_seconds": 10.0, "wall_seconds": 10, "peak_memory_mb": 200, "energy_wh": 1.0,
                     "co2e_g": 0.5}}
    section = cost.cost_section(new, old, "main", cost.STAGES)
    assert "| train | 20 (+100%) | 10 (+0%) | 300 (+50%) | 2 (+100%) | 1 (+100%) |" in section
    assert "| **total** |" in section and "inference flops per row 1.2e+04" in section
    assert "No clean run of `main`" in cost.cost_section(new, {}, "main")
    assert cost.cost_section({}, old, "main") == ""


def test_torch_flops_of_a_linear_layer():
    import torch

    layer = torch.nn.Linear(10, 4)
    flops = cost.torch_flops(lambda x: layer(torch.as_tensor(x)), torch.zeros(3, 10))
    assert flops == 2 * 3 * 10 * 4


def test_a_stage_writes_its_cost_outside_its_outputs(tmp_path):
    make_frame(300).to_parquet(tmp_path / "raw.parquet", index=False)
    write_params(tmp_path / "params.yaml")
    result = run_stage("split", "--params", "params.yaml", "--data", "raw.parquet", "--out-dir", "interim",
                       "--metrics", "split.json", "--details", "split_report.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / ".traincycle" / "cost" / "split.json").read_text())
    assert doc["stage"] == "split" and doc["cpu_seconds"] > 0 and doc["country"] == "WORLD"
    assert "cost" not in (tmp_path / "split.json").read_text()


EXIT_SCRIPT = """
import gc, os, sys
from pathlib import Path
from traincycle import cost

class Noisy:
    def __del__(self):
        os.write(1, b"collected ")

def garbage_cycle():
    noisy = Noisy()
    noisy.me = noisy

def stage():
    garbage_cycle()
    gc.collect()  # while the stage runs the collector works as ever
    os.write(1, b"ran ")
    garbage_cycle()  # left for the exit

if sys.argv[1] == "tracked":
    stage = cost.tracked("demo", Path({folder!r}))(stage)
stage()
"""


@pytest.mark.parametrize("how", ["tracked", "plain"])
def test_a_tracked_stage_skips_the_collection_at_exit(tmp_path, how):
    """The cycle left at exit is collected (its finalizer runs) only without `tracked`; the one
    made while the stage runs is collected either way."""
    script = tmp_path / "stage.py"
    script.write_text(EXIT_SCRIPT.format(folder=str(tmp_path / "cost")))
    done = subprocess.run([sys.executable, str(script), how], cwd=tmp_path, capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    at_exit = [] if how == "tracked" else ["collected"]
    assert done.stdout.split() == ["collected", "ran", *at_exit]
