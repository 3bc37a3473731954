"""Derive the safe ``.fer.zip`` models from the shipped joblib pipelines, and the manifest.

    python scripts/make_safe_models.py                  # fer2013-{7,6}class.fer.zip + manifest
    python scripts/make_safe_models.py --manifest-only  # only re-record the SHA-256 of models/*

Run it after (re)training the shipped joblib models: each ``models/<name>.joblib`` listed in
SHIPPED becomes ``models/<name>.fer.zip`` (through :func:`fer_estimator.save`), then
``models/manifest.json`` records the SHA-256 of every ``*.joblib`` and ``*.fer.zip`` file there.
The joblib files are loaded as trusted: they are this project's own training output.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from fer_estimator._paths import MODELS_DIR
from fer_estimator.manifest import write_manifest
from fer_estimator.persistence import load_joblib
from fer_estimator.safe_format import SUFFIX, load, save

SHIPPED = ("fer2013-7class", "fer2013-6class")


def convert(models_dir=MODELS_DIR, names=SHIPPED, log=print):
    """Write ``<name>.fer.zip`` from ``<name>.joblib`` for each name; check they predict alike."""
    probe = np.random.default_rng(0).integers(0, 256, size=(64, 48, 48), dtype=np.uint8)
    for name in names:
        source, target = models_dir / f"{name}.joblib", models_dir / f"{name}{SUFFIX}"
        model = load_joblib(source)
        save(model, target)
        # The float32 copy of a mixed-precision network may differ by rounding only.
        np.testing.assert_allclose(load(target).predict_proba(probe), model.predict_proba(probe),
                                   atol=1e-2)
        log(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) from {source.name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest-only", action="store_true",
                        help="do not convert; only rewrite models/manifest.json")
    parser.add_argument("--models-dir", type=Path,
                        default=MODELS_DIR)
    args = parser.parse_args(argv)
    if not args.manifest_only:
        convert(args.models_dir)
    files = write_manifest(args.models_dir)
    print(f"wrote {args.models_dir / 'manifest.json'}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
