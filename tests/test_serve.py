"""``fer-estimator serve``'s app, through FastAPI's test client, with a dummy model."""

import http.server
import io
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data
from sklearn.dummy import DummyClassifier

pytest.importorskip("fastapi", reason="serve needs the [serve] extra: fastapi")
pytest.importorskip("python_multipart", reason="serve needs the [serve] extra: python-multipart")
from fastapi.testclient import TestClient

from fer_estimator.labels import EMOTIONS
from fer_estimator.serve.app import create_app


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
    _ok, encoded = cv2.imencode(".jpg", data.astronaut()[:, :, ::-1])
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
    _ok, strip = cv2.imencode(".png", crops.reshape(3 * 48, 48))
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
    _ok, png = cv2.imencode(".png", np.zeros((1000, 2000), np.uint8))
    response = client.post("/predict", content=png.tobytes(), headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert "2000x1000 = 2,000,000 pixels; the limit is 1,000,000" in response.json()["detail"]


def png_header(width, height):
    """A PNG declaring ``width`` x ``height`` gray pixels with no image data: valid chunk CRCs,
    a few dozen bytes."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    gray_8_bits = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", gray_8_bits) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if OpenCV is asked to decode anything."""
    def imdecode(*args):
        raise AssertionError("cv2.imdecode was called: the header check let the image through")

    monkeypatch.setattr(cv2, "imdecode", imdecode)


def test_a_decompression_bomb_is_refused_from_its_header(client, no_decoding):
    # 400 million pixels in 70 bytes: Pillow refuses to open it (DecompressionBombError).
    response = client.post("/predict", content=png_header(20000, 20000),
                           headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert "400,000,000 pixels; the limit is 1,000,000" in response.json()["detail"]


def test_a_format_without_a_readable_header_is_refused_before_decoding(client, no_decoding):
    _ok, hdr = cv2.imencode(".hdr", np.zeros((8, 8, 3), np.float32))  # Radiance: OpenCV only
    response = client.post("/predict", content=hdr.tobytes(), headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert "JPEG, PNG, WebP, BMP, TIFF" in response.json()["detail"]
    buffer = io.BytesIO()  # a format that Pillow reads but serve does not take
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="GIF")
    response = client.post("/predict", content=buffer.getvalue(),
                           headers={"content-type": "image/gif"})
    assert response.status_code == 400
    assert "it is GIF" in response.json()["detail"]


def test_sizes_that_opencv_refuses_are_a_json_413(dummy):
    # Allowed by a generous --max-pixels: a BMP 2,000,000 pixels wide (OpenCV decodes at most
    # 2**20), and 40000x40000 = 1.6e9 pixels (over OpenCV's 2**30).
    _ok, bmp = cv2.imencode(".bmp", np.zeros((1, 4), np.uint8))
    wide = bytearray(bmp.tobytes())
    wide[18:22] = struct.pack("<i", 2_000_000)  # the width in the BMP's info header
    with TestClient(create_app(dummy, max_pixels=2_000_000_000)) as generous:
        response = generous.post("/predict", content=bytes(wide),
                                 headers={"content-type": "image/bmp"})
        assert response.status_code == 413
        assert "2000000x1 = 2,000,000 pixels: more than OpenCV decodes" in response.json()["detail"]
        response = generous.post("/predict", content=png_header(40000, 40000),
                                 headers={"content-type": "image/png"})
        assert response.status_code == 413
        # Pillow reads no header over 2 * Image.MAX_IMAGE_PIXELS: the most that can be checked.
        assert "1,600,000,000 pixels; the limit is 178,956,970" in response.json()["detail"]


def npy_header(descr, shape, data=b""):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue() + data


@pytest.mark.parametrize("body, status, words", [
    (npy_header("|u1", (100_000_000, 48, 48), b"\0" * 100), 413,
     "100,000,000 faces; at most 256"),
    (npy_header("<f4", (2, 48, 48), b"\0" * 2 * 48 * 48 * 4), 400, "must be uint8, got float32"),
    (npy_header("|u1", (2, 48, 48), b"\0" * 100), 400, "holds 100 bytes of pixels"),
    (npy_header("|u1", (2, 48, 48), b"\0" * (2 * 48 * 48 + 1)), 400, "holds 4,609 bytes"),
    (npy_header("|u1", (2, 32, 32), b"\0" * 2 * 32 * 32), 400, "got (2, 32, 32)"),
    (npy_header("|u1", (0, 48, 48)), 400, "n >= 1"),
    (b"\x93NUMPY\x01\x00\xff\x00{'descr'", 400, "not a readable .npy"),
], ids=["too-many-faces", "float32", "too-few-bytes", "too-many-bytes", "32x32", "no-faces",
        "broken-header"])
def test_a_npy_header_is_checked_before_its_array_is_read(client, body, status, words):
    response = client.post("/predict/crops", content=body,
                           headers={"content-type": "application/x-npy"})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_a_strip_of_faces_is_checked_for_width_then_for_its_number_of_faces(client, no_decoding):
    _ok, wide = cv2.imencode(".png", np.zeros((600, 1000), np.uint8))
    response = client.post("/predict/crops", content=wide.tobytes(),
                           headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert "must be 48 pixels wide" in response.json()["detail"]
    _ok, tall = cv2.imencode(".png", np.zeros((300 * 48, 48), np.uint8))
    response = client.post("/predict/crops", content=tall.tobytes(),
                           headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert "holds 300 faces; at most 256" in response.json()["detail"]


def test_bench_serve_counts_an_unexpected_answer_as_an_error(load_script):
    class NotJson(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # the name http.server calls
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b"<html>a proxy's page</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotJson)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/predict"
        status, seconds, faces = load_script("bench_serve").post(url, b"jpeg", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert (status, faces) == (200, None) and seconds > 0


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
