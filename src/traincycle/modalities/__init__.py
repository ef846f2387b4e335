"""One module per data type behind one protocol, and the registry stages look them up in.

A stage never branches on ``data.modality``: it asks :func:`modality` for the implementation
and calls the protocol's methods. A new data type is one module here implementing
:class:`Modality`, registered in :data:`MODALITIES`, plus its tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from traincycle.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from traincycle.config import DataConfig

#: data.modality -> module under traincycle.modalities
MODALITIES = {"tabular": "tabular", "image": "image", "text": "text"}


class Modality(Protocol):
    """What a data type supplies to the stages (module-level names of its module)."""

    #: the name in params data.modality and featurizer.json
    NAME: str
    #: whether evaluate's fairness gate applies (sensitive columns exist for this data type)
    FAIRNESS: bool
    #: whether train also scores the simple family (logistic / ridge) on its features as a baseline
    SIMPLE_BASELINE: bool
    #: the module under traincycle.intake that reads new inputs for `traincycle predict` and
    #: `serve` (files, request bodies). Named, not imported: stages never load serving code, so
    #: editing it reruns no stage.
    INTAKE: str

    def ingest(self, data: DataConfig, cfg: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Read the source into the raw table and its provenance record."""

    def check(self, df: pd.DataFrame, schema: Any, data: DataConfig,
              cfg: Any) -> tuple[list[Any], dict[str, pd.DataFrame]]:
        """validate: the outcomes of this data type's checks, and group summaries (may be empty)."""

    def identity_columns(self, df: pd.DataFrame, data: DataConfig) -> list[str]:
        """The columns that say two rows are the same example (split keeps those together)."""

    def featurize(self, parts: dict[str, pd.DataFrame], data: DataConfig, cfg: Any,
                  seed: int) -> tuple[Any, dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
        """Fit on train, transform every split: featurizer, processed splits, label issues, report."""

    def fit_inputs(self, featurizer_meta: str) -> dict[str, Any]:
        """Extra FitSpec fields train passes to the family (text: featurize's vectorizer)."""

    def evaluation_inputs(self, raw: pd.DataFrame, processed: pd.DataFrame, meta: dict[str, Any],
                          data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(slice frame, rows shown in the error table) for the test rows."""

    def explain(self, model: Any, X: np.ndarray, y: np.ndarray, meta: dict[str, Any], metric: str,
                cfg: Any, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
        """(importance report, per-feature values for the importance chart)."""

    def evaluation_files(self, raw: pd.DataFrame, y: np.ndarray, proba: np.ndarray | None,
                         pred: np.ndarray, classes: list[str]) -> dict[str, bytes]:
        """Extra files for plots/evaluate (images: the worst-predicted grid)."""

    def export_onnx(self, featurizer: Any, model: Any, native: Any = None) -> bytes:
        """One byte-stable ONNX graph from this data type's raw input to the model's scores."""

    def requests(self, featurizer: Any, model: Any, processed: pd.DataFrame, raw: pd.DataFrame) -> tuple[
            Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], dict[str, np.ndarray]]]:
        """For row positions of `processed`: (native scores from the raw input, ONNX feeds)."""

    def manifest_fields(self, featurizer: Any, model: Any) -> dict[str, Any]:
        """The serving contract's input description (``inputs`` and friends) for manifest.json."""


def modality(name: str) -> Modality:
    """The implementation of data.modality `name`."""
    if name not in MODALITIES:
        raise ConfigError(
            f"params data.modality: unknown modality {name!r}; expected one of {', '.join(MODALITIES)}"
        )
    return importlib.import_module(f"traincycle.modalities.{MODALITIES[name]}")  # type: ignore[return-value]


def of_featurizer(meta: dict[str, Any]) -> Modality:
    """The modality a featurizer.json records."""
    from traincycle.errors import DataError

    if "modality" not in meta:
        raise DataError("featurizer.json: no 'modality' key (written by an older featurize); "
                        "rerun featurize (dvc repro)")
    return modality(meta["modality"])


def of_manifest(manifest: dict[str, Any]) -> Modality:
    """The modality a model directory's manifest.json records (tables wrote none before images
    and text had manifests of their own)."""
    return modality(str(manifest.get("modality", "tabular")))
