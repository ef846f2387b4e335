"""Safe, byte-stable persistence for scikit-learn objects (skops, never pickle)."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from traincycle.errors import DataError
from traincycle.io import write_bytes

#: `"__id__": 1403...` memo keys and `"file": "1403....npy"` array files in schema.json
_ID_PATTERN = re.compile(r'("__id__": |"file": ")(\d+)(\.npy"|(?=\D))')

#: zip entries get this fixed time stamp so identical objects give identical files
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: types outside skops' default trust that our own artifacts legitimately contain
TRUSTED_TYPES = (
    "traincycle.featurize.QuantileClipper",
    "traincycle.kind_features.DateParts",
    "traincycle.kind_features.TextTerms",
    "traincycle.kind_features.FrequencyEncoder",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "numpy.dtype",
    "builtins.slice",
    "builtins.str",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.kernel_approximation.Nystroem",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.svm._classes.LinearSVR",
    "sklearn.tree._tree.Tree",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.pipeline.Pipeline",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.utils._bunch.Bunch",
)


def stable_zip(data: bytes) -> bytes:
    """Rewrite a skops zip so equal objects give equal bytes.

    skops names array files and memo entries after ``id()`` of the in-memory objects and stamps
    entries with the current time; renumber the ids in order of first appearance in
    ``schema.json`` and give every entry a fixed time.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        entries = {info.filename: src.read(info) for info in src.infolist()}
    schema = entries.pop("schema.json").decode("utf-8")
    numbers: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        new = numbers.setdefault(match.group(2), str(len(numbers)))
        return f"{match.group(1)}{new}{match.group(3)}"

    schema = _ID_PATTERN.sub(renumber, schema)
    renamed = {"schema.json": schema.encode("utf-8")}
    for name, blob in entries.items():
        stem, dot, ext = name.partition(".")
        renamed[f"{numbers.get(stem, stem)}{dot}{ext}"] = blob
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in sorted(renamed):
            fixed = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, renamed[name])
    return out.getvalue()


#: scikit-learn's vendored array-API adapters for other array libraries; importing one imports
#: that library (torch ~3 s, dask ~1 s)
_ARRAY_API_ADAPTERS = tuple(f"sklearn.externals.array_api_compat.{lib}"
                            for lib in ("torch", "dask", "cupy", "jax"))
#: blocked while skops lists the estimators: the adapters, and pytest, which the walk's
#: ``sklearn.utils._testing`` imports (~0.1 s) only for test markers, inside ``except ImportError``
_WALK_BLOCKED = (*_ARRAY_API_ADAPTERS, "pytest")


def _skops_io() -> ModuleType:
    """``skops.io``, imported without importing torch or dask.

    On import skops lists every scikit-learn estimator (``sklearn.utils.all_estimators``), whose
    ``pkgutil.walk_packages`` imports each package it passes, the array-API adapters under
    ``sklearn.externals`` included: ~4 s of torch and dask in a process (featurize, optimize)
    that uses neither. The walk skips a package whose import fails, and all_estimators ignores
    ``externals`` anyway, so an adapter not yet imported is blocked for the walk (a ``None``
    entry in ``sys.modules`` makes its import fail) and unblocked right after; so is pytest,
    unless already imported.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    blocked = [name for name in _WALK_BLOCKED if name not in sys.modules]
    sys.modules.update(dict.fromkeys(blocked))
    try:
        import skops.io as sio
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return sio


def dump_skops(obj: Any, path: str | Path) -> None:
    """Serialise a scikit-learn object with skops, atomically and byte-stable."""
    sio = _skops_io()

    write_bytes(stable_zip(sio.dumps(obj)), path)


def load_skops(path: str | Path, trusted: Iterable[str] = TRUSTED_TYPES) -> Any:
    """Load a skops file, refusing any type outside skops' defaults and `trusted`."""
    sio = _skops_io()

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a truncated or foreign file: skops raises many kinds
        raise DataError(f"{path}: not a readable skops file ({type(exc).__name__}: {exc})") from None
    allowed = set(trusted)
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        raise DataError(f"{path}: refusing to load untrusted type {refused[0]!r}")
    return sio.load(path, trusted=[t for t in untrusted if t in allowed])
