"""traincycle serve for images (multipart uploads, base64 JSON) and texts, on real HTTP."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from media_models import text_model
from test_container import image_blocklist, serve_with_image_packages
from test_media_predict import finetune_dir, image_dir, text_dir  # noqa: F401 - the shared module-scoped fixtures
from test_serve import running

from traincycle.inputs import PredictConfig


def png_bytes(pixels, shape=(8, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels).reshape(shape).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def answers(reply: httpx.Response) -> np.ndarray:
    assert reply.status_code == 200, reply.text
    return np.array([list(p["probabilities"].values()) for p in reply.json()["predictions"]])


def test_images_by_upload_and_base64_score_like_the_native_model(image_dir) -> None:  # noqa: F811
    from traincycle.serve import create_app

    root, test, proba = image_dir
    images = [png_bytes(p) for p in test["pixels"].iloc[:4]]
    with running(create_app(root, max_rows=4, max_body_bytes=20_000)) as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        uploads = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
        np.testing.assert_allclose(answers(client.post("/predict", files=uploads)), proba[:4], atol=1e-5)
        body = {"images": [{"name": f"{i}.png", "data": base64.b64encode(d).decode()}
                           for i, d in enumerate(images)]}
        np.testing.assert_allclose(answers(client.post("/predict", json=body)), proba[:4], atol=1e-5)
        big = png_bytes(np.zeros((16, 16)), (16, 16))
        flagged = client.post("/predict", files=[("files", ("big.png", big, "image/png"))]).json()
        assert flagged["predictions"][0]["flags"] == ["wrong_size:16x16"]
        bad = [
            ({"files": [("files", ("junk.png", b"junk", "image/png"))]}, "junk.png: not a readable image"),
            ({"json": {"images": [{"data": "%%%"}]}}, "images[0]: \"data\" is not valid base64"),
            ({"json": {"images": [{"data": 1}]}}, "\"data\" must be base64 text"),
            ({"json": {"images": []}}, "expected 1 to 4"),
            ({"files": [("files", (f"{i}.png", images[0], "image/png")) for i in range(5)]},
             "5 files; expected 1 to 4"),
        ]
        for kwargs, needle in bad:
            got = client.post("/predict", **kwargs)
            assert got.status_code == 422 and needle in got.json()["detail"], got.text
        too_big = client.post("/predict", files=[("files", ("x.png", b"0" * 30_000, "image/png"))])
        assert too_big.status_code == 413
        operation = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
        content = operation["requestBody"]["content"]
        assert set(content) == {"multipart/form-data", "application/json"}
        assert content["multipart/form-data"]["schema"]["properties"]["files"]["items"]["format"] == "binary"


def test_unknown_error_policy_refuses_odd_images(image_dir) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    from traincycle.serve import create_app

    root, _test, _proba = image_dir
    big = png_bytes(np.zeros((16, 16)), (16, 16))
    with TestClient(create_app(root, cfg=PredictConfig(unknown="error"))) as client:
        got = client.post("/predict", files=[("files", ("big.png", big, "image/png"))])
    assert got.status_code == 422 and "big.png: image is 16x16x1" in got.json()["detail"]


def test_texts_score_like_the_native_model(text_dir) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    from traincycle.serve import create_app

    root, test, proba = text_dir
    with TestClient(create_app(root, max_rows=100)) as client:
        reply = client.post("/predict", json={"texts": test["text"].tolist()})
        np.testing.assert_allclose(answers(reply), proba, atol=1e-5)
        empty = client.post("/predict", json={"texts": ["  "]}).json()["predictions"][0]
        assert empty["flags"] == ["missing:text"]
        for payload, needle in (({"texts": [3]}, "texts[0]: expected text, got a number"),
                                ({"rows": ["a"]}, "unknown field 'rows'; expected only \"texts\""),
                                ({"texts": "a"}, "\"texts\" must be a list of texts")):
            got = client.post("/predict", json=payload)
            assert got.status_code == 422 and needle in got.json()["detail"], got.text
        body = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    texts = body["content"]["application/json"]["schema"]["properties"]["texts"]
    assert texts["items"] == {"type": "string"}


@pytest.mark.parametrize("which", ["image", "text"])
def test_schemathesis_finds_nothing(which, image_dir, text_dir, tmp_path: Path) -> None:  # noqa: F811
    """The service's own OpenAPI document drives property-based requests, every check on. For
    images a schema cannot say "decodable image bytes": random bytes are valid to it and answered
    422 (documented), so the positive-data check is left out there."""
    from traincycle.serve import create_app

    root = (image_dir if which == "image" else text_dir)[0]
    st = str(Path(sys.executable).parent / "st")
    skip = ["--exclude-checks", "positive_data_acceptance"] if which == "image" else []
    with running(create_app(root, max_rows=20, max_body_bytes=50_000)) as url:
        result = subprocess.run(
            [st, "run", f"{url}/openapi.json", "--checks", "all", *skip, "--max-examples", "30",
             "--seed", "7", "--generation-database", "none", "--workers", "1", "--no-color",
             "--request-timeout", "10", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout


def test_embedding_model_is_served_with_its_encoder_loaded_once(tmp_path: Path, monkeypatch) -> None:
    """A text model over MiniLM embeddings: the encoder stays in Python, loaded once per service
    (and once per predict run), and the scores equal the native model's."""
    from fastapi.testclient import TestClient

    import traincycle.text
    from traincycle.predict import predict_file
    from traincycle.serve import create_app

    root, test, proba = text_model(tmp_path / "model", n=120, embeddings=True)
    loads = []
    real = traincycle.text.load_encoder
    monkeypatch.setattr(traincycle.text, "load_encoder", lambda *a, **k: loads.append(1) or real(*a, **k))
    with TestClient(create_app(root)) as client:
        first = answers(client.post("/predict", json={"texts": test["text"].tolist()[:10]}))
        rest = answers(client.post("/predict", json={"texts": test["text"].tolist()[10:]}))
    assert len(loads) == 1
    np.testing.assert_allclose(np.vstack([first, rest]), proba, atol=1e-5)
    (tmp_path / "new.txt").write_text("\n".join(test["text"]) + "\n")
    predict_file(root, tmp_path / "new.txt", tmp_path / "out.csv", batch_rows=7)
    assert len(loads) == 2
    import pandas as pd

    scored = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(scored.filter(like="proba_").to_numpy(), proba, atol=1e-5)


