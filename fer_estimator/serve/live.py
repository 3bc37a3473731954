"""``fer-estimator live``: the faces of a camera, video file or stream, annotated frame by frame.

A capture thread reads the source and keeps only its newest frame (:class:`LatestFrames`), so
frames are dropped, not queued, when the model is slower than the camera. Every frame taken is
detected and classified in one model call (:class:`~fer_estimator.faces.FacePipeline`), its
labels optionally averaged over the last frames of each face (:class:`LabelSmoother`), drawn
with a probability bar per face and the frame rate, then shown in an OpenCV window or streamed
as MJPEG to a local web page (:func:`create_live_app`).
"""

import math
import os
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from importlib.resources import files

import cv2
import numpy as np

from ..faces.annotate import FONT, draw_probability_bars

WINDOW = "fer-estimator live"
VIDEO_FPS_FALLBACK = 25.0  # when a video file does not say its frame rate


def open_capture(source):
    """Open a camera (an int, or a string of digits), a video file or a stream URL."""
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {source}" if isinstance(source, int) else str(source)
        raise ValueError(f"{what}: cannot be opened (no such camera, file or stream, or a "
                         "format OpenCV cannot read)")
    return capture


class LatestFrames:
    """Read a capture in a thread and hand out only its newest frame.

    The reading thread owns the capture: it releases it when it stops (the source ended, or
    :meth:`close`), never while another thread could be inside ``read()``.

    Parameters
    ----------
    capture : cv2.VideoCapture
    pace : float or None
        For video files: read at most this many frames per second, as a camera would deliver
        them (a file is read as fast as it decodes otherwise). None for cameras and streams,
        which deliver at their own rate.

    Attributes
    ----------
    read, dropped : int
        Frames read from the source, and those replaced by a newer one before being taken.
    """

    def __init__(self, capture, pace=None):
        self.capture = capture
        self.pace = pace
        self.read = 0
        self.dropped = 0
        self._frame = None
        self._ended = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="fer-live-capture", daemon=True)
        self._thread.start()

    def _run(self):
        start = time.perf_counter()
        try:
            while not self._stop.is_set():
                ok, frame = self.capture.read()
                if not ok:
                    break
                with self._ready:
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame = (self.read, frame)
                    self.read += 1
                    self._ready.notify()
                if self.pace:  # a stop ends the wait at once
                    self._stop.wait(max(0.0, start + self.read / self.pace
                                        - time.perf_counter()))
        finally:
            self.capture.release()
            with self._ready:
                self._ended = True
                self._ready.notify_all()

    def __iter__(self):
        """Yield ``(index, bgr)``: the newest frame each time, until the source ends."""
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._frame is not None or self._ended)
                if self._frame is None:
                    return
                frame, self._frame = self._frame, None
            yield frame

    def close(self, timeout=5.0):
        """Stop reading and wait up to ``timeout`` seconds for the reader to end.

        A reader blocked in ``read()`` (a stalled stream) stops, and releases the capture,
        when that call returns.
        """
        self._stop.set()
        self._thread.join(timeout)


def every_frame(capture):
    """Yield ``(index, bgr)`` for every frame of a capture, none dropped (for measuring).

    The capture stays open: its caller releases it.
    """
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield index, frame
        index += 1


class LabelSmoother:
    """Average each face's probabilities over its last ``window`` frames.

    A face continues the track of the previous frame's face it overlaps most (intersection over
    union at least ``min_iou``); faces without one start a track.
    """

    def __init__(self, window=5, min_iou=0.3):
        self.window = window
        self.min_iou = min_iou
        self._tracks = []  # (box, deque of probability vectors) of the previous frame

    def __call__(self, faces, classes):
        """The faces of the next frame, with smoothed probabilities and labels."""
        tracks, smoothed, free = [], [], list(self._tracks)
        for face in faces:
            best = max(free, key=lambda track: _iou(track[0], face.box), default=None)
            if best is not None and _iou(best[0], face.box) >= self.min_iou:
                free.remove(best)
                history = best[1]
            else:
                history = deque(maxlen=self.window)
            history.append([face.probabilities[name] for name in classes])
            tracks.append((face.box, history))
            mean = np.mean(history, axis=0)
            smoothed.append(replace(face, label=classes[int(mean.argmax())],
                                    probabilities=dict(zip(classes, mean.tolist(), strict=True))))
        self._tracks = tracks
        return smoothed


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union else 0.0


class FrameRate:
    """Frames per second over the last ``window`` frames."""

    def __init__(self, window=30):
        self._times = deque(maxlen=window)

    def tick(self):
        self._times.append(time.perf_counter())

    @property
    def value(self):
        if len(self._times) < 2:
            return math.nan
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])


