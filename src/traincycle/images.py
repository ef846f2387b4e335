"""Images through the tabular stage contracts (``data.modality: image``).

Raw table (``data/raw/dataset.parquet`` and the interim splits), one row per image:
``file`` (where it came from), ``pixels`` (float32 list, height x width x channels flattened
row-major; null when the file could not be read), ``height``, ``width``, ``channels`` and the
label column (``data.target``). Validate gates unreadable files, odd shapes, channel counts,
value ranges and class balance; split keeps identical images together; featurize fits a
per-channel normaliser on train (a ``StandardScaler`` over pixel columns, so
``models/featurizer.skops`` applies it) and writes ``px_<i>`` float32 feature columns.

Sources (``data.source``): ``builtin:digits`` | ``builtin:mnist5k``, a folder of class
sub-folders (PNG/JPEG/BMP/GIF via Pillow, ``pip install traincycle[image]``), a ``.npz`` with
``images`` (N, H, W[, C]) and ``labels``, or a Parquet file in the raw layout above
(``pixels`` + label; ``height``/``width``/``channels`` optional for square grey images).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from traincycle.config import DataConfig
from traincycle.errors import ConfigError, DataError
from traincycle.io import sha256_bytes, sha256_file

if TYPE_CHECKING:
    from traincycle.validate import ImageChecks, Outcome

PIXELS = "pixels"
FILE = "file"
SHAPE_COLUMNS = ("height", "width", "channels")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
LISTED = 5


# ----------------------------------------------------------------------------- ingest


def image_frame(images: list[np.ndarray | None], labels: Any, files: list[str],
                target: str | None) -> pd.DataFrame:
    """The raw image table: file, pixels (flat float32 or None), height, width, channels, label
    (no label column without a `target`)."""
    shapes = [img.shape if img is not None else (None, None, None) for img in images]
    frame = pd.DataFrame({
        FILE: pd.array(files, dtype="string"),
        PIXELS: pd.Series(
            [None if img is None else img.astype(np.float32).ravel() for img in images], dtype=object
        ),
        **{
            name: pd.array([s[i] for s in shapes], dtype="Int64")
            for i, name in enumerate(SHAPE_COLUMNS)
        },
    })
    if target is not None:
        frame[target] = pd.Series(np.asarray(labels).astype(str)).astype("category")
    return frame


def read_images(source: str, target: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Load `source` into the raw image table; return it with the source file hashes."""
    if source.startswith("builtin:"):
        from traincycle.datasets import IMAGE_BUILTINS

        name = source.removeprefix("builtin:")
        if name not in IMAGE_BUILTINS:
            raise ConfigError(
                f"params data.source: unknown built-in image dataset {name!r}; "
                f"available: {', '.join('builtin:' + n for n in IMAGE_BUILTINS)}"
            )
        arrays, labels, blobs = IMAGE_BUILTINS[name]()
        files = [f"{name}/{i}" for i in range(len(arrays))]
        frame = image_frame(list(arrays), labels, files, target)
        return frame, {fname: sha256_bytes(blob) for fname, blob in blobs.items()}
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: not found (params data.source)")
    if path.is_dir():
        return read_folder(path, target)
    if path.suffix.lower() == ".npz":
        return read_npz(path, target), {path.name: sha256_file(path)}
    if path.suffix.lower() in (".parquet", ".pq"):
        return read_image_parquet(path, target), {path.name: sha256_file(path)}
    raise DataError(f"{source}: expected a folder of class sub-folders, a .npz or a .parquet file")


def image_files(root: Path, depth: int | None = None) -> list[Path]:
    """Image files under `root` (by suffix), sorted; only those `depth` levels down when given."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and (depth is None or len(p.relative_to(root).parts) == depth)
    )


def read_folder(root: Path, target: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Images in class sub-folders (``root/<label>/<file>``); unreadable files get no pixels."""
    files = image_files(root, depth=2)
    if not files:
        raise DataError(f"{root}: no images found; expected <folder>/<label>/<image>.png|jpg")
    images = [decode_image(p) for p in files]
    labels = [p.parent.name for p in files]
    names = [p.relative_to(root).as_posix() for p in files]
    # one hash over every file's name and content keeps provenance small for large folders
    digest = hashlib.sha256()
    for name, p in zip(names, files, strict=True):
        digest.update(f"{name} {sha256_file(p)}\n".encode())
    return image_frame(images, labels, names, target), {root.name + "/": digest.hexdigest()}


