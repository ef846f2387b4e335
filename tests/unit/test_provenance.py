"""Data-version hashes: stable, order-free, sensitive to what shaped the model only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from traincycle.provenance import MODEL_SECTIONS, data_version, params_digest, source_digest, stamp_raw

PARAMS = {"data": {"source": "data/churn.csv", "target": "churned"}, "seed": 42,
          "train": {"model": "logistic"}, "evaluate": {"bootstrap": 1000}}


def test_source_digest_ignores_file_order_but_not_content():
    a = source_digest({"a.csv": "11", "b.csv": "22"})
    assert a == source_digest({"b.csv": "22", "a.csv": "11"})
    assert a != source_digest({"a.csv": "11", "b.csv": "23"})
    assert len(a) == 64


def test_params_digest_covers_the_model_sections_only():
    base = params_digest(PARAMS)
    assert base == params_digest({**PARAMS, "evaluate": {"bootstrap": 10}, "tune": {"trials": 5}})
    assert base != params_digest({**PARAMS, "train": {"model": "xgboost"}})
    assert base != params_digest({**PARAMS, "seed": 7})
    assert base == params_digest(dict(reversed(list(PARAMS.items()))))


def test_stamp_raw_hashes_the_written_table(tmp_path):
    raw = tmp_path / "dataset.parquet"
    raw.write_bytes(b"PAR1 table bytes")
    record = stamp_raw({"source": "data/churn.csv", "sha256": {"churn.csv": "ab"}}, raw)
    assert record["raw_sha256"] == hashlib.sha256(b"PAR1 table bytes").hexdigest()
    assert record["source_sha256"] == source_digest({"churn.csv": "ab"})
    version = data_version(record, {"family": "logistic", "params_sha256": params_digest(PARAMS)})
    assert version == {"source": "data/churn.csv", "source_sha256": record["source_sha256"],
                       "raw_sha256": record["raw_sha256"], "params_sha256": params_digest(PARAMS)}
    assert data_version(record, {"family": "logistic"})["params_sha256"] is None  # not made by train


def test_train_declares_every_section_its_params_digest_covers():
    """train stamps the digest into model.json, so DVC must rerun it when any of them changes;
    evaluate and optimize read the digest there and declare none of train's sections."""
    stages = yaml.safe_load((Path(__file__).parents[2] / "dvc.yaml").read_text())["stages"]
    assert set(MODEL_SECTIONS) <= set(stages["train"]["params"])
    for name in ("evaluate", "optimize"):
        assert not set(stages[name]["params"]) & {"ingest", "validate", "split", "featurize", "train"}
