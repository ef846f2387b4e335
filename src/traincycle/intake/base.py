"""What every intake shares: the batch it hands to predict and serve, its protocol, and the
request-body helpers (JSON lists, multipart files) the service's intakes parse bodies with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from traincycle.errors import DataError
from traincycle.inputs import Screened

JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclasses.dataclass
class Batch:
    """Inputs ready for the graph, and what names each one in predict's output."""

    #: row numbers (tables, texts) or file names (images), one per input
    ids: Sequence[Any]
    screened: Screened

    @property
    def rows(self) -> int:
        return self.screened.rows


class Intake(Protocol):
    """How one model directory takes new inputs (see the module docstring)."""

    #: the name of predict's first output column: "row" or "file"
    ID: str
    #: rows (or images) per predict batch unless the command line says otherwise
    BATCH: int
    #: the request body's top-level key in the service ("rows", "images", "texts")
    KEY: str

    def count(self, path: Path) -> int | None:
        """Inputs in `path` when cheap to know (for the progress bar); checks that predict takes it."""

    def batches(self, path: Path, batch_rows: int) -> Iterator[Batch]:
        """predict: `path` in batches of at most `batch_rows` inputs, read as ingest read the source."""

    def request_content(self, max_items: int) -> dict[str, Any]:
        """The service's OpenAPI ``requestBody.content``: one schema per accepted media type."""

    def parse_request(self, raw: bytes, content_type: str, max_items: int) -> Batch:
        """serve: a request body to a batch, or BadJSON (400) / DataError (422) naming what is wrong."""


class BadJSON(ValueError):
    """The request body is not JSON at all (400, unlike a JSON body the model cannot take: 422)."""


def json_items(raw: bytes, key: str, max_items: int, noun: str) -> list[Any]:
    """The list under `key` of a ``{key: [...]}`` request body (1 to `max_items` items), or
    BadJSON / DataError naming what is wrong; `noun` names the items in messages ("rows")."""
    import orjson

    try:
        body = orjson.loads(raw)  # strict JSON: NaN and Infinity are not numbers here
    except orjson.JSONDecodeError as exc:
        raise BadJSON(f"request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise DataError(f"request: expected an object {{\"{key}\": [...]}}, got {kind(body)}")
    extra = sorted(set(body) - {key})
    if extra:
        raise DataError(f"request: unknown field {extra[0]!r}; expected only \"{key}\"")
    items = body.get(key)
    if not isinstance(items, list):
        raise DataError(f"request: \"{key}\" must be a list of {noun}, got {kind(items)}")
    if not 1 <= len(items) <= max_items:
        raise DataError(f"request: \"{key}\" holds {len(items)} {noun}; expected 1 to {max_items}")
    return items


def kind(value: Any) -> str:
    """A JSON value's type in words, for messages."""
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def media_type(content_type: str) -> str:
    """'multipart/form-data; boundary=x' -> 'multipart/form-data'."""
    return content_type.split(";", 1)[0].strip().lower()


def form_files(raw: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """The (file name, bytes) of every part of a multipart/form-data body, in order.

    Parsed with the standard library's MIME parser: no extra dependency in the service image.
    """
    from email.parser import BytesParser
    from email.policy import HTTP

    if "boundary=" not in content_type:
        raise DataError("request: multipart/form-data without a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise DataError("request: not a multipart/form-data body")
    files = []
    for i, part in enumerate(message.iter_parts()):
        name = part.get_filename() or part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        files.append((str(name) if name else f"part {i}", payload if isinstance(payload, bytes) else b""))
    return files
