"""Benchmark FacePipeline: images/s and ms per face, batched vs one model call per face.

Runs the Haar and YuNet detectors on the shared group photo (2048x1536, six faces) and on a
640x480 frame made from scikit-image's astronaut (one face), with the reference CNN:
the shipped model when present, else ``make_fer_pipeline()`` fitted for one epoch on synthetic
faces (untrained, but the same network and the same cost). Every setting runs three ways: faces
classified in one ``predict_proba`` call per image (FacePipeline), one ``predict_proba`` call
per face, and the seed notebooks' way, one Keras ``Model.predict`` call per face. Images are in
memory (a camera frame arrives that way), so file decoding is not timed.

Usage::

    python scripts/bench_faces.py [--model PATH] [--repeats 10]
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from _shared import SHARED_GROUP_PHOTO

from fer_estimator import load
from fer_estimator._paths import DEFAULT_MODEL_PATH
from fer_estimator.faces import DETECTORS, FacePipeline
from fer_estimator.faces.media import read_image, to_bgr


class TimedClassifier:
    """Delegates ``predict_proba`` to a fitted model, timing the calls.

    ``mode``: ``"batched"``, one call per image (FacePipeline's way); ``"per-face"``, one
    ``predict_proba`` call per face; ``"seed"``, what the seed notebooks did: one Keras
    ``Model.predict`` call per face on the preprocessed crop.
    """

    def __init__(self, model, mode):
        self.model = model
        self.mode = mode
        self.classes_ = model.classes_
        self.seconds = 0.0
        self.calls = 0

    def predict_proba(self, X):
        start = time.perf_counter()
        if self.mode == "batched":
            proba = self.model.predict_proba(X)
            self.calls += 1
        elif self.mode == "per-face":
            proba = np.concatenate([self.model.predict_proba(X[i:i + 1]) for i in range(len(X))])
            self.calls += len(X)
        else:
            network = self.model.steps[-1][1].model_
            crops = self.model[:-1].transform(X)
            proba = np.concatenate([network.predict(crops[i:i + 1], verbose=0)
                                    for i in range(len(X))])
            self.calls += len(X)
        self.seconds += time.perf_counter() - start
        return proba


def reference_model(path):
    """The shipped (or given) model, else the reference CNN fitted 1 epoch on synthetic faces."""
    if path is not None and Path(path).is_file():
        print(f"model: {path}")
        return load(path)  # .fer.zip, or a shipped joblib file
    from fer_estimator.pipeline import make_fer_pipeline
    from fer_estimator.synthetic import make_synthetic_faces

    print("model: make_fer_pipeline() fitted for 1 epoch on 280 synthetic faces (timing only)")
    X, y = make_synthetic_faces(n_samples=280, random_state=0)
    return make_fer_pipeline(epochs=1, random_state=0).fit(X, y)


def bench(model, detector, image, repeats, mode):
    classifier = TimedClassifier(model, mode)
    pipeline = FacePipeline(classifier, detector)
    [faces] = pipeline.predict(image)  # warm-up: loads the detector, traces the model
    times, classify_times = [], []
    for _ in range(repeats):
        classifier.seconds, classifier.calls = 0.0, 0
        start = time.perf_counter()
        pipeline.predict(image)
        times.append(time.perf_counter() - start)
        classify_times.append(classifier.seconds)
    return len(faces), float(np.median(times)), float(np.median(classify_times)), \
        classifier.calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    model = reference_model(args.model)

    from skimage.data import astronaut

    frame = cv2.resize(to_bgr(astronaut(), rgb=True), (640, 480), interpolation=cv2.INTER_AREA)
    images = {"frame 640x480": frame}
    if SHARED_GROUP_PHOTO.is_file():
        images["group 2048x1536"] = read_image(SHARED_GROUP_PHOTO)
    print(f"cv2 threads: {cv2.getNumThreads()}, repeats: {args.repeats} (medians)")
    header = (f"{'image':16} {'detector':8} {'mode':9} {'faces':>5} {'calls':>5} "
              f"{'ms/image':>9} {'images/s':>8} {'ms/face':>8} {'classify ms':>11}")
    print(header)
    for name, image in images.items():
        for detector in DETECTORS:
            rows = {}
            for mode in ("batched", "per-face", "seed"):
                faces, seconds, classify, calls = bench(model, detector, image, args.repeats,
                                                        mode)
                rows[mode] = (seconds, classify)
                per_face_ms = 1000 * seconds / faces if faces else float("nan")
                print(f"{name:16} {detector:8} {mode:9} {faces:5d} {calls:5d} "
                      f"{1000 * seconds:9.1f} {1 / seconds:8.1f} {per_face_ms:8.1f} "
                      f"{1000 * classify:11.1f}")
            batched, batched_cls = rows["batched"]
            for baseline in ("per-face", "seed"):
                single, single_cls = rows[baseline]
                print(f"{'':16} {detector:8} batched vs {baseline}: {single / batched:.1f}x end "
                      f"to end, {single_cls / batched_cls:.1f}x classification")


if __name__ == "__main__":
    main()
