"""Saving and loading models and reports: atomic writes (a reader never sees half a file, a crash
never leaves one) and loads that name the file when it is not a model."""

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import joblib

from ._extras import MissingInstallError, requires_install


def _read_umask():
    # Reading the umask means setting it: done once, at import, rather than on every write,
    # where another thread could create a file (with mode 0) between the two calls.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()
# How much of an unpickling error a message quotes.
_MAX_REASON_CHARS = 500


def write_atomically(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it into place.

    The temporary file is flushed to disk (``fsync``) before it replaces ``path``, so after a
    crash ``path`` holds its old content or the whole new one, never a partial or empty file.

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
        os.chmod(tmp, 0o666 & ~_UMASK)
        with open(tmp, "r+b") as file:
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


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
    return load_joblib_bytes(read_model_bytes(path), path)


def read_model_bytes(path):
    """The bytes of the model file ``path``; FileNotFoundError naming it when there is none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    return path.read_bytes()


def load_joblib_bytes(content, path):
    """Unpickle a joblib file's ``content`` (bytes read from ``path``, named in errors).

    Loading bytes already read, rather than the file again, unpickles exactly the bytes that
    were checked (see :func:`fer_estimator.manifest.load_trusted_joblib`). Runs any code the
    content holds, as :func:`load_joblib`.
    """
    try:
        # Unpickling imports the classes the file names: FERClassifier's need Keras.
        with requires_install(f"the joblib model {path}"):
            return joblib.load(io.BytesIO(content))
    except MissingInstallError:
        raise  # the file may be fine: the install is not
    except Exception as error:
        # The error may quote the file's content: a few hundred characters say what is wrong.
        reason = str(error)
        reason = reason if len(reason) <= _MAX_REASON_CHARS else reason[:_MAX_REASON_CHARS] + "..."
        raise ValueError(f"{path} is not a readable joblib model file: {reason}") from error
