"""Output paths checked before any work: a command that would fail to save, or save over an
input or over another of its outputs, stops before its first image or epoch. Imports nothing
heavy."""

import os
from pathlib import Path


def printable(text):
    """``text`` with the bytes of a name that is not valid UTF-8 (held as lone surrogates, as
    ``os.fsdecode`` holds them) shown as ``\\xNN``, so that printing it cannot fail."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class OutputPathError(ValueError):
    """An output path that cannot be written, or would overwrite an input or another output."""


def check_output_paths(files=None, folders=None, inputs=None):
    """Check every output path of a command before it starts.

    Parameters
    ----------
    files : mapping of str to path-like or None, optional
        What names each output file (an option, ``"--json"``) -> its path; None entries are
        skipped.
    folders : mapping of str to path-like or None, optional
        The same for output folders (created when missing).
    inputs : mapping of str to path-like or None, optional
        The command's input files (``"--model"``, ``"INPUT"``), which no output may be.

    Raises
    ------
    OutputPathError
        Naming the option and the path: an output file that is an existing folder, an output
        folder that is an existing file, a path below a file (its folder cannot be made) or in
        a folder that cannot be written, two outputs on one path, an output on an input.
    """
    # Folders first: a file's error would otherwise blame it for its folder.
    outputs = [(name, Path(path), True) for name, path in (folders or {}).items()
               if path is not None]
    outputs += [(name, Path(path), False) for name, path in (files or {}).items()
                if path is not None]
    taken = {}
    for name, path in [(name, Path(path)) for name, path in (inputs or {}).items()
                       if path is not None]:
        taken.setdefault(_resolved(path), f"the input {name} {path}")
    for name, path, is_folder in outputs:
        _check_writable(name, path, is_folder)
        resolved = _resolved(path)
        if resolved in taken:
            raise OutputPathError(f"{name} {path} is {taken[resolved]}: it would be "
                                  f"overwritten; give another path")
        taken[resolved] = f"the path of {name} too"


def _resolved(path):
    return Path(os.path.abspath(path)).resolve()


def _check_writable(name, path, is_folder):
    if path.is_dir() and not is_folder:
        raise OutputPathError(f"{name} {path} is an existing folder; give a file name")
    if path.exists() and not path.is_dir() and is_folder:
        raise OutputPathError(f"{name} {path} is an existing file; give a folder")
    if path.exists() and not path.is_dir() and not path.is_file():
        raise OutputPathError(f"{name} {path} is not a regular file; give a file name")
    folder = path if is_folder else Path(os.path.abspath(path)).parent
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not existing.is_dir():
        raise OutputPathError(f"{name} {path} cannot be written: {existing} is a file, not a "
                              f"folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{name} {path} cannot be written: no permission to write in "
                              f"{existing}")
