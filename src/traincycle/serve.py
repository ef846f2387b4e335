"""An HTTP scoring service over an optimised model directory (FastAPI + uvicorn, extra `serve`).

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}`` and returns, per row, the
label, class probabilities, the confidence (top probability) and a ``low_confidence`` flag,
plus the model version (sha256 prefix of model.onnx). The request schema — and so the OpenAPI
document — is built from the manifest: numbers for numeric columns, the training categories as
an enum for categorical ones, null for missing. Bad requests get a 4xx with a message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from traincycle.errors import DataError

MAX_ROWS = 1000
MAX_BODY_BYTES = 1_000_000


def row_model(manifest: dict[str, Any]) -> Any:
    """A pydantic model of one raw row, derived from the manifest's input schema."""
    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for i, col in enumerate(manifest["inputs"]):
        if col["kind"] == "categorical":
            kind: Any = Literal[tuple(col["categories"])] if col["categories"] else str
        else:
            kind = float
        fields[f"c{i}"] = (kind | None, Field(default=None, alias=col["name"]))
    return create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)


def create_app(model_dir: str | Path, min_confidence: float = 0.5, max_rows: int = MAX_ROWS,
               max_body_bytes: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI application scoring with `model_dir` (model.onnx + manifest.json)."""
    import pandas as pd
    from fastapi import FastAPI, HTTPException
    from pydantic import Field, create_model

    from traincycle.predict import check_rows, load_predictor

    pred = load_predictor(model_dir)
    manifest = pred.manifest
    row = row_model(manifest)
    request_model = create_model(
        "PredictRequest", rows=(list[row], Field(min_length=1, max_length=max_rows)),
    )
    names = [c["name"] for c in manifest["inputs"]]
    app = FastAPI(title="traincycle model", version=pred.version,
                  description=f"{manifest['family']} ({manifest['variant']}) predicting "
                              f"{manifest['target']!r}")
    app.add_middleware(BodyLimit, limit=max_body_bytes)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model_version": pred.version, "variant": manifest["variant"]}

    def predict(request: Any) -> dict[str, Any]:
        records = [r.model_dump(by_alias=True) for r in request.rows]  # type: ignore[attr-defined]
        frame = pd.DataFrame.from_records(records, columns=names)
        try:
            scores = pred.scores(check_rows(frame, pred.columns, where="request"))
        except DataError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {"model_version": pred.version, "predictions": _predictions(manifest, scores,
                                                                           min_confidence)}

    # the request model is built at run time, so the annotation is set here for FastAPI to read
    predict.__annotations__["request"] = request_model
    app.post("/predict")(predict)
    return app


def _predictions(manifest: dict[str, Any], scores: Any, min_confidence: float) -> list[dict[str, Any]]:
    if manifest["task"] == "regression":
        return [{"prediction": float(v)} for v in scores.reshape(-1)]
    classes = manifest["classes"]
    out = []
    for probs in scores.tolist():
        top = max(range(len(probs)), key=probs.__getitem__)
        out.append({
            "label": classes[top],
            "probabilities": {c: float(p) for c, p in zip(classes, probs, strict=True)},
            "confidence": float(probs[top]),
            "low_confidence": bool(probs[top] < min_confidence),
        })
    return out


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, before parsing."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def serve(model_dir: str | Path, host: str, port: int, min_confidence: float, max_rows: int,
          max_body_bytes: int) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    app = create_app(model_dir, min_confidence, max_rows, max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level="info")
