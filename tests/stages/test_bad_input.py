"""Every bad input a user can hand the pipeline: one line on stderr naming the file, column or
parameter, a documented exit code (2 user error, 3 gate), no traceback and no output written.

Each case runs the real stage script or CLI in a temporary directory, as DVC or a user would.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from traincycle.pipeline import stage_commands, stage_deps, stage_script

from conftest import ROOT, assert_user_error, make_frame, write_optimized_model, write_tiny_artifacts

COMMANDS = stage_commands(ROOT)
TRAINCYCLE = str(Path(sys.executable).parent / "traincycle")


def run_in(cwd: Path, stage: str) -> subprocess.CompletedProcess:
    """Run one stage exactly as dvc.yaml declares it (its launcher, traincycle.forkserver,
    included), from `cwd`, with this checkout's code."""
    script, _args = stage_script(COMMANDS[stage])
    argv = shlex.split(COMMANDS[stage].removeprefix("PYTHONPATH=src "))
    argv = [sys.executable, *(str(ROOT / word) if word == script else word for word in argv[1:])]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRACEBACK", None)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def params(tmp: Path, watched: bool = True, **sections: object) -> None:
    """params.yaml = the project's, with whole sections replaced or merged (dicts merge one level);
    dvc.yaml's ingest deps list data.source as a user adds it (unless not `watched`)."""
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = sections.get("data")
    deps = stage_deps(ROOT / "dvc.yaml", "ingest")
    if isinstance(data, dict) and "source" in data and watched:
        deps.append(data["source"])
    (tmp / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ingest": {"cmd": "-", "deps": deps}}}))
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(name), dict):
            base[name] = {**base[name], **value}
        else:
            base[name] = value
    (tmp / "params.yaml").write_text(yaml.safe_dump(base, sort_keys=False))


def outputs(tmp: Path) -> list[str]:
    """Files a stage wrote under the working directory, besides the inputs the test made."""
    made = {"params.yaml", "dvc.yaml", "source.csv", "source.parquet", "schema.yaml"}
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")
                  if p.is_file() and p.name not in made and "inputs" not in p.parts)


# --- ingest: the source file ------------------------------------------------------------------

def csv_case(content: bytes, name: str = "source.csv", **data: object) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(content)
        params(tmp, data={"source": name, **data})
    return setup


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


GOOD = make_frame(60).to_csv(index=False).encode()
SRC = "source.csv"
ONE_CLASS = make_frame(60).assign(income="<=50K").to_csv(index=False).encode()
NO_LABELS = make_frame(60).assign(income=None).to_csv(index=False).encode()
PARQUET = parquet_bytes(make_frame(60))

