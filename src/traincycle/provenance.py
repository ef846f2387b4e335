"""Which data and settings made a model: content hashes for the model card and the manifest.

- ``source_sha256``: one hash over the source files' hashes (provenance.json ``sha256``, by name),
  so a folder of images or Adult's two files have one version string;
- ``raw_sha256``: the raw table ingest wrote (data/raw/dataset.parquet; its bytes are stable);
- ``params_sha256``: the params sections that shape the model, as canonical JSON.

The git commit is deliberately not written into outputs: an output naming the commit it was made
at would differ at every commit, so a fresh clone's `dvc repro` could never reproduce dvc.lock.
The commit that produced a model is the one whose dvc.lock holds its hashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from traincycle.io import sha256_bytes, sha256_file

#: params sections a trained model depends on: dvc.yaml declares them for train, which stamps their
#: digest into model.json, so evaluate and optimize read it there instead of declaring them again
MODEL_SECTIONS = ("data", "seed", "ingest", "validate", "split", "featurize", "train")
#: the data-version fields, in the order the card lists them
VERSION_FIELDS = ("source_sha256", "raw_sha256", "params_sha256")


def source_digest(hashes: Mapping[str, str]) -> str:
    """One sha256 over per-file sha256s, independent of their order."""
    return sha256_bytes("".join(f"{name} {digest}\n" for name, digest in sorted(hashes.items())).encode())


def params_digest(params: Mapping[str, Any], sections: tuple[str, ...] = MODEL_SECTIONS) -> str:
    """sha256 of the canonical JSON of `sections` of params.yaml (absent ones as null)."""
    picked = {name: params.get(name) for name in sections}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_bytes(text.encode())


def stamp_raw(provenance: dict[str, Any], raw_path: str | Path) -> dict[str, Any]:
    """The ingest record with the source's and the written raw table's content hashes."""
    return {**provenance, "source_sha256": source_digest(provenance.get("sha256") or {}),
            "raw_sha256": sha256_file(raw_path)}


def data_version(provenance: Mapping[str, Any], model_info: Mapping[str, Any]) -> dict[str, Any]:
    """The source, its content hashes and the model's params hash, for the card and the manifest.

    `model_info` is model.json (or `Model.info`), where train stamped ``params_sha256``.
    """
    return {"source": provenance.get("source"),
            **{k: provenance.get(k) for k in VERSION_FIELDS[:2]},
            "params_sha256": model_info.get("params_sha256")}
