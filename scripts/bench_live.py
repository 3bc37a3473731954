"""Benchmark ``fer-estimator live``: frames per second on a 640x480 video, per detector.

Makes a 640x480 MJPEG video of scikit-image's astronaut (one face, moving a few pixels per
frame), then runs ``fer-estimator live VIDEO --every-frame --no-display`` on it with each
registered detector: every frame is read, detected, classified, smoothed and drawn, none
dropped, so the printed rate is what the model sustains.

Usage::

    python scripts/bench_live.py [--model PATH [--trust-model]] [--frames 300]

Exits with ``fer-estimator live``'s status when a run fails.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from fer_estimator import cli
from fer_estimator.faces.detectors import DETECTORS


def write_face_video(path, n_frames, size=(640, 480), fps=30):
    """A video of the astronaut's face drifting left and right on a gray background."""
    width, height = size
    face = cv2.resize(data.astronaut()[:, :, ::-1], (height, height))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for index in range(n_frames):
        frame = np.full((height, width, 3), 128, np.uint8)
        left = int((width - height) / 2 * (1 + np.sin(index / 15)))
        frame[:, left:left + height] = face
        writer.write(frame)
    writer.release()
    return path


def main(argv=None):
    """Run the benchmark; returns the exit status (the first failing run's, else 0)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="default: the shipped model")
    parser.add_argument("--trust-model", action="store_true",
                        help="passed to live: allow a joblib (pickle) --model")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        video = write_face_video(Path(folder) / "face-640x480.avi", args.frames)
        common = [str(video), "--every-frame", "--no-display"]
        if args.model is not None:
            common += ["--model", str(args.model)] + ["--trust-model"] * args.trust_model
        for detector in DETECTORS:
            status = cli.main(["live", *common, "--detector", detector])
            if status:
                return status
        return 0


if __name__ == "__main__":
    sys.exit(main())
