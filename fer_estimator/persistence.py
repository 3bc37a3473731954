"""Saving and loading models and reports: atomic writes (a reader never sees half a file, a crash
never leaves one) and loads that name the file when it is not a model."""

import json
import os
import tempfile
from pathlib import Path

import joblib


def write_atomically(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it into place.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder is created when missing.
    write : callable
        ``write(tmp_path)`` writes the whole content to ``tmp_path``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private (0600); give it the permissions of a normal new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def dump_joblib(obj, path):
    """Pickle ``obj`` with joblib to ``path``, atomically."""
    return write_atomically(path, lambda tmp: joblib.dump(obj, tmp))


def dump_json(obj, path):
    """Write ``obj`` as indented JSON to ``path``, atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(obj, file, indent=2, sort_keys=False)
            file.write("\n")
    return write_atomically(path, write)


def load_joblib(path):
    """Load a joblib file, naming the path in the error when it is missing or unreadable.

    Unpickling runs any code the file holds: call this only on files you made or trust (as
    ``joblib.load``). :func:`fer_estimator.load` loads the safe ``.fer.zip`` format, and loads a
    joblib file only with ``trust=True`` or when it is a file the package ships.

    Parameters
    ----------
    path : str or path-like
        The joblib file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        return joblib.load(path)
    except Exception as error:
        raise ValueError(f"{path} is not a readable joblib model file: {error}") from error
