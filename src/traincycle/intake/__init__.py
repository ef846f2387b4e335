"""New inputs of a model directory, per modality: what `traincycle predict` and `serve` score.

A modality names its intake module (``INTAKE``) and :func:`intake` loads it: it reads predict's input
(table rows, image files, texts) and the service's request bodies through the same readers
ingest used for the training data, checks them against the manifest, flags or refuses odd
inputs under the `predict` params policy (:class:`traincycle.inputs.PredictConfig`) and turns
them into the ONNX graph's feeds. predict and serve never branch on the modality: they ask the
intake. Implementations: :mod:`.table`, :mod:`.image`, :mod:`.text`.
"""

from __future__ import annotations

from typing import Any

from traincycle.intake.base import Intake


def intake(manifest: dict[str, Any], cfg: Any) -> Intake:
    """The intake of a model directory (its manifest), under the `predict` policy `cfg`: the
    module its modality names (``INTAKE``)."""
    import importlib

    from traincycle.modalities import of_manifest

    module = importlib.import_module(f"traincycle.intake.{of_manifest(manifest).INTAKE}")
    return module.make(manifest, cfg)  # type: ignore[no-any-return]