def decode_image(path: Path | bytes) -> np.ndarray | None:
    """(height, width, channels) float32 from an image file (or its bytes: an upload), or None
    when it cannot be decoded. Grey modes stay one channel, every other mode becomes RGB."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ConfigError(
            "reading image files needs Pillow: pip install 'traincycle[image]'"
        ) from None
    import io

    try:
        with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as img:
            img.load()
            grey = img.mode in ("L", "1", "LA", "I", "I;16")
            mode = "L" if grey else "RGB"
            array = np.asarray(img.convert(mode), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return array[..., None] if array.ndim == 2 else array


def read_npz(path: Path, target: str | None) -> pd.DataFrame:
    """A NumPy archive with ``images`` (N, H, W[, C]) and ``labels`` (N,; not needed without a
    `target`: new images to score)."""
    wanted = ["images"] if target is None else ["images", "labels"]
    try:
        with np.load(path, allow_pickle=False) as archive:
            if any(name not in archive for name in wanted):
                raise DataError(f"{path}: expected arrays {' and '.join(map(repr, wanted))}, "
                                f"got {sorted(archive)}")
            images = archive["images"]
            labels = archive["labels"] if target is not None else np.zeros(len(images))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) != len(labels):
        raise DataError(
            f"{path}: 'images' must be (N, H, W[, C]) with one label per image, got "
            f"{images.shape} and {len(labels)} labels"
        )
    return image_frame(list(images), labels, [f"{path.name}/{i}" for i in range(len(images))], target)


def read_image_parquet(path: Path, target: str | None) -> pd.DataFrame:
    """A Parquet file with a ``pixels`` list column and the label (shape columns optional; no
    label without a `target`: new images to score)."""
    from traincycle.io import read_parquet

    df = read_parquet(path)
    if target is None:
        if PIXELS not in df.columns:
            raise DataError(f"{path}: expected a column {PIXELS!r} (flat pixel values per image)")
    elif PIXELS not in df.columns or target not in df.columns:
        raise DataError(f"{path}: expected columns {PIXELS!r} and {target!r} (params data.target)")
    images: list[np.ndarray | None] = []
    for i, flat in enumerate(df[PIXELS]):
        if flat is None or (np.ndim(flat) == 0 and pd.isna(flat)):
            images.append(None)
            continue
        flat = np.asarray(flat, dtype=np.float32)
        if all(c in df.columns for c in SHAPE_COLUMNS):
            shape = tuple(int(df[c].iloc[i]) for c in SHAPE_COLUMNS)
        else:
            side = round(float(np.sqrt(flat.size)))
            if side * side != flat.size:
                raise DataError(f"{path}: row {i} has {flat.size} pixels; add height/width/channels columns")
            shape = (side, side, 1)
        if int(np.prod(shape)) != flat.size:
            raise DataError(f"{path}: row {i} has {flat.size} pixels but shape {shape}")
        images.append(flat.reshape(shape))
    files = (df[FILE].astype(str).tolist() if FILE in df.columns
             else [f"{path.name}/{i}" for i in range(len(df))])
    labels = df[target].to_numpy() if target is not None else np.zeros(len(df))
    return image_frame(images, labels, files, target)


def ingest_images(data: DataConfig, max_rows: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the image source into the raw table and describe it for provenance.json."""
    df, hashes = read_images(data.source, data.target)
    if max_rows:
        df = df.iloc[:max_rows].reset_index(drop=True)
    if df.empty:
        raise DataError(f"{data.source}: no images")
    if df[data.target].nunique() < 2:
        raise DataError(f"{data.source}: a single class; classification needs at least two")
    readable = df[df[PIXELS].notna()]
    shape = (
        readable[list(SHAPE_COLUMNS)].astype("int64").value_counts().index[0] if len(readable) else ()
    )
    provenance = {
        "source": data.source,
        "modality": "image",
        "sha256": hashes,
        "rows": len(df),
        "columns": len(df.columns),
        "image_shape": [int(v) for v in shape],
        "unreadable": int(df[PIXELS].isna().sum()),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
    }
    return df, provenance


