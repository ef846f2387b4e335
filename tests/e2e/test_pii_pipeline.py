"""Planted personal data through the whole pipeline: dropped or hashed at validate, and no raw
value anywhere in what the pipeline writes (reports, metrics, plots, manifest, ONNX, card, ...)."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_pipeline import SHRINK, copy_project, shrink

from traincycle.config import DataConfig, build
from traincycle.ingest import IngestConfig, ingest
from traincycle.privacy import PrivacyConfig, luhn, screen
from traincycle.schema import infer_schema, render_schema

from conftest import ROOT

ROWS = 1500
KEY = {"TRAINCYCLE_PRIVACY_KEY": "e2e-only-key-" + "x" * 20}
#: every planted value carries one of these, so a leak of any value (or part of one) is caught
MARKERS = ("canary-pii", "Canarywood", "+44 20 7946", "4929 1781", "CANA 6016", "198.51.100.", "078-05-")
POLICY = {
    "columns": {"customer": "hash"},
    "kinds": {k: "drop" for k in
              ("email", "phone", "credit_card", "iban", "ip_address", "national_id", "person_name")},
}


def card(i: int) -> str:
    body = f"49291781{i:07d}"
    check = next(d for d in "0123456789" if luhn(body + d))
    digits = body + check
    return " ".join(digits[k:k + 4] for k in range(0, 16, 4))


def iban(i: int) -> str:
    bban = f"CANA601613{i:08d}"
    numeric = int("".join(str(int(c, 36)) for c in bban + "GB00"))
    code = f"GB{98 - numeric % 97:02d}{bban}"
    return " ".join(code[k:k + 4] for k in range(0, len(code), 4))


def plant(df: pd.DataFrame) -> pd.DataFrame:
    n = len(df)
    first = ["Ana", "Ben", "Carla", "David", "Eva", "Farid", "Grace", "Hiro"]
    planted = {
        "contact": [f"person{i}@canary-pii.example" for i in range(n)],
        "phone": [f"+44 20 7946 {i % 10000:04d}" for i in range(n)],
        "payment": [card(i) for i in range(n)],
        "account": [iban(i) for i in range(n)],
        "last_ip": [f"198.51.100.{i % 256}" for i in range(n)],
        "tax_ref": [f"078-05-{i % 10000:04d}" for i in range(n)],
        "holder": [f"{first[i % 8]} Canarywood{'klmnopqrst'[i // 8 % 10]}" for i in range(n)],
        "customer": [f"client{i}@canary-pii.example" for i in range(n)],
    }
    return df.assign(**planted)


def cell_text(path: Path) -> bytes:
    """What a file says: Parquet cells, zip members (skops), or the raw bytes."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return "\n".join(["\t".join(map(str, frame.columns)),
                          frame.astype(str).to_csv(index=False)]).encode()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return b"\n".join(z.read(name) for name in z.namelist())
    return path.read_bytes()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    adult, _ = ingest(DataConfig(sensitive=("sex", "race")), IngestConfig(max_rows=ROWS))
    source = plant(adult)
    params = shrink(yaml.safe_load((ROOT / "params.yaml").read_text()), SHRINK)
    params["ingest"]["max_rows"] = 0
    # race: some groups are too small for 1500 rows
    params["data"].update(source="data/source/pii.csv", id_columns=["customer"], sensitive=["sex"])
    params["validate"]["privacy"] = POLICY
    repo = copy_project(tmp_path_factory.mktemp("privacy") / "repo", params, commit=False)
    source.to_csv(repo / "data/source/pii.csv", index=False)
    # the schema describes the validated table: planted columns gone, customer a hashed string
    data = DataConfig(source=str(repo / "data/source/pii.csv"), id_columns=("customer",), sensitive=("sex",))
    raw, _ = ingest(data, IngestConfig(**params["ingest"]))
    cleaned, _ = screen(raw, data, build(PrivacyConfig, POLICY, "privacy"), KEY)
    schema, observed = infer_schema(cleaned, target="income")
    columns = {**schema.columns, "customer": dataclasses.replace(schema.columns["customer"], values=None)}
    text = render_schema(dataclasses.replace(schema, columns=columns), observed, "pii.csv")
    (repo / "schema.yaml").write_text(text)
    env = {**os.environ, **KEY, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "-c", "user.email=e2e@test", "-c", "user.name=e2e", "commit", "-qm", "init"],
                ["dvc", "repro"]):
        result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return repo


def outputs(repo: Path) -> list[Path]:
    """Every file the pipeline wrote: all but the source, the raw copy, git and DVC's own files."""
    skip = {".git", ".dvc", "src", "stages"}
    return [
        p for p in repo.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(repo).parts)
        and p.relative_to(repo).parts[:2] != ("data", "raw") and p.name != "pii.csv"
    ]


def test_no_planted_value_reaches_any_output(repo):
    files = outputs(repo)
    names = {p.relative_to(repo).as_posix() for p in files}
    for expected in ("reports/validation.json", "reports/model_card.md", "metrics/evaluate.json",
                     "models/optimized/manifest.json", "reports/errors.parquet",
                     "data/validated/dataset.parquet"):
        assert expected in names
    assert any(n.endswith(".onnx") for n in names) and any(n.startswith("plots/") for n in names)
    leaks = [(p.relative_to(repo).as_posix(), m)
             for p in files for m in MARKERS if m.encode() in cell_text(p)]
    assert leaks == []


def test_validated_table_keeps_the_hashed_key_and_reports_without_values(repo):
    validated = pd.read_parquet(repo / "data" / "validated" / "dataset.parquet")
    assert "contact" not in validated.columns and "holder" not in validated.columns
    assert validated["customer"].str.fullmatch(r"[0-9a-f]{32}").all() and validated["customer"].is_unique
    report = yaml.safe_load((repo / "reports" / "validation.json").read_text())
    actions = {d["column"]: d["action"] for d in report["privacy"]}
    assert actions == {"contact": "drop", "phone": "drop", "payment": "drop", "account": "drop",
                       "last_ip": "drop", "tax_ref": "drop", "holder": "drop", "customer": "hash"}
    raw = pd.read_csv(io.StringIO((repo / "data/source/pii.csv").read_text()))
    assert raw["contact"].str.contains("canary-pii").all()  # the planted source itself is untouched


def test_the_serve_request_log_holds_no_planted_value(repo, tmp_path):
    """Requests carrying the planted columns (refused) and the hashed key (scored): the request
    log records counts and a body hash, never a value."""
    import json

    from fastapi.testclient import TestClient

    from traincycle.serve import LogConfig, create_app

    manifest = json.loads((repo / "models" / "optimized" / "manifest.json").read_text())
    names = [c["name"] for c in manifest["inputs"]]
    raw = pd.read_csv(repo / "data/source/pii.csv").head(3)
    valid = json.loads(pd.read_parquet(repo / "data" / "validated" / "dataset.parquet")[names].head(3)
                       .to_json(orient="records"))
    planted = json.loads(raw.to_json(orient="records"))
    log = tmp_path / "requests.jsonl"
    with TestClient(create_app(repo / "models" / "optimized", log=LogConfig(log))) as client:
        assert client.post("/predict", json={"rows": valid}).status_code == 200
        assert client.post("/predict", json={"rows": planted}).status_code == 422  # unknown columns
    text = log.read_text()
    assert len(text.splitlines()) == 2
    assert [m for m in MARKERS if m in text] == []
