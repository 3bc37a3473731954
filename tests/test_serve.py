"""``fer-estimator serve``'s app, through FastAPI's test client, with a dummy model."""

import io

import cv2
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

pytest.importorskip("fastapi", reason="serve needs the [serve] extra: fastapi")
pytest.importorskip("python_multipart", reason="serve needs the [serve] extra: python-multipart")
from fastapi.testclient import TestClient  # noqa: E402

from fer_estimator.labels import EMOTIONS  # noqa: E402
from fer_estimator.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def dummy():
    """A fitted classifier predicting the class frequencies of 7 faces: fast, no Keras."""
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))


@pytest.fixture(scope="module")
def client(dummy):
    with TestClient(create_app(dummy, max_bytes=2_000_000, max_pixels=1_000_000)) as client:
        yield client


@pytest.fixture(scope="module")
def astronaut_jpeg():
    ok, encoded = cv2.imencode(".jpg", data.astronaut()[:, :, ::-1])
    return encoded.tobytes()


def test_predict_multipart_has_the_schema_of_predict_json(client, astronaut_jpeg):
    response = client.post("/predict", files={"file": ("..\\a/../b\\astronaut.jpg", astronaut_jpeg,
                                                       "image/jpeg")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["classes"] == list(EMOTIONS)
    [image] = result["images"]
    assert image["image"] == "astronaut.jpg"  # the name only, never a client's folders
    assert (image["frame"], image["width"], image["height"]) == (None, 512, 512)
    [face] = image["faces"]
    assert set(face) == {"box", "label", "score", "probabilities"}
    assert len(face["box"]) == 4 and face["label"] in EMOTIONS
    assert sum(face["probabilities"].values()) == pytest.approx(1)
    assert "annotated" not in result


def test_predict_raw_bytes_with_the_annotated_image(client, astronaut_jpeg):
    response = client.post("/predict?annotate=true", content=astronaut_jpeg,
                           headers={"content-type": "image/jpeg"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["images"][0]["faces"]) == 1
    prefix = "data:image/jpeg;base64,"
    assert result["annotated"].startswith(prefix)


def test_predict_crops_from_npy_and_from_a_strip_image(client):
    crops = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    buffer = io.BytesIO()
    np.save(buffer, crops)
    response = client.post("/predict/crops", content=buffer.getvalue(),
                           headers={"content-type": "application/x-npy"})
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) == 3
    ok, strip = cv2.imencode(".png", crops.reshape(3 * 48, 48))
    response = client.post("/predict/crops", files={"file": ("faces.png", strip.tobytes())})
    assert response.status_code == 200, response.text
    [face, *_] = response.json()["faces"]
    assert set(face) == {"label", "probabilities"}


@pytest.mark.parametrize("kwargs, status, words", [
    (dict(content=b"", headers={"content-type": "image/jpeg"}), 400, "is empty"),
    (dict(content=b"hello, not an image", headers={"content-type": "image/png"}), 400,
     "not an image"),
    (dict(content=b'{"a": 1}', headers={"content-type": "application/json"}), 415,
     "multipart/form-data"),
    (dict(content=b"\xff" * 10), 415, "got none"),
    (dict(files={"other": ("a.jpg", b"x")}), 400, "form field 'file'"),
    (dict(content=b"\0" * 2_000_001, headers={"content-type": "image/jpeg"}), 413,
     "larger than the limit"),
])
def test_bad_requests_get_a_json_4xx(client, kwargs, status, words):
    response = client.post("/predict", **kwargs)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_too_many_pixels_is_refused_before_decoding(client):
    # A 2000x1000 PNG of one colour compresses to a few kilobytes: under the byte limit.
    ok, png = cv2.imencode(".png", np.zeros((1000, 2000), np.uint8))
    response = client.post("/predict", content=png.tobytes(), headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert "2000x1000 = 2,000,000 pixels; the limit is 1,000,000" in response.json()["detail"]


def test_a_chunked_body_is_counted_as_it_arrives(client):
    def chunks():
        for _ in range(30):
            yield b"\0" * 100_000

    response = client.post("/predict", content=chunks(), headers={"content-type": "image/jpeg"})
    assert response.status_code == 413


def test_a_pickled_npy_is_refused(client):
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    response = client.post("/predict/crops", content=buffer.getvalue(),
                           headers={"content-type": "application/x-npy"})
    assert response.status_code == 400
    assert "not a readable .npy" in response.json()["detail"]


def test_health_page_and_openapi(client):
    assert client.get("/health").json()["status"] == "ok"
    page = client.get("/")
    assert page.status_code == 200 and 'id="camera-start"' in page.text
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/*"} <= set(body)
    assert "PredictOut" in schema["components"]["schemas"]