def conform(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A (H, W, C) image brought to the model's (height, width, channels), for new images of
    another size or colour: colour to grey by ITU-R 601-2 luma (Pillow's ``convert("L")``), grey
    to colour by copying the channel, then a bilinear resize per channel on the float values."""
    from PIL import Image

    height, width, channels = (int(v) for v in shape)
    if image.shape[2] != channels:
        if channels == 1 and image.shape[2] >= 3:
            image = (image[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
        elif image.shape[2] > channels:
            image = image[..., :channels]
        else:
            image = np.repeat(image[..., :1], channels, axis=2)
    if image.shape[:2] != (height, width):
        image = np.stack([
            np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32))
                       .resize((width, height), Image.Resampling.BILINEAR))
            for c in range(channels)
        ], axis=2)
    return image.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- validate


def pixel_matrix(df: pd.DataFrame) -> np.ndarray:
    """(N, H*W*C) float32 pixels of rows that all have pixels of one shape."""
    return np.stack(df[PIXELS].to_list()).astype(np.float32, copy=False)


def image_shape(df: pd.DataFrame) -> tuple[int, int, int]:
    """The (height, width, channels) every image shares, else DataError."""
    shapes = df[list(SHAPE_COLUMNS)].drop_duplicates()
    if len(shapes) != 1 or shapes.isna().any(axis=None):
        raise DataError("images: shapes differ or are missing; run validate to see which files")
    return tuple(int(v) for v in shapes.iloc[0])  # type: ignore[return-value]


def check_images(df: pd.DataFrame, data: DataConfig, cfg: ImageChecks) -> list[Outcome]:
    """The image gate: readable files, one shape, allowed channels, value range, classes."""
    from traincycle.validate import Check, Outcome

    def outcome(kind: str, ok: bool, observed: dict[str, Any], severity: str = "critical",
                **kwargs: Any) -> Outcome:
        check = Check(kind, kind, PIXELS, f"traincycle.images.{kind}", kwargs, severity)  # type: ignore[arg-type]
        return Outcome(check, bool(ok), observed)

    if data.target not in df.columns or PIXELS not in df.columns:
        raise DataError(f"validate: the image table needs columns {PIXELS!r} and {data.target!r}")
    files = df[FILE].astype(str) if FILE in df.columns else pd.Series(df.index.astype(str))
    out = []
    unreadable = df[PIXELS].isna().to_numpy()
    out.append(outcome("readable", not unreadable.any(), _listing(files[unreadable], len(df))))
    ok = df[~unreadable]
    shape_cols = ok[list(SHAPE_COLUMNS)].astype("int64")
    shape_key = shape_cols.astype(str).agg("x".join, axis=1)
    common = shape_key.mode().iloc[0] if len(ok) else ""
    odd = (shape_key != common).to_numpy()
    out.append(outcome("shape", not odd.any(), {"observed_value": common,
                                                 **_listing(files[~unreadable][odd], len(ok))}))
    bad_channels = ~shape_cols["channels"].isin(cfg.channels).to_numpy()
    out.append(outcome("channels", not bad_channels.any(),
                       {"observed_value": sorted(set(shape_cols["channels"].tolist())),
                        **_listing(files[~unreadable][bad_channels], len(ok))},
                       allowed=list(cfg.channels)))
    low = np.array([float(np.min(p)) if p.size else np.nan for p in ok[PIXELS]])
    high = np.array([float(np.max(p)) if p.size else np.nan for p in ok[PIXELS]])
    out_of_range = ~((low >= cfg.min_value) & (high <= cfg.max_value))  # NaN/inf fail too
    out.append(outcome("range", not out_of_range.any(),
                       {"observed_value": [float(np.nanmin(low)), float(np.nanmax(high))] if len(ok) else [],
                        **_listing(files[~unreadable][out_of_range], len(ok))},
                       min_value=cfg.min_value, max_value=cfg.max_value))
    out += label_checks(df[data.target], cfg.min_class_count, cfg.min_class_ratio,
                        cfg.class_balance_severity, PIXELS)
    return out


def label_checks(labels: pd.Series, min_count: int, min_ratio: float, balance_severity: str,
                 column: str) -> list[Outcome]:
    """Missing labels, a minimum count per class and the class balance (smallest / largest)."""
    from traincycle.validate import Check, Outcome

    counts = labels.dropna().astype(str).value_counts().sort_index()
    missing = int(labels.isna().sum())
    ratio = float(counts.min() / counts.max()) if len(counts) else 0.0
    target = str(labels.name)
    return [
        Outcome(Check("labels", "labels", target, "traincycle.labels.present", {}, "critical"),
                missing == 0, {"unexpected_count": missing, "element_count": len(labels)}),
        Outcome(Check("class_count", "class_count", target, "traincycle.labels.class_count",
                      {"min_value": min_count}, "critical"),
                bool(len(counts) >= 2 and counts.min() >= min_count),
                {"observed_value": {str(k): int(v) for k, v in counts.items()}}),
        Outcome(Check("class_balance", "class_balance", target, "traincycle.labels.class_balance",
                      {"min_value": min_ratio, "of": column}, balance_severity),  # type: ignore[arg-type]
                ratio >= min_ratio, {"observed_value": ratio}),
    ]


def _listing(names: pd.Series, total: int) -> dict[str, Any]:
    """Count and the first few offenders, named, for the report and the one-line error."""
    names = names.astype(str)
    return {
        "unexpected_count": len(names),
        "element_count": total,
        "partial_unexpected_list": names.head(LISTED).tolist(),
    }


# ----------------------------------------------------------------------------- featurize


def feature_names(n_pixels: int) -> list[str]:
    """px_0 .. px_<n-1>: one float32 feature column per pixel value (HWC order)."""
    return [f"px_{i}" for i in range(n_pixels)]


def fit_normalizer(X: np.ndarray, shape: tuple[int, int, int]) -> Any:
    """A StandardScaler over pixel columns holding per-channel train mean/std (fit on train only).

    Per-channel statistics (not per-pixel) keep border pixels that are always 0 in train from
    being divided by a zero std, and match how images are normalised for CNNs.
    """
    from sklearn.preprocessing import StandardScaler

    channels = shape[2]
    per_channel = X.reshape(len(X), -1, channels).astype(np.float64)
    mean = per_channel.mean(axis=(0, 1))
    std = per_channel.std(axis=(0, 1))
    std = np.where(std > 0, std, 1.0)
    n = X.shape[1]
    scaler = StandardScaler()
    scaler.mean_ = np.tile(mean, n // channels)
    scaler.scale_ = np.tile(std, n // channels)
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = n
    scaler.n_samples_seen_ = len(X)
    return scaler


def featurize_images(
    parts: dict[str, pd.DataFrame], data: DataConfig, cfg: Any, seed: int
) -> tuple[Any, dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """Normalise every split with train statistics; same return values as ``featurize.featurize``."""
    from traincycle.featurize import (
        ROW_ID,
        SPLITS,
        Featurizer,
        class_labels,
        empty_label_issues,
        encode_target,
        filter_rows,
        scan_labels,
    )

    if cfg.dedupe_train:
        raise ConfigError("params featurize.dedupe_train: not for images; split keeps identical "
                          "images together already")
    if data.task == "regression":
        raise ConfigError("params data.task: images support binary or multiclass classification")
    kept, dropped = filter_rows(parts, data, {}, cfg)
    shape = image_shape(pd.concat([kept[s] for s in SPLITS]))
    X_train = pixel_matrix(kept["train"])
    scaler = fit_normalizer(X_train, shape)
    classes = class_labels(kept["train"][data.target], data)
    names = feature_names(X_train.shape[1])
    processed = {}
    for split in SPLITS:
        part = kept[split]
        X = X_train if split == "train" else pixel_matrix(part)
        features = pd.DataFrame(scaler.transform(X).astype(np.float32), columns=names)
        processed[split] = pd.concat([
            pd.DataFrame({ROW_ID: part.index.to_numpy(dtype=np.int64)}),
            features,
            pd.DataFrame({data.target: encode_target(part[data.target], data.task, classes, split)}),
        ], axis=1)
    issues = empty_label_issues()
    if cfg.label_scan.enabled:
        issues = scan_labels(processed["train"], data.target, classes, cfg.label_scan, seed)
    channels = shape[2]
    meta = {
        "modality": "image",
        "feature_names": names,
        "input_columns": [{"name": PIXELS, "dtype": "image", "shape": list(shape)}],
        "image_shape": list(shape),
        "channel_mean": scaler.mean_[:channels].tolist(),
        "channel_std": scaler.scale_[:channels].tolist(),
        "categorical_features": [],
        "target": data.target,
        "task": data.task,
        "classes": classes,
        "positive_label": classes[-1] if data.task == "binary" else None,
        "encoding": "none",
        "row_filters": {"drop_rows_missing": []},
    }
    dropped["label_issues"] = 0
    report = {
        "n_features": len(names),
        "image_shape": list(shape),
        "rows": {s: {"in": len(parts[s]), "out": len(processed[s])} for s in SPLITS},
        "rows_dropped": dropped,
        "label_issues_found": len(issues),
    }
    return Featurizer(scaler, meta), processed, issues, report


# ----------------------------------------------------------------------------- evaluate


def occlusion_importance(
    model: Any, X: np.ndarray, y: np.ndarray, shape: list[int], patch: int, rows: int, seed: int
) -> dict[str, float]:
    """Accuracy drop when a patch x patch square is set to the train mean (0 after normalising).

    A cheap, model-agnostic picture of where the model looks, on a seeded sample of test rows.
    """
    height, width, channels = shape
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(X), min(rows, len(X)), replace=False))
    X, y = X[pick], y[pick]
    base = float((model.predict(X) == y).mean())
    out = {}
    images = X.reshape(len(X), height, width, channels)
    for top in range(0, height, patch):
        for left in range(0, width, patch):
            masked = images.copy()
            masked[:, top:top + patch, left:left + patch, :] = 0.0
            acc = float((model.predict(masked.reshape(len(X), -1)) == y).mean())
            out[f"rows {top}-{min(top + patch, height) - 1}, cols {left}-{min(left + patch, width) - 1}"] = (
                base - acc
            )
    return out


def error_grid(images: list[np.ndarray], captions: list[str], scale: int, columns: int = 8) -> bytes:
    """A PNG grid of images (H, W, C values already in 0..255) with a caption under each."""
    from PIL import Image, ImageDraw

    height, width, channels = images[0].shape
    cell_w, cell_h = width * scale, height * scale + 12
    rows = max(1, -(-len(images) // columns))
    mode = "L" if channels == 1 else "RGB"
    grid = Image.new(mode, (cell_w * columns, cell_h * rows), color=255 if mode == "L" else (255,) * 3)
    draw = ImageDraw.Draw(grid)
    for i, (img, caption) in enumerate(zip(images, captions, strict=True)):
        array = np.clip(img, 0, 255).astype(np.uint8)
        tile = Image.fromarray(array[..., 0] if channels == 1 else array, mode=mode)
        tile = tile.resize((cell_w, height * scale), Image.Resampling.NEAREST)
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        grid.paste(tile, (x, y))
        draw.text((x + 1, y + height * scale), caption, fill=0 if mode == "L" else (0, 0, 0))
    import io

    buffer = io.BytesIO()
    grid.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def display_range(images: np.ndarray) -> np.ndarray:
    """Scale raw pixel values to 0..255 for display (digits are 0..16, MNIST 0..255)."""
    top = float(images.max()) if images.size else 255.0
    return images * (255.0 / top) if top > 0 else images
