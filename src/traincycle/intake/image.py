"""Images: a file, a folder (recursively), a .npz or a Parquet of pixels for predict; uploads
(multipart/form-data) or base64 in JSON for the service.

Files are decoded by ingest's own reader (:func:`traincycle.images.decode_image`, the same
suffixes, grey or RGB), so a new image scores exactly as its twin in the test split did. An
image of another size or channel count than the model's, or a file that cannot be decoded, is
flagged (``wrong_size:HxW``, ``wrong_channels:C``, ``unreadable``) or refused naming the file,
under ``predict.unknown``: flagged images are converted and resized to the model's shape
(:func:`traincycle.images.conform`) and scored; unreadable ones get no scores. The service
refuses an unreadable upload (422) whatever the policy: there is nothing to score.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from traincycle.errors import DataError
from traincycle.inputs import PredictConfig, Screened, flag_counts, row_flags
from traincycle.intake.base import JSON, MULTIPART, Batch, form_files, json_items, kind, media_type

UNREADABLE = "unreadable"
WRONG_SIZE = "wrong_size"
WRONG_CHANNELS = "wrong_channels"
ARCHIVES = (".npz", ".parquet", ".pq")


class ImageIntake:
    """New images for a model over ``pixels`` of one (height, width, channels)."""

    ID = "file"
    BATCH = 256  # decoded images held at once: bounded memory on folders of large photos
    KEY = "images"

    def __init__(self, manifest: dict[str, Any], cfg: PredictConfig) -> None:
        spec = manifest["inputs"][0]
        self.name, self.shape = spec["name"], tuple(int(v) for v in spec["shape"])
        self.cfg = cfg

    # ------------------------------------------------------------------ predict

    def count(self, path: Path) -> int | None:
        return len(self._files(path)) if not _is_archive(path) else None

    def batches(self, path: Path, batch_rows: int) -> Iterator[Batch]:
        from traincycle.images import decode_image

        if _is_archive(path):
            names, images = self._archive(path)
            for start in range(0, len(names), batch_rows):
                stop = start + batch_rows
                yield self.screen(names[start:stop], images[start:stop])
            return
        files = self._files(path)
        root = path if path.is_dir() else path.parent
        for start in range(0, len(files), batch_rows):
            chunk = files[start:start + batch_rows]
            names = [p.relative_to(root).as_posix() for p in chunk]
            yield self.screen(names, [decode_image(p) for p in chunk])

    def _files(self, path: Path) -> list[Path]:
        from traincycle.images import IMAGE_SUFFIXES, image_files

        if path.is_dir():
            files = image_files(path)
            if not files:
                raise DataError(f"{path}: no images found (suffixes {', '.join(IMAGE_SUFFIXES)})")
            return files
        if not path.exists():
            raise DataError(f"{path}: file not found")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)}), a folder "
                            "of images, a .npz (images) or a .parquet (pixels)")
        return [path]

    def _archive(self, path: Path) -> tuple[list[str], list[np.ndarray | None]]:
        """A .npz or Parquet of pixels, read by ingest's readers (no labels needed)."""
        from traincycle.images import FILE, PIXELS, SHAPE_COLUMNS, read_image_parquet, read_npz

        if not path.is_file():
            raise DataError(f"{path}: file not found")
        frame = read_npz(path, None) if path.suffix.lower() == ".npz" else read_image_parquet(path, None)
        images: list[np.ndarray | None] = []
        for flat, *shape in zip(frame[PIXELS], *(frame[c] for c in SHAPE_COLUMNS), strict=True):
            images.append(None if flat is None else np.asarray(flat).reshape([int(v) for v in shape]))
        return frame[FILE].astype(str).tolist(), images

    # ------------------------------------------------------------------ the one rule

    def screen(self, names: list[str], images: list[np.ndarray | None], serving: bool = False) -> Batch:
        """Check decoded images against the model's shape; flag (convert, resize) or refuse."""
        from traincycle.images import conform

        n = len(images)
        marks: dict[str, np.ndarray] = {}

        def mark(flag: str, i: int) -> None:
            marks.setdefault(flag, np.zeros(n, dtype=bool))[i] = True

        height, width, channels = self.shape
        pixels = []
        for i, (name, image) in enumerate(zip(names, images, strict=True)):
            if image is None:
                if serving or self.cfg.unknown == "error":
                    raise DataError(f"{name}: not a readable image (PNG, JPEG, BMP, GIF, TIFF or WebP)"
                                    + ("" if serving else "; params predict.unknown: flag marks it "
                                       "and goes on"))
                mark(UNREADABLE, i)
                continue
            if image.shape != self.shape:
                if self.cfg.unknown == "error":
                    got = "x".join(map(str, image.shape))
                    raise DataError(f"{name}: image is {got} (height x width x channels), the model "
                                    f"takes {height}x{width}x{channels}; params predict.unknown: "
                                    "flag converts, resizes, scores and marks it")
                if image.shape[:2] != (height, width):
                    mark(f"{WRONG_SIZE}:{image.shape[0]}x{image.shape[1]}", i)
                if image.shape[2] != channels:
                    mark(f"{WRONG_CHANNELS}:{image.shape[2]}", i)
                image = conform(image, self.shape)
            pixels.append(image.reshape(-1))
        readable = np.fromiter((image is not None for image in images), bool, n)
        matrix = (np.stack(pixels).astype(np.float32, copy=False) if pixels
                  else np.zeros((0, height * width * channels), np.float32))
        pairs = list(marks.items())
        screened = Screened({self.name: matrix}, row_flags(pairs, n), flag_counts(pairs), n,
                            None if readable.all() else readable)
        return Batch(names, screened)

    # ------------------------------------------------------------------ serve

    def request_content(self, max_items: int) -> dict[str, Any]:
        h, w, c = self.shape
        about = (f"PNG, JPEG, BMP, GIF, TIFF or WebP; the model takes {h}x{w} pixels, "
                 f"{'grey' if c == 1 else 'colour'} (others are converted and flagged, or refused "
                 "under predict.unknown: error)")
        item = {"title": "Image", "type": "object", "required": ["data"], "additionalProperties": False,
                "properties": {"data": {"type": "string", "contentEncoding": "base64",
                                        "description": "The image file's bytes in base64. " + about},
                               "name": {"type": "string", "description": "Named in error messages."}}}
        return {
            MULTIPART: {"schema": {
                "title": "ImageUpload", "type": "object", "required": ["files"],
                "properties": {"files": {"type": "array", "minItems": 1, "maxItems": max_items,
                                         "items": {"type": "string", "format": "binary"},
                                         "description": "One part per image file. " + about}}},
                "encoding": {"files": {"contentType": "application/octet-stream"}}},
            JSON: {"schema": {"title": "ImageRequest", "type": "object", "required": [self.KEY],
                              "additionalProperties": False,
                              "properties": {self.KEY: {"type": "array", "minItems": 1,
                                                        "maxItems": max_items, "items": item}}}},
        }

    def parse_request(self, raw: bytes, content_type: str, max_items: int) -> Batch:
        from traincycle.images import decode_image

        if media_type(content_type) == MULTIPART:
            files = form_files(raw, content_type)
            if not 1 <= len(files) <= max_items:
                raise DataError(f"request: {len(files)} files; expected 1 to {max_items}")
        else:
            files = [_base64_item(item, i) for i, item in
                     enumerate(json_items(raw, self.KEY, max_items, "image objects"))]
        names = [name for name, _ in files]
        return self.screen(names, [decode_image(data) for _, data in files], serving=True)


def _is_archive(path: Path) -> bool:
    return path.suffix.lower() in ARCHIVES and not path.is_dir()


def _base64_item(item: Any, i: int) -> tuple[str, bytes]:
    import base64
    import binascii

    if not isinstance(item, dict):
        raise DataError(f"request: images[{i}]: expected an object {{\"data\": base64}}, got {kind(item)}")
    extra = sorted(set(item) - {"data", "name"})
    if extra:
        raise DataError(f"request: images[{i}]: unknown field {extra[0]!r}")
    name = item.get("name", f"images[{i}]")
    data = item.get("data")
    if not isinstance(name, str):
        raise DataError(f"request: images[{i}]: \"name\" must be text, got {kind(name)}")
    if not isinstance(data, str):
        raise DataError(f"request: {name}: \"data\" must be base64 text, got {kind(data)}")
    try:
        return name, base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"request: {name}: \"data\" is not valid base64") from None


def make(manifest: dict[str, Any], cfg: PredictConfig) -> ImageIntake:
    """This module's intake for a model directory's manifest (see :func:`traincycle.intake.intake`)."""
    return ImageIntake(manifest, cfg)
