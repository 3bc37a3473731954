"""Which model files the package ships, recorded by SHA-256 in ``models/manifest.json``.

Loading a pickle (joblib) file runs whatever code the file asks for, so fer-estimator loads one
only when the caller trusts it explicitly, or when it is byte for byte a file the package ships:
its SHA-256 is listed in the manifest. :func:`load_trusted_joblib` checks and unpickles the same
bytes, read once, so the file cannot be swapped in between. :func:`write_manifest` regenerates
the manifest from the files in ``models/`` (``python scripts/make_safe_models.py`` does it after
converting them).
"""

import hashlib
import json
from pathlib import Path

from ._paths import MODELS_DIR
from .persistence import dump_json, load_joblib_bytes, read_model_bytes

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


def _is_shipped_digest(digest, models_dir):
    return digest in set(read_manifest(models_dir).values())


def load_trusted_joblib(path, trust=False, models_dir=MODELS_DIR):
    """Load a pickle (joblib) file when ``trust`` is given or its bytes are a shipped file's.

    The file is read once: its SHA-256 and the unpickling are of the same bytes, so a file
    swapped after the check is never loaded.

    Parameters
    ----------
    path : str or path-like
        The joblib file.
    trust : bool, default=False
        Load it whatever it holds (unpickling runs any code it holds).
    models_dir : path-like, default=the shipped models' folder
        Where the manifest of shipped files is.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    UntrustedModelError
        Not ``trust``, and the bytes are no shipped file's.
    ValueError
        The file is not a readable joblib file.
    """
    path = Path(path)
    content = read_model_bytes(path)
    if not trust and not _is_shipped_digest(hashlib.sha256(content).hexdigest(), models_dir):
        raise UntrustedModelError(_untrusted_message(path))
    return load_joblib_bytes(content, path)


def _untrusted_message(path):
    return (f"{path} is a pickle (joblib) file: loading it runs any code the file holds, so it "
            f"is only loaded when you trust its origin. Pass trust=True (--trust-model on the "
            f"command line) if you made it or got it from someone you trust, or convert it "
            f"once, where it is trusted, to the safe format that never runs code: "
            f"fer_estimator.save(fer_estimator.load(path, trust=True), 'model.fer.zip')")