def run_live(pipeline, frames, outputs, *, smoother=None, max_frames=None, report_every=5.0):
    """Detect, classify and draw the faces of each frame, and hand the drawing to ``outputs``.

    Parameters
    ----------
    pipeline : FacePipeline
    frames : iterable of (int, ndarray)
        ``(index, bgr)`` pairs, e.g. a :class:`LatestFrames`.
    outputs : list of callable
        Each gets ``(annotated_bgr, faces, stats)`` per frame; one returning False stops.
    smoother : LabelSmoother, optional
    max_frames : int, optional
        Stop after this many frames.
    report_every : float
        Print the frame rate every this many seconds (0: only at the end).

    Returns
    -------
    dict
        ``frames`` processed, ``seconds``, ``fps`` (frames / seconds) and ``faces`` found.
    """
    classes = list(pipeline.class_names())
    rate = FrameRate()
    processed = faces_found = 0
    start = last_report = time.perf_counter()
    for _, bgr in frames:
        [faces] = pipeline.predict(bgr)
        faces = list(faces) if smoother is None else smoother(faces, classes)
        rate.tick()
        processed += 1
        faces_found += len(faces)
        drawing = draw_probability_bars(pipeline.annotate(bgr, faces), faces, classes)
        _draw_rate(drawing, rate.value)
        stats = {"frames": processed, "fps": rate.value, "faces": len(faces)}
        if not all([output(drawing, faces, stats) is not False for output in outputs]):
            break
        now = time.perf_counter()
        if report_every and now - last_report >= report_every:
            print(f"live: {rate.value:.1f} frames/s, {len(faces)} faces", file=sys.stderr)
            last_report = now
        if max_frames is not None and processed >= max_frames:
            break
    seconds = time.perf_counter() - start
    return {"frames": processed, "seconds": seconds,
            "fps": processed / seconds if seconds else math.nan, "faces": faces_found}


def _draw_rate(image, fps):
    if not math.isnan(fps):
        cv2.putText(image, f"{fps:.1f} fps", (8, 22), FONT, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, f"{fps:.1f} fps", (8, 22), FONT, 0.6, (255, 255, 255), 1, cv2.LINE_AA)


def gui_available():
    """Whether OpenCV can open a window here: a GUI build (not the headless wheel) and, on
    Linux, a display to open it on."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:  # the headless wheel: "The function is not implemented"
        return False
    return True


def show_in_window(drawing, faces, stats):
    """Output for :func:`run_live`: an OpenCV window; q or Esc stops."""
    cv2.imshow(WINDOW, drawing)
    return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)


class FrameHub:
    """The newest annotated frame as JPEG, for any number of MJPEG viewers.

    Use the instance as an output of :func:`run_live`; :meth:`frames` waits for each new one.
    """

    def __init__(self, quality=80):
        self.quality = quality
        self.jpeg = None
        self.stats = {"frames": 0, "fps": None, "faces": 0}
        self.closed = False
        self._new = threading.Condition()

    def __call__(self, drawing, faces, stats):
        _ok, jpeg = cv2.imencode(".jpg", drawing, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        with self._new:
            self.jpeg = jpeg.tobytes()
            self.stats = {**stats, "fps": None if math.isnan(stats["fps"]) else stats["fps"]}
            self._new.notify_all()

    def close(self):
        with self._new:
            self.closed = True
            self._new.notify_all()

    def frames(self, timeout=10.0):
        """Yield each new JPEG as it comes (a slow viewer skips frames); end when closed."""
        seen = None
        while True:
            with self._new:
                # seen is bound as a default: the predicate checks this round's frame.
                self._new.wait_for(lambda seen=seen: self.closed or (
                    self.jpeg is not None and self.jpeg is not seen), timeout)
                if self.closed or self.jpeg is seen:
                    return
                seen = self.jpeg
            yield seen


def create_live_app(hub):
    """The web page of ``live``: ``/`` shows ``/stream.mjpg`` and the frame rate (``/stats``)."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, StreamingResponse

    app = FastAPI(title="fer-estimator live")
    boundary = "frame"

    def multipart():
        for jpeg in hub.frames():
            yield (f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                   f"Content-Length: {len(jpeg)}\r\n\r\n").encode() + jpeg + b"\r\n"

    page = (files(__package__) / "live.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return page

    @app.get("/stream.mjpg")
    def stream():
        """The annotated frames as MJPEG (multipart/x-mixed-replace)."""
        return StreamingResponse(multipart(),
                                 media_type=f"multipart/x-mixed-replace; boundary={boundary}")

    @app.get("/stats")
    def stats() -> dict:
        """Frames processed, frames per second and faces in the newest frame."""
        return hub.stats

    return app
