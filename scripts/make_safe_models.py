"""Derive the safe ``.fer.zip`` models from the shipped joblib pipelines, and the manifest.

    python scripts/make_safe_models.py                  # fer2013-{7,6}class.fer.zip + manifest
    python scripts/make_safe_models.py --manifest-only  # only re-record the SHA-256 of models/*
    python scripts/make_safe_models.py --no-int8        # without the int8 networks (no data)

Run it after (re)training the shipped joblib models: each ``models/<name>.joblib`` listed in
SHIPPED becomes ``models/<name>.fer.zip`` (through :func:`fer_estimator.save`, with its ONNX
network and its int8 copy, calibrated on 1,000 FER2013 Training faces the network held out of
none of its validation: format version 3), then
``models/manifest.json`` records the SHA-256 of every ``*.joblib`` and ``*.fer.zip`` file there.
The joblib files are loaded as trusted: they are this project's own training output.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from _shared import SHARED_FER2013_CSV

from fer_estimator._paths import MODELS_DIR
from fer_estimator.ensemble import shared_validation_rows
from fer_estimator.manifest import write_manifest
from fer_estimator.persistence import load_joblib
from fer_estimator.runtime import load_onnx
from fer_estimator.safe_format import SUFFIX, load, save
from fer_estimator.training import load_labelled

SHIPPED = ("fer2013-7class", "fer2013-6class")
# Enough for the int8 ranges: 3,000 faces calibrated no better than 1,000 (issue #19's study).
INT8_CALIBRATION_ROWS = 1000


def calibration_faces(model, data, rows=INT8_CALIBRATION_ROWS, seed=0):
    """``rows`` FER2013 Training faces of ``data`` outside the validation split of ``model``'s
    network (the images its members were chosen on), drawn at random with ``seed``."""
    X, y, _ = load_labelled(data, usage="Training", classes=model.classes_)
    training = np.setdiff1d(np.arange(len(y)), shared_validation_rows([model], y))
    return X[np.sort(np.random.default_rng(seed).permutation(training)[:rows])]


def convert(models_dir=MODELS_DIR, names=SHIPPED, log=print, data=SHARED_FER2013_CSV):
    """Write ``<name>.fer.zip`` from ``<name>.joblib`` for each name, with int8 networks
    calibrated on ``data`` (None: without); check they predict alike."""
    probe = np.random.default_rng(0).integers(0, 256, size=(64, 48, 48), dtype=np.uint8)
    for name in names:
        source, target = models_dir / f"{name}.joblib", models_dir / f"{name}{SUFFIX}"
        model = load_joblib(source)
        save(model, target,
             int8_calibration=None if data is None else calibration_faces(model, data))
        # The float32 copy of a mixed-precision network may differ by rounding only; its ONNX
        # graph computes the float32 copy.
        saved = load(target).predict_proba(probe)
        np.testing.assert_allclose(saved, model.predict_proba(probe), atol=1e-2)
        np.testing.assert_allclose(load_onnx(target).predict_proba(probe), saved, atol=1e-4)
        log(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) from {source.name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest-only", action="store_true",
                        help="do not convert; only rewrite models/manifest.json")
    parser.add_argument("--models-dir", type=Path,
                        default=MODELS_DIR)
    parser.add_argument("--data", type=Path, default=SHARED_FER2013_CSV,
                        help="FER2013 CSV whose Training faces calibrate the int8 networks "
                             "(default: %(default)s)")
    parser.add_argument("--no-int8", action="store_true",
                        help="write the float32 ONNX networks only")
    args = parser.parse_args(argv)
    if not args.manifest_only:
        convert(args.models_dir, data=None if args.no_int8 else args.data)
    files = write_manifest(args.models_dir)
    print(f"wrote {args.models_dir / 'manifest.json'}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
