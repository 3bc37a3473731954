"""Saving a model as a ``.fer.zip`` file, and loading a model file of any kind: the safe
format, a pickle (joblib) file when trusted or shipped, or a clear error naming what the file
is instead."""

import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

from sklearn.pipeline import Pipeline

from .._versions import check_saved_versions, current_versions
from ..ensemble import is_ensemble
from ..manifest import load_trusted_joblib
from ..persistence import write_atomically
from . import limits
from .archive import extract_member, refuse_unnamed_members
from .description import (
    DESCRIPTION_MEMBER,
    ENSEMBLE_VERSION,
    FORMAT,
    NETWORK_MEMBER,
    SINGLE_MODEL_VERSION,
    SUFFIX,
    network_members,
    read_description,
    vote_step,
)
from .ensembles import build_ensemble, describe_ensemble
from .errors import SafeFormatError, quoted
from .networks import float32_copy, load_network
from .pipelines import build_pipeline, describe_pipeline

_ZIP_MAGIC = b"PK\x03\x04"
# What a file that is not a model usually is, by its first bytes.
_OTHER_KINDS = (
    (b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"\x1aE\xdf\xa3", "a WebM video"),
)
# The first bytes of a pickle (protocol 2 and later) and of joblib's compressed pickles (zlib,
# gzip, bz2, xz, lz4).
_PICKLE_MAGICS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x78\x01", b"\x78\x5e",
                  b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
                  b"\x04\x22\x4d\x18")
_HEAD_BYTES = 16


def model_stem(path):
    """A model file's name without its format suffix: ``fer2013-7class`` for
    ``fer2013-7class.fer.zip`` as for ``fer2013-7class.joblib``."""
    path = Path(path)
    return path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def save(model, path):
    """Save a fitted FER pipeline, FERClassifier or ensemble in the safe ``.fer.zip`` format.

    The file is written atomically. This is an inference format: the networks are stored in
    float32 (a model trained in mixed bfloat16 predicts on any CPU) and without their optimizer
    state, so a loaded model predicts identically (up to float32 rounding of mixed-precision
    models) but fitting it again starts a new optimizer. Use
    :func:`fer_estimator.persistence.dump_joblib` to keep everything.

    Parameters
    ----------
    model : Pipeline or FERClassifier
        Fitted; one of

        - a Pipeline of registered transformer steps (:class:`PixelTransformer`) ending in a
          registered classifier (:class:`FERClassifier`; the 6-class variant of
          :mod:`fer_estimator.variants` too), or a bare classifier: written as format version
          1, which every release reads;
        - a pipeline built by :func:`~fer_estimator.soft_voting_ensemble` from such
          pipelines, as it builds it (each step in a ``FrozenEstimator``, a soft
          ``VotingClassifier`` with default parameters as step ``"vote"``): written as
          format version 2, each member's network as ``networks/<member name>.keras``, so
          member names are 1 to 64 letters, digits, ``_``, ``-`` or ``.``, starting with a
          letter or digit.

        Every parameter must be a plain JSON value (numbers, strings, lists, dicts).
    path : str or path-like
        Destination, conventionally ending in ``.fer.zip``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SafeFormatError
        The model holds a step, a parameter or a member name the format cannot describe.
    """
    path = Path(path)
    ensemble = is_ensemble(model)
    if ensemble:
        steps, networks = describe_ensemble(model)
    else:
        steps, network = describe_pipeline(model)
        networks = {NETWORK_MEMBER: network}
    description = {
        "format": FORMAT,
        "format_version": ENSEMBLE_VERSION if ensemble else SINGLE_MODEL_VERSION,
        "pipeline": isinstance(model, Pipeline),
        "steps": steps,
        "versions": current_versions(),
    }
    networks = {member: float32_copy(network) for member, network in networks.items()}

    def write(temp):
        with tempfile.TemporaryDirectory() as folder:
            with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(DESCRIPTION_MEMBER, json.dumps(description, indent=1))
                for index, (member, network) in enumerate(networks.items()):
                    keras_file = Path(folder) / f"network{index}.keras"
                    network.save(keras_file)
                    archive.write(keras_file, member)
    return write_atomically(path, write)