def test_a_fine_tuned_model_is_served_with_its_tokenizer_loaded_once(finetune_dir, monkeypatch) -> None:  # noqa: F811
    """The graph takes token ids: the service tokenizes the texts (tokenizer loaded once) and
    scores them as the native model did."""
    from fastapi.testclient import TestClient

    import traincycle.text
    from traincycle.serve import create_app

    root, test, proba = finetune_dir
    loads = []
    real = traincycle.text.load_tokenizer
    monkeypatch.setattr(traincycle.text, "load_tokenizer", lambda *a: loads.append(1) or real(*a))
    with TestClient(create_app(root)) as client:
        first = answers(client.post("/predict", json={"texts": test["text"].tolist()[:7]}))
        rest = answers(client.post("/predict", json={"texts": test["text"].tolist()[7:]}))
        empty = client.post("/predict", json={"texts": [""]}).json()["predictions"][0]
    assert len(loads) == 1 and empty["flags"] == ["missing:text"]
    np.testing.assert_allclose(np.vstack([first, rest]), proba, atol=1e-4)


def test_the_image_runtime_serves_image_and_fine_tuned_text_models(image_dir, finetune_dir) -> None:  # noqa: F811
    """What docker/requirements.py adds for these inputs (Pillow; transformers and the packaged
    MiniLM's tokenizer files) is enough: no torch, sentence-transformers or training stack."""
    root, test, _ = image_dir
    image = base64.b64encode(png_bytes(test["pixels"].iloc[0])).decode()
    body = {"images": [{"name": "0.png", "data": image}]}
    serve_with_image_packages(root, body, image_blocklist(("image",)))
    root, test, _ = finetune_dir
    blocked = image_blocklist(("tokens",))
    assert "torch" in blocked and "tqdm" not in blocked  # tqdm: a dependency of transformers
    serve_with_image_packages(root, {"texts": test["text"].tolist()[:3]}, blocked)
