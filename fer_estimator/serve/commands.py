"""The ``serve`` and ``live`` subcommands of ``fer-estimator``: :data:`SERVE` and :data:`LIVE`,
registered in :data:`fer_estimator.cli.COMMANDS`.

What they run (the model, OpenCV, FastAPI, uvicorn) is imported only when they run, so that
building the parser stays light.
"""

import argparse
import ipaddress
import os
import socket
import sys
import threading
import time

from ..cli_options import (
    Command,
    CommandError,
    add_model_arguments,
    face_pipeline_params,
    positive_int,
)
from . import MAX_BYTES, MAX_PIXELS

DEFAULT_HOST = "127.0.0.1"
SERVE_EXTRA = "pip install 'fer-estimator[serve]' (FastAPI, uvicorn, python-multipart)"


def _add_address_arguments(parser, port):
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine "
                             "only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=_port, default=port, help=f"(default: {port})")


def _port(text):
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be in 1-65535, got {value}")
    return value


def _web_modules():
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn
    except ImportError as error:
        raise CommandError(f"{error.name} is missing: {SERVE_EXTRA}") from None
    return uvicorn


def check_port_free(host, port):
    """Raise a :class:`~fer_estimator.cli_options.CommandError` (exit status 2) when ``port``
    of ``host`` cannot be listened on, before the model loads; uvicorn would only log it and
    exit with its own status 3. (Another process may still take the port in between.)"""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind((host, port))
    except OSError as error:
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror or error} (is "
                           f"another server using the port? choose another --port)") from None


def _warn_if_public(host):
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        print(f"fer-estimator: listening on {host}: anyone who can reach this machine can use "
              "it (there is no authentication)", file=sys.stderr)


def add_serve_arguments(parser):
    """``serve``: an HTTP inference service for a saved pipeline."""
    add_model_arguments(parser)
    _add_address_arguments(parser, 8000)
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="threads serving requests (default: 2, one per core of a small "
                             "machine)")
    parser.add_argument("--max-bytes", type=positive_int, default=MAX_BYTES,
                        help=f"largest request body, in bytes (default: {MAX_BYTES:,})")
    parser.add_argument("--max-pixels", type=positive_int, default=MAX_PIXELS,
                        help=f"largest image, in pixels (default: {MAX_PIXELS:,})")
    parser.add_argument("--max-requests", type=positive_int,
                        help="stop after this many requests (tests and benchmarks)")


