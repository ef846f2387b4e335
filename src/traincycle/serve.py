"""An HTTP scoring service over an optimised model directory (FastAPI + uvicorn, extra `serve`).

``POST /predict`` takes what the model's modality takes (:mod:`traincycle.intake`): table rows
``{"rows": [{column: value, ...}, ...]}`` (keys are the snake_case column names or the source's
original ones; text is cleaned as ingest cleaned the source), images (``multipart/form-data``
file parts, or ``{"images": [{"data": base64, "name": ...}]}``) or texts ``{"texts": [...]}``.
It returns, per input in order, the label, class probabilities, the confidence (top probability),
a ``low_confidence`` flag and the input's ``flags`` (see :mod:`traincycle.inputs`: the rule
`traincycle predict` applies too), plus the model version (sha256 prefix of model.onnx).

The body is parsed and checked by hand (orjson + the intake), not by a pydantic model per
request: that per-row Python was most of the latency. The OpenAPI document still describes each
accepted body exactly, from the manifest, and lists every status code: 200, 400 (not JSON),
413 (body over the cap), 422 (a body the model cannot take).
"""

# no `from __future__ import annotations`: FastAPI and pydantic read the annotations of the
# endpoint and of the response models defined inside functions below at run time
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traincycle.errors import DataError
from traincycle.inputs import PredictConfig
from traincycle.intake.base import JSON, BadJSON

MAX_ROWS = 1000
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class LogConfig:
    """Where the request log goes (None: no log), its size cap and how many old files to keep."""

    path: str | Path | None = None
    max_bytes: int = 10_000_000
    backups: int = 5


