"""File I/O at the pipeline's edges: atomic writes, Parquet/JSON helpers, hashing.

Every write goes to a temporary sibling and is renamed into place, so a stage killed at
any point leaves the old output or none, never a half-written file DVC could cache.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traincycle.errors import DataError

if TYPE_CHECKING:  # imported where used: the sources stage and `traincycle` commands need neither
    import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


def remove_stale_temps(path: Path) -> None:
    """Delete temporaries a killed earlier write of `path` left behind (SIGKILL skips cleanup)."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    old = path.with_name(f".{path.name}.old")
    if old.exists() and path.exists():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists():  # killed between the two renames of atomic_dir: the old output is back
        os.replace(old, path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get normal modes
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `path` whole if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    old = path.with_name(f".{path.name}.old")
    try:
        yield tmp
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(text: str, path: str | Path) -> None:
    """Write text atomically (UTF-8, newline at end)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def copy_file(source: str | Path, path: str | Path) -> None:
    """Copy a file's bytes atomically (same content hash, so DVC stores it once)."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)


def to_jsonable(obj: Any, digits: int = 6) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types; round floats.

    Rounding keeps committed metrics readable and immune to last-bit float noise;
    NaN and infinities become null (JSON has no NaN).
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, digits) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str | bytes):
        return to_jsonable(obj.tolist(), digits)
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, digits) + 0.0
    return str(obj)


def dump_json(obj: Any, digits: int = 6) -> str:
    """Serialise `obj` deterministically: insertion key order, 2-space indent, rounded floats."""
    return json.dumps(to_jsonable(obj, digits), indent=2, ensure_ascii=False) + "\n"


def write_json(obj: Any, path: str | Path, digits: int = 6) -> None:
    """Write `obj` as deterministic JSON, atomically."""
    write_text(dump_json(obj, digits), path)


def read_json(path: str | Path) -> Any:
    """Read a JSON file, naming the file in any error."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from None


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame to Parquet atomically, without the index, byte-stable across runs."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file (optionally only some columns), naming the file in any error."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        return pd.read_parquet(path, columns=columns, engine="pyarrow")
    except Exception as exc:  # pyarrow raises many types for corrupt or truncated files
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def hashable_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with array cells (image pixels) as bytes, which pandas can hash; else `df` itself."""
    import numpy as np

    arrays = [
        c for c in df.columns
        if df[c].dtype == object and any(isinstance(v, np.ndarray) for v in df[c].dropna().head(1))
    ]
    if not arrays:
        return df
    return df.assign(**{
        c: df[c].map(lambda a: None if a is None else np.ascontiguousarray(a).tobytes()) for c in arrays
    })


def sha256_frame(df: pd.DataFrame) -> str:
    """A content hash of a DataFrame (values and column names), independent of file encoding."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, df.columns)).encode())
    digest.update(pd.util.hash_pandas_object(hashable_frame(df), index=False).to_numpy().tobytes())
    return digest.hexdigest()