def load(path, *, trust=False):
    """Load a fitted FER pipeline or ensemble from a ``.fer.zip`` file, or a trusted joblib file.

    Parameters
    ----------
    path : str or path-like
        A ``.fer.zip`` file (never runs code), of format version 1 (one model) or 2 (an
        ensemble), or a joblib/pickle file.
    trust : bool, default=False
        Allow unpickling a joblib/pickle file, which runs any code it holds. Not needed for
        the ``.fer.zip`` format, nor for the joblib files the package ships (recognised by
        their SHA-256 in ``models/manifest.json``).

    Returns
    -------
    Pipeline or FERClassifier
        A real scikit-learn Pipeline (or FERClassifier): ``predict``, ``predict_proba``,
        ``score`` and ``clone`` work. An ensemble comes back as
        :func:`~fer_estimator.soft_voting_ensemble` builds it, with the saved member names.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    fer_estimator.manifest.UntrustedModelError
        A pickle file without ``trust=True`` that the package does not ship.
    SafeFormatError
        Not a model file (a folder, a device, an empty file, an image...: the message says
        which), a zip file that is not a valid ``.fer.zip`` model, or one beyond the format's
        limits (:mod:`fer_estimator.safe_format.limits`), or holding values out of range.
    """
    path = Path(path)
    head = _head(path)
    if not head.startswith(_ZIP_MAGIC):
        if trust or head.startswith(_PICKLE_MAGICS):
            # Read once: the bytes whose SHA-256 is checked are the bytes unpickled.
            return load_trusted_joblib(path, trust)
        raise SafeFormatError(f"{path} is not a model file: it starts with {quoted(head)}, "
                              f"neither a {SUFFIX} model (a zip archive) nor a pickle (joblib)")
    try:
        with zipfile.ZipFile(path) as archive:
            description = read_description(archive, path)
            members = network_members(description, path)
            networks = _load_networks(archive, members, path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SafeFormatError(f"{path} is not a readable {SUFFIX} model file: "
                              f"{quoted(str(error))}") from error
    check_saved_versions(description.get("versions") or {}, f"model file {path}")
    if vote_step(description) is not None:
        return build_ensemble(description, networks, path)
    return build_pipeline(description["steps"], networks[NETWORK_MEMBER], path,
                          pipeline=description["pipeline"])


def _head(path):
    """The first bytes of the file ``path``, after refusing what is no regular file (a folder,
    a FIFO, a device: reading those could block or never end) or an empty or image file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path}") from None
    if stat.S_ISDIR(mode):
        raise SafeFormatError(f"{path} is a folder, not a model file")
    if not stat.S_ISREG(mode):
        raise SafeFormatError(f"{path} is not a regular file (it is {_kind_of(mode)}), so not "
                              f"a model file")
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES)
    if not head:
        raise SafeFormatError(f"{path} is empty (0 bytes), not a model file")
    kind = next((kind for magic, kind in _OTHER_KINDS if head.startswith(magic)), None)
    if kind is not None:
        raise SafeFormatError(f"{path} is {kind}, not a model file")
    return head


def _kind_of(mode):
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a plain file")


def _load_networks(archive, members, path):
    """The networks in ``members``, by member; refuse an archive holding anything more."""
    infos = [archive.getinfo(member) if member in archive.NameToInfo else None
             for member in members]
    total = sum(info.file_size for info in infos if info is not None)
    if total > limits.MAX_NETWORK_BYTES:
        raise SafeFormatError(f"{path}: the networks expand to {total} bytes, more than "
                              f"{limits.MAX_NETWORK_BYTES} (no FER network is that large); "
                              f"refused")
    refuse_unnamed_members(archive, [DESCRIPTION_MEMBER, *members], path)
    networks = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, member in enumerate(members):
            keras_file = Path(folder) / f"network{index}.keras"
            extract_member(archive, member, keras_file, path, limits.MAX_NETWORK_BYTES)
            networks[member] = load_network(keras_file, f"{path}: the network {member}")
    return networks
