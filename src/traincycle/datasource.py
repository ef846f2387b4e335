"""What DVC watches for `data.source`: `data.path`, an ingest dependency in dvc.yaml.

DVC cannot derive a path from ``builtin:adult``, so params hold both: ``data.source`` says how to
read the data and ``data.path`` names the bytes DVC hashes (``deps: [${data.path}]``), so a change
to them makes ``dvc status`` report ingest changed and ``dvc repro`` rerun it:

- a local file or folder (CSV, Parquet file or dataset folder, image class folders, ``.npz``):
  the source itself, or a folder holding it;
- a URL (``https://``, ``s3://``, ...): the URL itself, an external dependency DVC checks for a
  new version (ETag); or ``dvc import-url`` it and point both keys at the local copy;
- ``builtin:NAME``: the package folder the data ships in, under ``src/traincycle/datasets``.
"""

from __future__ import annotations

import posixpath

from traincycle.config import DataConfig
from traincycle.errors import ConfigError

REMOTE_PREFIXES = ("http://", "https://", "s3://", "gs://", "gcs://", "az://", "abfs://")
BUILTIN_PREFIX = "builtin:"
#: where built-in data ships, relative to the repository root
BUILTIN_DIR = "src/traincycle/datasets"


def is_remote(source: str) -> bool:
    """True for a URL that fsspec reads (http(s), s3, gs, az)."""
    return source.startswith(REMOTE_PREFIXES)


def remote_hint(source: str) -> str:
    """What to check when a URL cannot be read (one clause for a one-line error)."""
    if source.startswith("s3://"):
        return ("check the URL, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and, for an S3-compatible "
                "store, AWS_ENDPOINT_URL (s3:// needs pip install -e '.[s3]')")
    return "check the URL, the network and any credentials it needs"


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def check_watched(data: DataConfig) -> None:
    """Raise ConfigError unless `data.path` covers `data.source` (no check when path is unset)."""
    if data.path is None:
        return
    source, path = data.source, data.path
    if source.startswith(BUILTIN_PREFIX):
        if not _within(_norm(path), BUILTIN_DIR):
            raise ConfigError(
                f"params data.path: {path!r} is not where built-in data ships; with data.source "
                f"{source} set data.path: {BUILTIN_DIR}"
            )
    elif is_remote(source):
        if path != source:
            raise ConfigError(
                f"params data.path: expected the URL itself ({source}) so DVC checks it for a new "
                f"version, got {path!r} (or `dvc import-url` it and point data.source at the copy)"
            )
    elif not _within(_norm(source), _norm(path)):
        raise ConfigError(
            f"params data.path: {path!r} does not hold data.source {source!r}; set data.path: "
            f"{source} so that a change to it reruns ingest"
        )
