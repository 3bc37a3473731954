"""Benchmark ``fer-estimator serve``: a bounded concurrent load on 127.0.0.1.

Starts ``fer-estimator serve`` on a free port of 127.0.0.1 (in a child process, told to stop
by itself after the last request), waits until it listens, sends a few warm-up requests, then
``--clients`` threads each POST the photo ``--requests`` times to ``/predict`` (raw JPEG
bytes), one request at a time per client. Prints requests per second, the latency
percentiles and the errors (any answer but 200 with the expected number of faces).

The photo is the shared group photo (2048x1536, 6 faces) when present, else scikit-image's
astronaut (512x512, one face).

Usage::

    python scripts/bench_serve.py [--clients 4] [--requests 50] [--workers 2]
        [--model PATH] [--detector NAME] [--yunet-model PATH] [--photo PATH]
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _shared import PROJECT_ROOT, SHARED_GROUP_PHOTO

from fer_estimator.faces.detectors import DEFAULT_DETECTOR, DETECTORS
from fer_estimator.serve.commands import free_port

WARM_UP = 3


def start_server(port, serve_args):
    """``fer-estimator serve`` from this checkout, in a child process on 127.0.0.1."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                      env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return subprocess.Popen([sys.executable, "-m", "fer_estimator.cli", "serve",
                             "--host", "127.0.0.1", "--port", str(port), *serve_args], env=env)


def wait_until_listening(port, process, timeout=300):
    """Wait for the port to accept connections (a bare connection is not a request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the server did not listen on port {port} within {timeout} s")


def post(url, body, timeout=120):
    """POST ``body`` as image/jpeg; ``(status, seconds, faces)``.

    ``faces`` is None when the answer is not ``/predict``'s JSON (an error status, or a 200
    from something else); ``status`` is None when no answer came.
    """
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "image/jpeg"})
    start = time.perf_counter()
    status = faces = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            faces = len(json.load(response)["images"][0]["faces"])
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, TypeError):
        pass  # no answer (status None), or not the JSON of /predict (faces None)
    return status, time.perf_counter() - start, faces


def run_load(url, body, clients, requests):
    """``clients`` threads sending ``requests`` each; ``(results, wall seconds)``."""
    def client(_):
        return [post(url, body) for _ in range(requests)]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [result for batch in pool.map(client, range(clients)) for result in batch]
    return results, time.perf_counter() - start


def summarise(results, seconds, expected_faces):
    latencies = np.array([latency for _, latency, _ in results]) * 1000
    errors = sum(status != 200 or faces != expected_faces for status, _, faces in results)
    return {"requests": len(results), "seconds": seconds,
            "requests_per_s": len(results) / seconds,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)),
            "max_ms": float(latencies.max()), "errors": int(errors)}


def bench(photo, clients, requests, serve_args):
    """Start a server, load it, and return the summary (the server stops by itself)."""
    body = Path(photo).read_bytes()
    port = free_port()
    total = WARM_UP + clients * requests
    process = start_server(port, [*serve_args, "--max-requests", str(total)])
    try:
        wait_until_listening(port, process)
        url = f"http://127.0.0.1:{port}/predict"
        warm = [post(url, body) for _ in range(WARM_UP)]
        status, _, faces = warm[0]
        if status != 200:
            raise RuntimeError(f"the warm-up request got status {status}")
        if faces is None:  # else every answer without faces would count as expected
            raise RuntimeError("the warm-up request got 200, but not the JSON of /predict")
        results, seconds = run_load(url, body, clients, requests)
        summary = summarise(results, seconds, expected_faces=warm[0][2])
        summary["faces_per_request"] = warm[0][2]
        summary["exit_status"] = process.wait(timeout=60)
        return summary
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers")
    parser.add_argument("--model", type=Path, help="default: the shipped model")
    parser.add_argument("--trust-model", action="store_true",
                        help="passed to serve: allow a joblib (pickle) --model")
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    parser.add_argument("--yunet-model", type=Path, help="default: the shipped YuNet")
    parser.add_argument("--photo", type=Path)
    args = parser.parse_args(argv)
    photo = args.photo
    if photo is None:
        photo = SHARED_GROUP_PHOTO if SHARED_GROUP_PHOTO.is_file() else _astronaut_jpeg()
    serve_args = ["--workers", str(args.workers), "--detector", args.detector]
    if args.model is not None:
        serve_args += ["--model", str(args.model)] + ["--trust-model"] * args.trust_model
    if args.yunet_model is not None:
        serve_args += ["--yunet-model", str(args.yunet_model)]
    summary = bench(photo, args.clients, args.requests, serve_args)
    print(f"{args.clients} clients x {args.requests} requests of {Path(photo).name} "
          f"({summary['faces_per_request']} faces), {args.detector}, {args.workers} workers: "
          f"{summary['requests_per_s']:.1f} requests/s, p50 {summary['p50_ms']:.0f} ms, "
          f"p99 {summary['p99_ms']:.0f} ms (p99/p50 {summary['p99_ms'] / summary['p50_ms']:.1f}), "
          f"max {summary['max_ms']:.0f} ms, {summary['errors']} errors")
    return 1 if summary["errors"] else 0


def _astronaut_jpeg():
    import tempfile

    import cv2
    from skimage import data

    path = Path(tempfile.mkdtemp()) / "astronaut.jpg"
    cv2.imwrite(str(path), data.astronaut()[:, :, ::-1])
    return path


if __name__ == "__main__":
    sys.exit(main())
