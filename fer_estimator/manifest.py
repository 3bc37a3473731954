"""Which model files the package ships, recorded by SHA-256 in ``models/manifest.json``.

Loading a pickle (joblib) file runs whatever code the file asks for, so fer-estimator loads one
only when the caller trusts it explicitly, or when it is byte for byte a file the package ships:
its SHA-256 is listed in the manifest. :func:`write_manifest` regenerates the manifest from the
files in ``models/`` (``python scripts/make_safe_models.py`` does it after converting them).
"""

import hashlib
import json
from pathlib import Path

from ._paths import MODELS_DIR
from .persistence import dump_json

MANIFEST_NAME = "manifest.json"
# The model files the manifest lists: pickled pipelines and the safe format.
SHIPPED_PATTERNS = ("*.joblib", "*.fer.zip")


class UntrustedModelError(ValueError):
    """A pickle (joblib) model file was to be loaded without ``trust=True``."""


def file_sha256(path):
    """The SHA-256 hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(models_dir=MODELS_DIR):
    """File name -> SHA-256 of the shipped model files; empty when there is no manifest."""
    try:
        manifest = json.loads((Path(models_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = manifest.get("sha256", {}) if isinstance(manifest, dict) else {}
    return {str(name): str(digest) for name, digest in files.items()}


def write_manifest(models_dir=MODELS_DIR):
    """Record the SHA-256 of every ``*.joblib`` and ``*.fer.zip`` file of ``models_dir``.

    Returns
    -------
    dict of str to str
        File name -> SHA-256, as written to ``models_dir/manifest.json``.
    """
    models_dir = Path(models_dir)
    names = sorted({path.name for pattern in SHIPPED_PATTERNS
                    for path in models_dir.glob(pattern) if path.is_file()})
    files = {name: file_sha256(models_dir / name) for name in names}
    dump_json({"about": "SHA-256 of the model files fer-estimator ships: a pickle (joblib) file "
                        "with one of these digests loads without trust=True. Regenerate with "
                        "python scripts/make_safe_models.py --manifest-only.",
               "sha256": files}, models_dir / MANIFEST_NAME)
    return files


def is_shipped(path, models_dir=MODELS_DIR):
    """Whether the file at ``path`` has the SHA-256 of a shipped model file (wherever it is)."""
    digests = set(read_manifest(models_dir).values())
    return bool(digests) and file_sha256(path) in digests


def check_trusted(path, trust):
    """Raise :class:`UntrustedModelError` unless ``trust`` or ``path`` is a shipped file."""
    if trust or is_shipped(path):
        return
    raise UntrustedModelError(
        f"{path} is a pickle (joblib) file: loading it runs any code the file holds, so it is "
        f"only loaded when you trust its origin. Pass trust=True (--trust-model on the command "
        f"line) if you made it or got it from someone you trust, or convert it once, where it "
        f"is trusted, to the safe format that never runs code: "
        f"fer_estimator.save(fer_estimator.load(path, trust=True), 'model.fer.zip')")
