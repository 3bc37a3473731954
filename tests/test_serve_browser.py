"""The pages of ``fer-estimator serve`` and ``live`` in a real browser: headless Chromium driven
by Selenium.

Chromium and chromedriver are the system's (Debian: ``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them); nothing is downloaded, and the browser only talks
to the test server on 127.0.0.1. The camera is Chromium's fake camera playing a video made here
from scikit-image's astronaut. Set ``FER_ESTIMATOR_SCREENSHOT=docs/serve-page.png`` to refresh
the README's screenshot of the page.
"""

import base64
import os
import shutil
import socket
import threading
import time
from importlib.resources import files

import cv2
import joblib
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

from fer_estimator._paths import DEFAULT_MODEL_PATH
from fer_estimator.cli import main
from fer_estimator.faces.annotate import EMOTION_COLOURS
from fer_estimator.safe_format import load

pytest.importorskip("fastapi", reason="serve needs the [serve] extra")
pytest.importorskip("selenium", reason="the browser tests need selenium (the [test] extra)")
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fer_estimator.serve.app import create_app
from fer_estimator.serve.commands import free_port, serve_in_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="the browser tests need Chromium and chromedriver on PATH "
           "(Debian: apt-get install chromium chromium-driver)")
WAIT = 90  # seconds: a page action, on a loaded 2-core machine


def write_y4m(path, frames, fps=10):
    """Frames (BGR, even sides) as a Y4M video, the raw format of Chromium's fake camera."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        # "C420": Chromium reads only this spelling of 4:2:0 (not ffmpeg's C420mpeg2).
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1, with the shipped model when present (so that the
    screenshot shows real predictions), else a dummy classifier."""
    if DEFAULT_MODEL_PATH.is_file():
        model = load(DEFAULT_MODEL_PATH)
    else:
        model = DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))
    port = free_port()
    stop = serve_in_thread(create_app(model), "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/"
    stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chromium")
    astronaut = cv2.resize(data.astronaut()[:, :, ::-1], (480, 480))
    frame = cv2.copyMakeBorder(astronaut, 0, 0, 80, 80, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    camera = write_y4m(folder / "camera.y4m", [frame] * 10)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions",
                 "--disable-default-apps", "--window-size=1100,760",
                 f"--user-data-dir={folder / 'profile'}",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        pytest.skip(f"Chromium did not start: {error.msg}")
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def _wait_for_status(driver, done):
    """The status line, once ``done(its text)`` holds."""
    WebDriverWait(driver, WAIT).until(lambda d: done(d.find_element(By.ID, "status").text))
    return driver.find_element(By.ID, "status")


def _annotated(driver):
    src = driver.find_element(By.ID, "result").get_attribute("src")
    prefix = "data:image/jpeg;base64,"
    assert src.startswith(prefix)
    return cv2.imdecode(np.frombuffer(base64.b64decode(src[len(prefix):]), np.uint8),
                        cv2.IMREAD_COLOR)


def test_upload_the_group_photo_shows_each_face_drawn_and_listed(server, browser, tmp_path,
                                                                 shared_group_photo):
    photo = shared_group_photo
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    status = _wait_for_status(browser, lambda text: not text.startswith("Finding"))
    assert status.text == "group_selfie.jpg: 6 faces"  # the default detector (YuNet) finds all 6
    faces = browser.find_elements(By.CSS_SELECTOR, "#faces li.face")
    assert len(faces) == 6
    for face in faces:  # a label and a bar per class
        assert len(face.find_elements(By.CSS_SELECTOR, ".bar")) == 7
    drawing = _annotated(browser)
    assert drawing.shape == cv2.imread(str(photo)).shape
    # Each box is drawn in its label's colour: sample the middle of its left edge.
    for face in faces:
        label, _, box = face.find_element(By.CSS_SELECTOR, ".label").text.partition(" at ")
        x, y, _w, h = (int(v) for v in box.strip("[]").split(","))
        pixel = drawing[y + h // 2, x + 1].astype(int)
        assert np.abs(pixel - EMOTION_COLOURS[label]).max() < 60, (label, pixel)
    shot = tmp_path / "serve-page.png"
    assert browser.save_screenshot(str(shot))
    if os.environ.get("FER_ESTIMATOR_SCREENSHOT"):
        from PIL import Image  # Pillow comes with matplotlib

        # 256 colours: a third of the size, for the README.
        with Image.open(shot) as image:
            image.convert("RGB").quantize(256).save(os.environ["FER_ESTIMATOR_SCREENSHOT"],
                                                    optimize=True)


def test_the_camera_is_sent_frame_by_frame(server, browser):
    browser.get(server)
    browser.find_element(By.ID, "camera-start").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: "frames/s" in d.find_element(By.ID, "fps").text)
    _wait_for_status(browser, lambda text: text == "camera: 1 face")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#faces li.face")) == 1
    assert _annotated(browser).shape == (480, 640, 3)
    browser.find_element(By.ID, "camera-stop").click()
    _wait_for_status(browser, lambda text: text == "camera stopped")


def test_a_file_that_is_no_image_shows_the_servers_error(server, browser, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(text))
    status = _wait_for_status(browser, lambda text: "not an image" in text)
    assert status.get_attribute("class") == "error"


def test_an_answer_that_is_not_json_shows_its_status(browser, tmp_path):
    """A proxy's or a crashed server's plain-text error reaches the page as its status line."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, PlainTextResponse

    app = FastAPI()
    page = (files("fer_estimator.serve") / "page.html").read_text(encoding="utf-8")
    app.get("/", response_class=HTMLResponse)(lambda: page)
    app.post("/predict")(lambda: PlainTextResponse("Internal Server Error", status_code=500))
    port = free_port()
    stop = serve_in_thread(app, "127.0.0.1", port)
    try:
        photo = tmp_path / "photo.jpg"
        cv2.imwrite(str(photo), data.astronaut()[:, :, ::-1])
        browser.get(f"http://127.0.0.1:{port}/")
        browser.find_element(By.ID, "file").send_keys(str(photo))
        status = _wait_for_status(browser, lambda text: not text.startswith("Finding"))
        assert "500 Internal Server Error" in status.text
        assert status.get_attribute("class") == "error"
    finally:
        stop()


def test_the_live_page_shows_the_stream_and_its_frame_rate(browser, tmp_path):
    model = tmp_path / "dummy.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7))), model)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 320))
    for _ in range(40):  # 4 s at its own frame rate
        writer.write(cv2.resize(data.astronaut()[:, :, ::-1], (320, 320)))
    writer.release()
    port = free_port()
    live = threading.Thread(target=main, args=(["live", str(video), "--model", str(model),
                                                "--trust-model", "--serve", "--port", str(port)],))
    live.start()
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        browser.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(browser, WAIT).until(
            lambda d: "frames/s" in d.find_element(By.ID, "fps").text)
        width = browser.execute_script(
            "return document.getElementById('stream').naturalWidth")
        assert width == 320
    finally:
        live.join(timeout=60)
    assert not live.is_alive()