def response_models(manifest: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """Every status code /predict answers, with its body's model (for the OpenAPI document)."""
    from pydantic import BaseModel

    class Error(BaseModel):
        detail: str

    if manifest["task"] == "regression":
        class Prediction(BaseModel):
            prediction: float
            flags: list[str]
    else:
        class Prediction(BaseModel):  # type: ignore[no-redef]
            label: str
            probabilities: dict[str, float]
            confidence: float
            low_confidence: bool
            flags: list[str]

    class PredictResponse(BaseModel):
        model_version: str
        predictions: list[Prediction]

    return {
        200: {"model": PredictResponse, "description": "One prediction per input, in order."},
        400: {"model": Error, "description": "The body is not valid JSON."},
        413: {"model": Error, "description": "The body is larger than the service's cap."},
        422: {"model": Error, "description": "A body the model cannot score: wrong shape, unknown "
                                             "field, wrong type, refused value, unreadable image; "
                                             "names it."},
    }


def create_app(model_dir: str | Path, min_confidence: float = 0.5, max_rows: int = MAX_ROWS,
               max_body_bytes: int = MAX_BODY_BYTES, cfg: PredictConfig | None = None,
               log: LogConfig | None = None, pool: Any = None) -> Any:
    """The FastAPI application scoring with `model_dir` (model.onnx + manifest.json).

    Every /predict call is counted in the Prometheus metrics (``GET /metrics``) and, when `log`
    names a file, written to the JSON-lines request log; with `pool` (a
    :class:`traincycle.pool.PoolConfig` naming a file) low-confidence rows go to the labelling pool.
    """
    import time

    from fastapi import FastAPI, Request, Response
    from pydantic import BaseModel

    from traincycle.pinning import available_cores
    from traincycle.predict import load_predictor
    from traincycle.telemetry import RequestLog, ServiceMetrics, request_record

    cfg = cfg or PredictConfig()
    pred = load_predictor(model_dir, threads=len(available_cores()))  # big requests: every core
    manifest = pred.manifest
    intake = pred.intake(cfg)  # once: a text model's sentence encoder is loaded here, not per request
    answer = _answerer(manifest, min_confidence)
    data_version = manifest.get("data_version")
    metrics = ServiceMetrics()
    requests = (RequestLog(log.path, {"model_version": pred.version, "data_version": data_version},
                           log.max_bytes, log.backups) if log and log.path else None)
    pooler = _pooler(pool, intake, min_confidence)

    app = FastAPI(title="traincycle model", version=pred.version,
                  description=f"{manifest['family']} ({manifest['variant']}) predicting "
                              f"{manifest['target']!r}")
    app.add_middleware(BodyLimit, limit=max_body_bytes)

    class Health(BaseModel):
        status: str
        model_version: str
        data_version: str | None
        variant: str

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        return {"status": "ok", "model_version": pred.version, "data_version": data_version,
                "variant": manifest["variant"]}

    @app.get("/metrics", response_class=Response, responses={200: {
        "description": "Prometheus text format: requests, latency, confidence, low-confidence "
                       "and flagged rows.", "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    def record(status: int, start: float, raw: bytes, screened: Any = None,
               confidence: list[float] | None = None) -> None:
        seconds = time.perf_counter() - start
        rows = screened.rows if screened is not None else 0
        flagged = screened.flagged if screened is not None else 0
        flags = {**screened.counts, "any": flagged} if flagged else None
        metrics.observe(status, seconds, confidence, min_confidence, rows, flags)
        if requests is not None:
            requests.write(request_record(status, seconds, raw, confidence, min_confidence,
                                          flagged, rows))

    async def predict(request: Request) -> Response:
        start = time.perf_counter()
        raw = await request.body()
        try:
            screened = intake.parse_request(raw, request.headers.get("content-type", JSON),
                                            max_rows).screened
        except BadJSON as exc:
            record(400, start, raw)
            return _error(400, str(exc))
        except DataError as exc:
            record(422, start, raw)
            return _error(422, str(exc))
        scores = pred.scores(screened)
        predictions, confidence = answer(scores, screened.flags)
        reply = Response(_dumps({"model_version": pred.version, "predictions": predictions}),
                         media_type=JSON)
        record(200, start, raw, screened, confidence)
        if pooler is not None:
            metrics.pooled.inc(pooler(raw, confidence, screened.flags))
        return reply

    app.post("/predict", responses=response_models(manifest), openapi_extra={"requestBody": {
        "required": True, "content": intake.request_content(max_rows)}},
    )(predict)
    return app


def _pooler(pool: Any, intake: Any, min_confidence: float) -> Any:
    """(body, confidence, flags) -> rows appended to the labelling pool; None without a pool."""
    if pool is None or pool.path is None:
        return None
    from traincycle.pool import Pool, pooled_rows, request_rows

    target = Pool(pool, intake)

    def add(raw: bytes, confidence: list[float] | None, flags: list[str]) -> int:
        picked = pooled_rows(confidence, flags, min_confidence, pool.flagged)
        return target.add(request_rows(raw, intake.KEY, picked)) if picked else 0

    return add


def _answerer(manifest: dict[str, Any], min_confidence: float) -> Any:
    """scores + flags -> the per-row answers and each row's confidence (None for regression)."""
    import numpy as np

    from traincycle.inputs import FLAG_SEPARATOR

    def split(flags: str) -> list[str]:
        return flags.split(FLAG_SEPARATOR) if flags else []

    if manifest["task"] == "regression":
        def regression(scores: Any, flags: list[str]) -> tuple[list[dict[str, Any]], None]:
            return [{"prediction": v, "flags": split(f)}
                    for v, f in zip(scores.reshape(-1).tolist(), flags, strict=True)], None

        return regression
    classes = manifest["classes"]

    def classification(scores: Any, flags: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
        top = scores.argmax(axis=1)
        confidence = scores[np.arange(len(scores)), top].astype(np.float64).tolist()
        labels = [classes[i] for i in top.tolist()]
        return [{"label": label, "probabilities": dict(zip(classes, probs, strict=True)),
                 "confidence": conf, "low_confidence": conf < min_confidence, "flags": split(f)}
                for label, probs, conf, f in zip(labels, scores.astype(np.float64).tolist(),
                                                  confidence, flags, strict=True)], confidence

    return classification


def _dumps(body: Any) -> bytes:
    import orjson

    return orjson.dumps(body)


def _error(status: int, detail: str) -> Any:
    from fastapi import Response

    return Response(json.dumps({"detail": detail}), status_code=status, media_type=JSON)


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
          max_body_bytes: int, cfg: PredictConfig | None = None, log: LogConfig | None = None,
          pool: Any = None) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    app = create_app(model_dir, min_confidence, max_rows, max_body_bytes, cfg, log, pool)
    uvicorn.run(app, host=host, port=port, log_level="info")
