"""``fer-estimator live``: frame dropping, label smoothing, the MJPEG page and the command."""

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
from fer_estimator.serve import commands, live
from fer_estimator.serve.commands import free_port
from fer_estimator.serve.live import (
    FrameHub,
    LabelSmoother,
    LatestFrames,
    every_frame,
    gui_available,
    open_capture,
    run_live,
)


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


class FakeCapture:
    """A capture of ``n_frames`` small frames that records its calls; ``gate``, when given,
    holds each read until it is set."""

    def __init__(self, n_frames=3, gate=None):
        self.left = n_frames
        self.gate = gate
        self.reading = threading.Event()
        self.calls = []

    def read(self):
        self.calls.append("read")
        self.reading.set()
        if self.gate is not None:
            self.gate.wait()
        self.reading.clear()
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, np.zeros((64, 64, 3), np.uint8)

    def release(self):
        self.calls.append("release while reading" if self.reading.is_set() else "release")

    def get(self, prop):
        return 0.0

    def isOpened(self):  # OpenCV's name
        return True


def _wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_close_leaves_the_release_to_a_reader_still_inside_read():
    gate = threading.Event()
    capture = FakeCapture(n_frames=1, gate=gate)
    frames = LatestFrames(capture)
    assert capture.reading.wait(5)
    frames.close(timeout=0.1)  # the reader is blocked in read(): the join times out
    assert "release" not in capture.calls and "release while reading" not in capture.calls
    gate.set()  # read() returns; the reader sees the stop and releases the capture itself
    assert _wait_for(lambda: "release" in capture.calls)
    assert capture.calls.count("release") == 1 and "release while reading" not in capture.calls


def test_a_paced_reader_stops_at_once():
    capture = FakeCapture(n_frames=100)
    frames = LatestFrames(capture, pace=0.2)  # one frame every 5 s
    assert next(iter(frames))[0] == 0
    start = time.monotonic()
    frames.close()
    assert time.monotonic() - start < 2  # not after the 5 s pause
    assert capture.calls[-1] == "release"


def test_the_live_command_releases_a_capture_it_never_read(model_path, monkeypatch):
    capture = FakeCapture()
    monkeypatch.setattr(live, "open_capture", lambda source: capture)

    def failing_run_live(pipeline, frames, outputs, **kwargs):
        raise OSError("stopped before the first frame")

    monkeypatch.setattr(live, "run_live", failing_run_live)
    assert main(["live", "0", "--model", str(model_path), "--trust-model", "--every-frame",
                 "--no-display"]) == 2
    assert capture.calls == ["release"]


def test_the_live_page_is_served_before_the_capture_starts(model_path, monkeypatch):
    capture = FakeCapture()
    started = []
    monkeypatch.setattr(live, "open_capture", lambda source: capture)

    class RecordingFrames(LatestFrames):
        def __init__(self, *args, **kwargs):
            started.append("capture")
            super().__init__(*args, **kwargs)

    def recording_serve(app, host, port):
        started.append("server")
        return lambda: None

    monkeypatch.setattr(live, "LatestFrames", RecordingFrames)
    monkeypatch.setattr(commands, "serve_in_thread", recording_serve)
    assert main(["live", "0", "--model", str(model_path), "--trust-model", "--serve"]) == 0
    assert started == ["server", "capture"]
    assert capture.calls[-1] == "release"


def test_bench_live_fails_when_live_fails(tmp_path, load_script):
    missing = tmp_path / "missing.fer.zip"
    bench = load_script("bench_live")
    assert bench.main(["--model", str(missing), "--frames", "2"]) == 2


def test_run_live_annotates_every_frame(dummy, video):
    hub = FrameHub()
    capture = open_capture(str(video))
    try:
        stats = run_live(FacePipeline(dummy), every_frame(capture), [hub],
                         smoother=LabelSmoother(3), report_every=0)
    finally:
        capture.release()
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
        assert stats and stats["frames"] > 0 and (stats["fps"] is None or stats["fps"] > 0)
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
