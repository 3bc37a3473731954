"""Saving a model as a ``.fer.zip`` file, and loading a model file of any kind: the safe
format, a pickle (joblib) file when trusted or shipped, or a clear error naming what the file
is instead."""

import json
import tempfile
import zipfile
from pathlib import Path

from sklearn.pipeline import Pipeline

from .._versions import check_saved_versions, current_versions
from ..classifier import FERClassifier
from ..ensemble import is_ensemble
from ..manifest import load_trusted_joblib
from ..persistence import write_atomically
from . import limits
from .archive import extract_member, refuse_oversized_networks, refuse_unnamed_members
from .description import (
    DESCRIPTION_MEMBER,
    ENSEMBLE_VERSION,
    FORMAT,
    INT8_KEY,
    NETWORK_MEMBER,
    ONNX_VERSION,
    SINGLE_MODEL_VERSION,
    SUFFIX,
    graph_members,
    network_members,
    onnx_member,
    read_description,
    vote_step,
)
from .ensembles import build_ensemble, describe_ensemble
from .errors import SafeFormatError, quoted
from .file_kind import PICKLE_MAGICS, ZIP_MAGIC, file_head
from .networks import float32_copy, load_network
from .onnx_networks import onnx_bytes
from .pipelines import build_pipeline, describe_pipeline
from .quantization import quantize_network
from .steps import STEP_TYPES, register_step

# The classifier fer-estimator saves (its transformers register in .steps); another is one more
# call, wherever its class lives.
register_step(FERClassifier, final=True)

__all__ = ["STEP_TYPES", "load", "model_stem", "register_step", "save"]

def model_stem(path):
    """A model file's name without its format suffix: ``fer2013-7class`` for
    ``fer2013-7class.fer.zip`` as for ``fer2013-7class.joblib``."""
    path = Path(path)
    return path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def save(model, path, *, onnx=True, int8_calibration=None):
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
          :mod:`fer_estimator.variants` too), or a bare classifier: its network is
          ``network.keras`` (format version 1 without ONNX, which every release reads);
        - a pipeline built by :func:`~fer_estimator.soft_voting_ensemble` from such
          pipelines, as it builds it (each step in a ``FrozenEstimator``, a soft
          ``VotingClassifier`` with default parameters as step ``"vote"``): each member's
          network is ``networks/<member name>.keras`` (format version 2 without ONNX), so
          member names are 1 to 64 letters, digits, ``_``, ``-`` or ``.``, starting with a
          letter or digit.

        Every parameter must be a plain JSON value (numbers, strings, lists, dicts).
    path : str or path-like
        Destination, conventionally ending in ``.fer.zip``.
    onnx : bool, default=True
        Also store each network as an ONNX graph (format version 3), which
        :func:`fer_estimator.load_predictor` runs in onnxruntime, without Keras. Needs the
        backend's ONNX exporter (tf2onnx on TensorFlow: ``pip install "fer-estimator[train]"``);
        False writes format version 1 or 2, which older releases read.
    int8_calibration : array-like, optional
        Images as ``model`` takes them (face crops, pixel strings): also store an int8 copy of
        each ONNX network (``network.int8.onnx``), statically quantized with ranges calibrated
        on these images after the pipeline's transformers (:mod:`.quantization`), which
        ``load_predictor(..., runtime="onnx-int8")`` runs. Give a few hundred to a thousand
        training images, never those the model is scored on. Needs ``onnx=True``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SafeFormatError
        The model holds a step, a parameter or a member name the format cannot describe.
    ImportError
        ``onnx=True`` without the backend's ONNX exporter.
    ValueError
        ``int8_calibration`` without ``onnx``, or images the pipeline cannot take.
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
        "format_version": (ONNX_VERSION if onnx else ENSEMBLE_VERSION if ensemble
                           else SINGLE_MODEL_VERSION),
        "pipeline": isinstance(model, Pipeline),
        "steps": steps,
        "versions": current_versions(),
    }
    if int8_calibration is not None:
        if not onnx:
            raise ValueError("int8 copies are of the ONNX networks: int8_calibration needs "
                             "onnx=True")
        description[INT8_KEY] = True
    networks = {member: float32_copy(network) for member, network in networks.items()}
    # Exported (and quantized) before the file is opened: a missing exporter leaves no file.
    float_graphs = ({member: onnx_bytes(network) for member, network in networks.items()}
                    if onnx else {})
    int8_graphs = {}
    if int8_calibration is not None:
        images = (model[:-1].transform(int8_calibration) if isinstance(model, Pipeline)
                  else int8_calibration)
        int8_graphs = {member: quantize_network(graph, images)
                       for member, graph in float_graphs.items()}
    graphs = {**{onnx_member(member): graph for member, graph in float_graphs.items()},
              **{onnx_member(member, int8=True): graph for member, graph in int8_graphs.items()}}

    def write(temp):
        with tempfile.TemporaryDirectory() as folder:
            with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(DESCRIPTION_MEMBER, json.dumps(description, indent=1))
                for index, (member, network) in enumerate(networks.items()):
                    keras_file = Path(folder) / f"network{index}.keras"
                    network.save(keras_file)
                    archive.write(keras_file, member)
                for member, graph in graphs.items():
                    archive.writestr(member, graph)
    return write_atomically(path, write)


def load(path, *, trust=False):
    """Load a fitted FER pipeline or ensemble from a ``.fer.zip`` file, or a trusted joblib file.

    Parameters
    ----------
    path : str or path-like
        A ``.fer.zip`` file (never runs code), of format version 1 (one model), 2 (an
        ensemble) or 3 (either, with ONNX graphs, which this Keras path does not read), or a
        joblib/pickle file.
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
    head = file_head(path)
    if not head.startswith(ZIP_MAGIC):
        if trust or head.startswith(PICKLE_MAGICS):
            # Read once: the bytes whose SHA-256 is checked are the bytes unpickled.
            return load_trusted_joblib(path, trust)
        raise SafeFormatError(f"{path} is not a model file: it starts with {quoted(head)}, "
                              f"neither a {SUFFIX} model (a zip archive) nor a pickle (joblib)")
    try:
        with zipfile.ZipFile(path) as archive:
            description = read_description(archive, path)
            members = network_members(description, path)
            networks = _load_networks(archive, members, path,
                                      graph_members(description, members))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SafeFormatError(f"{path} is not a readable {SUFFIX} model file: "
                              f"{quoted(str(error))}") from error
    check_saved_versions(description.get("versions") or {}, f"model file {path}")
    if vote_step(description) is not None:
        return build_ensemble(description, networks, path)
    return build_pipeline(description["steps"], networks[NETWORK_MEMBER], path,
                          pipeline=description["pipeline"])


def _load_networks(archive, members, path, graphs):
    """The networks in ``members``, by member; refuse an archive holding anything more than
    them, the description and their ONNX ``graphs`` (members), which this Keras path leaves
    unread."""
    refuse_oversized_networks(archive, members, path)
    refuse_unnamed_members(archive, [DESCRIPTION_MEMBER, *members, *graphs], path)
    networks = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, member in enumerate(members):
            keras_file = Path(folder) / f"network{index}.keras"
            extract_member(archive, member, keras_file, path, limits.MAX_NETWORK_BYTES)
            networks[member] = load_network(keras_file, f"{path}: the network {member}")
    return networks