def run_serve(args):
    """Run ``serve``; see :func:`add_serve_arguments`."""
    uvicorn = _web_modules()
    from .app import create_app
    from .model import load_estimator

    check_port_free(args.host, args.port)

    app = create_app(load_estimator(args.model, args.trust_model, args.runtime),
                     workers=args.workers, max_bytes=args.max_bytes, max_pixels=args.max_pixels,
                     **face_pipeline_params(args))
    _warn_if_public(args.host)
    print(f"fer-estimator serve: http://{args.host}:{args.port}/ (API: /docs); Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                    limit_max_requests=args.max_requests, timeout_graceful_shutdown=2)
    except SystemExit as stop:  # uvicorn's start-up failure (the port taken meanwhile)
        raise CommandError(f"could not serve on {args.host}:{args.port} (uvicorn exited with "
                           f"{stop.code}; is the port in use?)") from None
    return 0


def add_live_arguments(parser):
    """``live``: the faces of a camera, video file or stream, annotated as they come."""
    parser.add_argument("source", nargs="?",
                        help="a video file or stream URL (default: the camera of --camera)")
    parser.add_argument("--camera", type=int, default=0, help="camera index (default: 0)")
    add_model_arguments(parser)
    parser.add_argument("--smooth", type=positive_int, default=5, metavar="N",
                        help="average each face's probabilities over its last N frames "
                             "(default: 5; 1 turns it off)")
    parser.add_argument("--serve", action="store_true",
                        help="stream to a web page even when an OpenCV window could open")
    _add_address_arguments(parser, 8001)
    parser.add_argument("--no-display", action="store_true",
                        help="neither window nor page: only measure frames/s")
    parser.add_argument("--every-frame", action="store_true",
                        help="take every frame of a video file, as fast as the model goes (no "
                             "dropping): measures the model's frame rate")
    parser.add_argument("--max-frames", type=positive_int, help="stop after this many frames")


def run_live_command(args):
    """Run ``live``; see :func:`add_live_arguments`."""
    import cv2

    from .live import (
        VIDEO_FPS_FALLBACK,
        FrameHub,
        LabelSmoother,
        LatestFrames,
        create_live_app,
        every_frame,
        gui_available,
        open_capture,
        run_live,
        show_in_window,
    )
    from .model import load_estimator, make_face_pipeline

    source = args.source if args.source is not None else str(args.camera)
    is_file = os.path.isfile(source)
    web = not args.no_display and (args.serve or not gui_available())
    if web:
        _web_modules()
        check_port_free(args.host, args.port)
    capture = open_capture(source)  # first: a wrong source fails before the model loads
    frames = hub = stop_web = stats = None
    try:
        pipeline = make_face_pipeline(load_estimator(args.model, args.trust_model, args.runtime),
                                      **face_pipeline_params(args))
        outputs = []
        try:
            if web:
                # The page before the frames: a video read at its own pace must not run out
                # before the page can show it.
                hub = FrameHub()
                stop_web = serve_in_thread(create_live_app(hub), args.host, args.port)
                outputs.append(hub)
                print(f"fer-estimator live: http://{args.host}:{args.port}/ ; Ctrl-C stops",
                      file=sys.stderr, flush=True)
            elif not args.no_display:
                outputs.append(show_in_window)
            if args.every_frame:
                frames = every_frame(capture)
            else:
                pace = (capture.get(cv2.CAP_PROP_FPS) or VIDEO_FPS_FALLBACK) if is_file else None
                frames = LatestFrames(capture, pace)
            smoother = LabelSmoother(args.smooth) if args.smooth > 1 else None
            stats = run_live(pipeline, frames, outputs, smoother=smoother,
                             max_frames=args.max_frames)
        except KeyboardInterrupt:
            pass
    finally:
        if isinstance(frames, LatestFrames):
            frames.close()  # its reader releases the capture, once out of read()
        else:
            capture.release()
        if stop_web is not None:
            hub.close()  # ends the MJPEG streams, so that the server can stop
            stop_web()
        if not web and not args.no_display:
            cv2.destroyAllWindows()
    if stats is not None:
        dropped = f", {frames.dropped} dropped" if isinstance(frames, LatestFrames) else ""
        print(f"live: {stats['frames']} frames in {stats['seconds']:.1f} s: "
              f"{stats['fps']:.1f} frames/s ({args.detector}, {stats['faces']} faces{dropped})")
    return 0


SERVE = Command(
    "serve", help="serve a model over HTTP: POST an image, get its faces as JSON",
    description="An HTTP service for a saved model: POST /predict (an image, multipart or raw "
                "bytes) returns the faces as `predict --json` does; POST /predict/crops takes "
                "48x48 faces; GET /health; GET / is a page to upload a photo or use the camera; "
                "/docs is the OpenAPI documentation. The model is loaded once; requests run in "
                "a pool of --workers threads.",
    add_arguments=add_serve_arguments, run=run_serve)
LIVE = Command(
    "live", help="annotate the faces of a camera, video or stream live",
    description="Read a camera, a video file or a stream URL, find and classify the faces of "
                "each frame, and show the frames with boxes, labels and probability bars: in an "
                "OpenCV window when OpenCV has a GUI and there is a display, otherwise (or with "
                "--serve) as a live web page. Frames are dropped, not queued, when the model is "
                "slower than the source. Prints frames/s.",
    add_arguments=add_live_arguments, run=run_live_command)


def free_port(host=DEFAULT_HOST):
    """A TCP port of ``host`` that is free now, for a server about to start on it.

    For tests and benchmarks (``scripts/bench_serve.py``) that start ``serve`` or ``live`` on a
    port of their own. Another process could take the port in between: good enough there.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve_in_thread(app, host=DEFAULT_HOST, port=8000):
    """Serve an ASGI app with uvicorn in a daemon thread; return the function that stops it.

    For ``live``'s page, and for tests that need a real server in the same process.
    """
    import uvicorn

    _warn_if_public(host)
    # log_config=None: leave the logging set-up of the process alone.
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="fer-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise OSError(f"could not serve on {host}:{port} (port in use?)")

    def stop():
        server.should_exit = True
        thread.join(timeout=5)

    return stop