INGEST_CASES = {
    "source DVC does not watch": (
        lambda t: (t.joinpath("source.csv").write_bytes(GOOD), params(t, False, data={"source": SRC})),
        ["dvc.yaml: no ingest dependency holds data.source"]),
    "missing file": (lambda t: params(t, data={"source": "source.csv"}), ["source.csv: file not found"]),
    "unreadable (a directory)": (lambda t: (t.joinpath("source.csv").mkdir(), params(t, data={
        "source": "source.csv"})), ["source.csv: is a directory"]),
    "corrupt csv": (csv_case(b"age,income\n1,a\n2,b,c,d\n"), ["source.csv: not a readable CSV"]),
    "truncated csv": (csv_case(b'age,education,income\n1,"Bach'), ["source.csv: not a readable CSV"]),
    "corrupt parquet": (csv_case(b"PAR1 this is no parquet", name="source.parquet"),
                        ["source.parquet: not a readable Parquet file"]),
    "truncated parquet": (csv_case(PARQUET[: len(PARQUET) // 2], name="source.parquet"),
                          ["source.parquet: not a readable Parquet file"]),
    "empty file": (csv_case(b""), ["source.csv: file is empty"]),
    "header only": (csv_case(b"age,sex,race,income\n"), ["source.csv: has a header but no rows"]),
    "wrong delimiter": (csv_case(GOOD.replace(b",", b";")), ["looks delimited by something else"]),
    "wrong encoding": (csv_case("age,sex,race,income\n1,Männlich,W,a\n".encode("utf-16")),
                       ["source.csv: not utf-8 text"]),
    "duplicate column names": (csv_case(b"age,age,income\n1,2,a\n"), ["duplicate column name 'age'"]),
    "target absent": (csv_case(GOOD, target="salary"), ["target column 'salary'", "not found"]),
    "target with one class": (csv_case(ONE_CLASS), ["target column 'income' has a single class"]),
    "target all missing": (csv_case(NO_LABELS), ["target column 'income' has no values"]),
    "sensitive column absent": (csv_case(GOOD, sensitive=["gender"]),
                                ["column 'gender' named in params data not found"]),
    "sensitive column with a single group": (
        csv_case(make_frame(60).assign(sex="Male").to_csv(index=False).encode()),
        ["sensitive column 'sex' has a single group"]),
}


@pytest.mark.parametrize("case", list(INGEST_CASES))
def test_ingest_rejects(tmp_path, case):
    setup, needles = INGEST_CASES[case]
    setup(tmp_path)
    assert_user_error(run_in(tmp_path, "ingest"), *needles)
    assert outputs(tmp_path) == []


# --- validate: values that parse but are wrong -------------------------------------------------

def raw_with(mutate: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    """data/raw/dataset.parquet from a frame, with a schema inferred from the clean frame."""
    def setup(tmp: Path) -> None:
        clean = make_frame(300)
        clean["hours_per_week"] = clean["hours_per_week"].astype(float)
        raw = tmp / "data" / "raw"
        raw.mkdir(parents=True)
        clean.to_parquet(tmp / "clean.parquet", index=False)
        subprocess.run([TRAINCYCLE, "schema", "infer", "clean.parquet", "-o", "schema.yaml",
                        "--target", "income"], cwd=tmp, check=True, capture_output=True)
        (tmp / "clean.parquet").unlink()
        mutate(clean).to_parquet(raw / "dataset.parquet", index=False)
        params(tmp, data={"source": "unused.csv", "sensitive": ["sex", "race"]})
        (tmp / "inputs").mkdir()
        (raw / "dataset.parquet").rename(tmp / "inputs" / "dataset.parquet")
        raw.rmdir()
        (tmp / "data").rmdir()
        (tmp / "data" / "raw").mkdir(parents=True)
        (tmp / "data" / "raw" / "dataset.parquet").symlink_to(tmp / "inputs" / "dataset.parquet")
    return setup


def text_in_numbers(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(age=df["age"].astype(str).where(df.index % 7 > 0, "forty"))


def with_inf(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[3, "hours_per_week"] = float("inf")
    return df


def with_nans(df: pd.DataFrame) -> pd.DataFrame:
    df["age"] = df["age"].astype(float).where(df.index % 3 > 0)
    return df


VALIDATE_CASES = {
    "wrong dtype (text in a numeric column)": (raw_with(text_in_numbers), ["dtype:age"]),
    "infinite values": (raw_with(with_inf), ["finite:hours_per_week"]),
    "NaN over the allowed share": (raw_with(with_nans), ["nulls:age"]),
}


@pytest.mark.parametrize("case", list(VALIDATE_CASES))
def test_validate_gate_rejects(tmp_path, case):
    setup, needles = VALIDATE_CASES[case]
    setup(tmp_path)
    assert_user_error(run_in(tmp_path, "validate"), "validate", *needles, code=3)
    assert not (tmp_path / "reports").exists() and not (tmp_path / "metrics").exists()


def test_constant_column_is_reported_not_fatal(tmp_path):
    raw_with(lambda df: df.assign(hours_per_week=40.0))(tmp_path)
    result = run_in(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert "constant:hours_per_week" in result.stdout + result.stderr


# --- split: too little data ----------------------------------------------------------------------

def test_dataset_too_small_for_the_split(tmp_path):
    (tmp_path / "data" / "validated").mkdir(parents=True)
    make_frame(4).to_parquet(tmp_path / "data" / "validated" / "dataset.parquet", index=False)
    params(tmp_path)
    assert_user_error(run_in(tmp_path, "split"), "split:", "too small")
    assert not (tmp_path / "data" / "interim").exists()


# --- params.yaml ---------------------------------------------------------------------------------

PARAM_CASES = {
    "not valid YAML": ("split", "split: {train: 0.7\n", ["params.yaml: not valid YAML at line"]),
    "unknown section": ("split", {"spilt": {}}, ["unknown params section 'spilt'"]),
    "fractions out of range": ("split", {"split": {"train": 1.2, "val": -0.1, "test": -0.1}},
                               ["params split.train: expected a value > 0.0 and < 1.0, got 1.2"]),
    "fractions not summing to 1": ("split", {"split": {"train": 0.8, "val": 0.15, "test": 0.15}},
                                   ["train + val + test must sum to 1"]),
    "negative learning rate": ("train", {"train": {"model": "mlp", "mlp": {"lr": -0.01}}},
                               ["params train.mlp.lr"]),
    "depth out of range": ("train", {"train": {"xgboost": {"max_depth": 0}}},
                           ["params train.xgboost.max_depth"]),
    "type mismatch": ("train", {"train": {"mlp": {"epochs": "ten"}}},
                      ["params train.mlp.epochs: expected an integer, got 'ten'"]),
    "unknown model": ("train", {"train": {"model": "resnet"}},
                      ["params train.model: unknown model 'resnet'; expected one of"]),
    "bad seed": ("split", {"seed": "abc"}, ["params seed: expected a non-negative integer"]),
    "fairness severity typo": ("evaluate", {"evaluate": {"fairness": {"severity": "fatal"}}},
                               ["params evaluate.fairness.severity: expected one of"]),
}


@pytest.mark.parametrize("stage", [name for name in COMMANDS if name != "sources"])  # sources reads no params
def test_unknown_key_in_each_stage_section_names_key_and_allowed_keys(tmp_path, stage):
    params(tmp_path, **{stage: {"bogus_key": 1}})
    assert_user_error(run_in(tmp_path, stage), f"params {stage}: unknown key 'bogus_key'; allowed keys:")
    assert outputs(tmp_path) == []


@pytest.mark.parametrize("case", list(PARAM_CASES))
def test_bad_params(tmp_path, case):
    stage, change, needles = PARAM_CASES[case]
    if isinstance(change, str):
        (tmp_path / "params.yaml").write_text(change)
    else:
        params(tmp_path, **change)
    assert_user_error(run_in(tmp_path, stage), *needles)
    assert outputs(tmp_path) == []


# --- models and predict ----------------------------------------------------------------------------

def test_model_file_that_is_not_a_model(tmp_path):
    write_tiny_artifacts(tmp_path)
    for path in (tmp_path / "models" / "model").iterdir():
        path.write_bytes(b"this is not a model")
    params(tmp_path, data={"source": "unused.csv"})
    assert_user_error(run_in(tmp_path, "evaluate"), "models/model")
    assert not (tmp_path / "metrics").exists()


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    return write_optimized_model(tmp_path_factory.mktemp("optimized"))


def predict(model: Path, rows: pd.DataFrame, tmp: Path, *opts: str) -> subprocess.CompletedProcess:
    rows.to_csv(tmp / "rows.csv", index=False)
    return subprocess.run([TRAINCYCLE, "predict", str(model), "rows.csv", "-o", "out.csv", *opts],
                          cwd=tmp, capture_output=True, text=True, timeout=120)


def test_predict_unseen_category(tmp_path, optimized):
    model, rows = optimized
    rows = rows.head(5).copy()
    rows["race"] = rows["race"].astype(str)
    rows.loc[2, "race"] = "Martian"
    assert_user_error(predict(model, rows, tmp_path, "--unknown", "error"),
                      "column 'race' row 2: unseen category 'Martian'")
    assert not (tmp_path / "out.csv").exists()
    flagged = predict(model, rows, tmp_path)  # the default policy scores and flags it
    assert flagged.returncode == 0 and "flagged 1 of 5 rows" in flagged.stderr
    assert pd.read_csv(tmp_path / "out.csv")["flags"][2] == "unknown_category:race"


def test_predict_with_a_model_that_is_not_a_model(tmp_path, optimized):
    model, rows = optimized
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in model.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "model.onnx").write_bytes(b"garbage")
    result = predict(broken, rows.head(3), tmp_path)
    assert_user_error(result, "model.onnx")
    assert not (tmp_path / "out.csv").exists()
