"""The labelling pool the service fills: raw rows it was unsure of, in the source's own format.

With ``traincycle serve --pool PATH`` every row answered with ``low_confidence`` (and, with
``--pool-flagged``, every row carrying a flag such as ``unknown_category``) is appended to PATH,
a CSV written as the training source was (its column names and order, delimiter, encoding and
missing-value marker), so ``traincycle select PATH`` reads it directly and labelled rows append
to the source as they are. Columns the model does not take (the target, ids, columns validate
dropped) are written missing, as are the columns named to be left out (personal data).

Unlike the request log, the pool holds raw values: that is its purpose (labellers need them),
so it is opt-in. The file is capped and rotated like the request log, but each rotated file
keeps a header and a ``.csv`` suffix (``pool.csv``, ``pool.1.csv``, ...) so each one is a pool
``select`` reads. Appends hold an exclusive ``flock`` on ``PATH.lock`` (and a thread lock), so
concurrent requests and several service processes sharing one file never interleave rows.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from traincycle.errors import ConfigError

#: the report validate writes, with its privacy decisions per column
VALIDATION_REPORT = "reports/validation.json"


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    """Where pooled rows go (None: no pool), which rows, which columns stay empty, the cap."""

    path: str | Path | None = None
    flagged: bool = False
    omit: tuple[str, ...] = ()
    max_bytes: int = 50_000_000
    backups: int = 5


def privacy_flagged(report: str | Path = VALIDATION_REPORT) -> list[str]:
    """Columns validate's privacy scan found personal data in and kept (actions allow/warn).

    Dropped and hashed columns never reach the service (its requests take only the model's
    inputs), so these are the ones the pool could copy; none when there is no report.
    """
    path = Path(report)
    if not path.is_file():
        return []
    decisions = json.loads(path.read_text(encoding="utf-8")).get("privacy") or []
    # `name_only`: a small code named like personal data whose values the scan found none in
    return [d["column"] for d in decisions if d.get("action") in ("allow", "warn")
            and any(f.get("evidence") != "name_only" for f in d.get("findings") or ())]


def rotated(path: Path, n: int) -> Path:
    """pool.csv -> pool.1.csv: a rotated file keeps its suffix, so select reads it too."""
    return path.with_name(f"{path.stem}.{n}{path.suffix}")


class Pool:
    """Appends raw request rows to a CSV in the source's format, capped, rotated and locked."""

    def __init__(self, cfg: PoolConfig, intake: Any) -> None:
        options, names = getattr(intake, "options", None), getattr(intake, "names", None)
        if cfg.path is None or options is None or names is None:
            raise ConfigError(f"serve --pool: keeps table rows; this model takes {intake.KEY!r}, "
                              "not rows of columns")
        self.path = Path(cfg.path)
        if self.path.suffix.lower() != ".csv":
            raise ConfigError(f"serve --pool: {self.path}: expected a .csv file (what select reads)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        inputs = set(names.values())
        unknown = sorted(set(cfg.omit) - inputs - set(options.names) - set(options.names.values()))
        if unknown:
            raise ConfigError(f"serve --pool-omit: {unknown[0]!r} is not a column of the model")
        omit = {options.names.get(c, c) for c in cfg.omit}
        #: the source's columns in its order (original name, snake name or None when written empty)
        source = list(options.names.items()) or [(n, n) for n in dict.fromkeys(names.values())]
        self.columns = [(orig, snake if snake in inputs and snake not in omit else None)
                        for orig, snake in source]
        self.keys = names  # request key (original or snake) -> snake name
        self.delimiter, self.encoding = options.delimiter, options.encoding
        self.missing = options.na_values[0] if options.na_values else ""
        self._lock = threading.Lock()
        self._lockfile = self.path.with_name(self.path.name + ".lock")

    def rows(self, records: Sequence[Mapping[str, Any]]) -> str:
        """`records` (request row objects) as CSV lines in the source's column order."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n")
        for record in records:
            values = {self.keys.get(k, k): v for k, v in record.items()}
            writer.writerow([self.missing if snake is None or values.get(snake) is None
                             else values[snake] for _orig, snake in self.columns])
        return buffer.getvalue()

    def header(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n").writerow(
            [orig for orig, _snake in self.columns])
        return buffer.getvalue()

    def add(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Append `records`; returns how many were written."""
        if not records:
            return 0
        chunk = self.rows(records).encode(self.encoding)
        with self._lock, open(self._lockfile, "a") as lock:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(chunk) > self.cfg.max_bytes:
                self._rotate()
                size = 0
            with open(self.path, "ab") as out:
                out.write((self.header().encode(self.encoding) if not size else b"") + chunk)
        return len(records)

    def _rotate(self) -> None:
        """pool.csv -> pool.1.csv -> pool.2.csv ...; the oldest beyond `backups` goes."""
        for n in range(self.cfg.backups, 0, -1):
            src = self.path if n == 1 else rotated(self.path, n - 1)
            if src.exists():
                src.replace(rotated(self.path, n))
        if self.path.exists():  # backups == 0: start over
            self.path.unlink()


def pooled_rows(confidence: Sequence[float] | None, flags: Sequence[str], min_confidence: float,
                flagged: bool) -> list[int]:
    """Indices of the rows to pool: low confidence, or (when `flagged`) any flag."""
    low = [i for i, c in enumerate(confidence or ()) if c < min_confidence]
    if not flagged:
        return low
    return sorted(set(low) | {i for i, f in enumerate(flags) if f})


def request_rows(raw: bytes, key: str, indices: Iterable[int]) -> list[Mapping[str, Any]]:
    """The row objects at `indices` of a request body the intake accepted (parsed again only
    when there is something to pool, so the common path pays nothing)."""
    import orjson

    items = orjson.loads(raw)[key]
    return [items[i] for i in indices]
