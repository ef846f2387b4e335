"""Shared fixtures: tiny Adult-like frames, params files and a stage runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """An Adult-like frame with numeric, categorical, sensitive and label columns."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], n, p=[0.35, 0.65])
    race = rng.choice(["Black", "White", "Asian"], n, p=[0.2, 0.7, 0.1])
    age = rng.integers(18, 80, n)
    hours = rng.integers(10, 70, n)
    edu = rng.choice(["HS", "Bachelors", "Masters"], n)
    score = 0.04 * (age - 40) + 0.05 * (hours - 40) + (edu == "Masters") + rng.normal(0, 1, n)
    income = np.where(score > 0.8, ">50K", "<=50K")
    df = pd.DataFrame(
        {"age": age, "hours_per_week": hours, "education": edu, "sex": sex, "race": race,
         "income": income}
    )
    for col in ("education", "sex", "race", "income"):
        df[col] = df[col].astype("category")
    return df


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


def write_params(path: Path, **sections: object) -> Path:
    """Write a params.yaml with Adult-like `data` defaults, overridden by `sections`."""
    params: dict[str, object] = {
        "data": {"source": "builtin:adult", "target": "income", "task": "binary",
                 "positive_label": ">50K", "sensitive": ["sex", "race"]},
        "seed": 0,
    }
    params.update(sections)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_stage(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run stages/<name>.py as DVC would, capturing output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRACEBACK", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def assert_user_error(result: subprocess.CompletedProcess, *needles: str, code: int = 2) -> None:
    """A user error: the given exit code, one line on stderr naming the problem, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
