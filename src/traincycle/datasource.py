"""What DVC watches for `data.source`: the ingest stage's dependencies in dvc.yaml.

``data.source`` says how to read the data; DVC reruns ingest when the bytes of one of its deps
change, so ingest checks that one of them covers the source:

- ``builtin:NAME``: nothing to add. The data ships in the package (``src/traincycle/datasets``),
  whose files are in ingest's code fingerprint ``.sources/ingest.sha256``; scikit-learn's built-in
  sets come with its pinned version.
- a local file or folder: under ``data/source/``, the folder ingest depends on, or under any other
  path listed in ingest's deps;
- a URL (``https://``, ``s3://``, ...): the URL itself listed in ingest's deps, an external
  dependency DVC checks for a new version (ETag); or ``dvc import-url`` it into ``data/source/``.

The deps are written out, not ``${...}`` from params: DVC resolves every interpolation with
pyparsing on each run, a no-op ``dvc repro`` included. A dep may still be ``${data.source}`` for a
user who switches sources with ``-S``; it is checked as the source itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from traincycle.errors import ConfigError

REMOTE_PREFIXES = ("http://", "https://", "s3://", "gs://", "gcs://", "az://", "abfs://")
BUILTIN_PREFIX = "builtin:"
#: the folder ingest depends on in dvc.yaml: a user's data goes here (README "Your own data")
SOURCE_DIR = "data/source"


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


def check_watched(source: str, deps: Sequence[str], stage_file: str = "dvc.yaml") -> None:
    """Raise ConfigError unless one of ingest's `deps` covers `source` (built-ins need none)."""
    if source.startswith(BUILTIN_PREFIX):
        return
    paths = [source if d == "${data.source}" else d for d in deps]
    if is_remote(source):
        if source not in paths:
            raise ConfigError(
                f"{stage_file}: stage ingest does not depend on data.source {source}; add `- {source}` "
                f"under its deps so DVC checks it for a new version (or `dvc import-url` it into "
                f"{SOURCE_DIR}/)")
    elif not any(_within(_norm(source), _norm(p)) for p in paths if not is_remote(p)):
        raise ConfigError(
            f"{stage_file}: no ingest dependency holds data.source {source!r}; move it under "
            f"{SOURCE_DIR}/ or add `- {source}` under stages.ingest.deps, so that new bytes rerun ingest")
