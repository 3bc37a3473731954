"""``fer-estimator live``: frame dropping, label smoothing, the MJPEG page and the command."""

import socket
import threading
import time

import cv2
import joblib
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

from fer_estimator.cli import main
from fer_estimator.faces import Face, FacePipeline
from fer_estimator.serve.live import (FrameHub, LabelSmoother, LatestFrames, every_frame,
                                      gui_available, open_capture, run_live)


@pytest.fixture(scope="module")
def dummy():
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))


@pytest.fixture(scope="module")
def model_path(dummy, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "dummy.joblib"
    joblib.dump(dummy, path)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """30 frames (3 s at 10 frames/s) of the astronaut, 320x320."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    frame = cv2.resize(data.astronaut()[:, :, ::-1], (320, 320))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 320))
    for _ in range(30):
        writer.write(frame)
    writer.release()
    return path


def _face(box, happy):
    return Face(box=box, label="Happy" if happy > 0.5 else "Sad",
                probabilities={"Happy": happy, "Sad": 1 - happy}, score=1.0)


def test_smoothing_averages_a_face_over_its_last_frames():
    smooth = LabelSmoother(window=2)
    classes = ["Happy", "Sad"]
    smooth([_face((10, 10, 50, 50), 0.9)], classes)
    [same, new] = smooth([_face((12, 10, 50, 50), 0.3), _face((200, 10, 50, 50), 0.2)], classes)
    assert same.probabilities["Happy"] == pytest.approx(0.6) and same.label == "Happy"
    assert new.probabilities["Happy"] == pytest.approx(0.2)  # another face: its own track
    [last] = smooth([_face((12, 10, 50, 50), 0.1)], classes)
    assert last.probabilities["Happy"] == pytest.approx(0.2)  # the window holds 2 frames


def test_a_slow_consumer_gets_the_newest_frames_and_the_rest_are_dropped(video):
    frames = LatestFrames(open_capture(str(video)))  # unpaced: read as fast as it decodes
    try:
        taken = []
        for index, _ in frames:
            taken.append(index)
            time.sleep(0.05)
    finally:
        frames.close()
    assert taken == sorted(taken) and taken[-1] == 29
    assert len(taken) < 30 and frames.dropped == 30 - len(taken)


def test_run_live_annotates_every_frame(dummy, video):
    hub = FrameHub()
    stats = run_live(FacePipeline(dummy), every_frame(open_capture(str(video))), [hub],
                     smoother=LabelSmoother(3), report_every=0)
    assert stats["frames"] == 30 and stats["faces"] == 30 and stats["fps"] > 0
    drawing = cv2.imdecode(np.frombuffer(hub.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert drawing.shape == (320, 320, 3)
    assert hub.stats["frames"] == 30 and hub.stats["fps"] > 0


def test_no_window_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not gui_available()


def test_live_command_measures_frames_per_second(model_path, video, capsys):
    assert main(["live", str(video), "--model", str(model_path), "--trust-model", "--every-frame",
                 "--no-display", "--max-frames", "12"]) == 0
    assert "live: 12 frames in " in capsys.readouterr().out


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_live_serve_streams_mjpeg_to_the_page(model_path, video, capsys):
    httpx = pytest.importorskip("httpx")
    port = free_port()
    status = []
    thread = threading.Thread(target=lambda: status.append(main([
        "live", str(video), "--model", str(model_path), "--trust-model", "--serve", "--port",
        str(port)])))
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        stats = None
        while time.monotonic() < deadline:
            try:
                stats = httpx.get(f"{base}/stats", timeout=2).json()
            except httpx.TransportError:
                stats = None
            if stats and stats["frames"] > 0:
                break
            time.sleep(0.1)
        assert stats and stats["frames"] > 0 and stats["fps"] is None or stats["fps"] > 0
        assert "stream.mjpg" in httpx.get(base, timeout=2).text
        with httpx.stream("GET", f"{base}/stream.mjpg", timeout=5) as response:
            assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
            chunk = b""
            for part in response.iter_bytes():
                chunk += part
                if b"\xff\xd9" in chunk:  # the end of the first JPEG
                    break
        assert chunk.startswith(b"--frame\r\nContent-Type: image/jpeg") and b"\xff\xd8" in chunk
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive() and status == [0]  # it stops itself at the video's end
    assert "frames/s" in capsys.readouterr().out
