"""Predicting with a saved model without Keras or TensorFlow: the ONNX networks of a
``.fer.zip`` file (format version 3) run in onnxruntime, behind the same scikit-learn pipeline.

:func:`load_predictor` is what the inference side (:class:`~fer_estimator.FacePipeline`,
``fer-estimator predict``, ``serve``, ``live``) loads a model with. A file with ONNX networks
comes back as a scikit-learn ``Pipeline``: its :class:`~fer_estimator.PixelTransformer` steps
rebuilt from the file (the same NumPy and OpenCV code as in training), then an
:class:`OnnxNetworkClassifier`, or an ensemble's soft ``VotingClassifier`` of them. Older files,
joblib files, or ``runtime="keras"`` take the Keras path (:func:`fer_estimator.load`).
"""

import functools
import importlib.util
import tempfile
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ._extras import TRAINING_INSTALL, MissingInstallError
from ._paths import DEFAULT_MODEL_PATH
from ._validation import StrOptions, check_params
from ._versions import check_saved_versions
from .pixels import mirror_images
from .safe_format import limits
from .safe_format.archive import read_member, refuse_oversized_networks, refuse_unnamed_members
from .safe_format.description import (
    DESCRIPTION_MEMBER,
    NETWORK_MEMBER,
    SUFFIX,
    graph_members,
    has_int8,
    has_onnx,
    network_members,
    onnx_member,
    read_description,
    vote_step,
)
from .safe_format.errors import SafeFormatError, quoted
from .safe_format.file_kind import ZIP_MAGIC, file_head
from .safe_format.onnx_graphs import check_onnx_graph
from .safe_format.pipelines import build_pipeline

RUNTIMES = ("auto", "onnx", "onnx-int8", "keras")
# The classifier steps whose predictions are their network's output (averaged with the mirror
# images' under test-time augmentation), which an ONNX graph of the network reproduces.
_ONNX_CLASSIFIERS = ("FERClassifier",)
# Rows per onnxruntime call: bounds the memory a large batch takes.
_ROWS_PER_CALL = 512


def onnxruntime_installed():
    """Whether onnxruntime can be imported (checked without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def chosen_runtime(path=None, runtime="auto"):
    """The runtime :func:`load_predictor` uses for the model file ``path``: ``"onnx"``,
    ``"onnx-int8"`` or ``"keras"``, decided from the file's first bytes and description, without
    loading it.

    ``"auto"`` is ``"onnx"`` for a ``.fer.zip`` file holding ONNX networks when onnxruntime is
    installed, ``"keras"`` otherwise (older files, joblib files).
    """
    check_params({"runtime": [StrOptions(set(RUNTIMES))]}, {"runtime": runtime},
                 "load_predictor")
    if runtime != "auto":
        return runtime
    path = DEFAULT_MODEL_PATH if path is None else Path(path)
    if not onnxruntime_installed() or not file_head(path).startswith(ZIP_MAGIC):
        return "keras"
    try:
        with zipfile.ZipFile(path) as archive:
            description = read_description(archive, path)
    except (zipfile.BadZipFile, OSError, EOFError):
        return "onnx"  # which says what is wrong with the file, and needs no Keras for it
    return "onnx" if has_onnx(description) else "keras"


def load_predictor(path=None, *, runtime="auto", trust=False):
    """Load a fitted FER model for predicting, in onnxruntime when the file allows it.

    Parameters
    ----------
    path : str, path-like or None, default=None
        A ``.fer.zip`` file, or a joblib file (Keras path, with ``trust=True`` unless the
        package ships it). None: the shipped model ``models/fer2013-7class.fer.zip``.
    runtime : {"auto", "onnx", "onnx-int8", "keras"}, default="auto"
        ``"onnx"``: the file's ONNX networks in onnxruntime, never importing Keras or
        TensorFlow (a file without them is refused, saying how to add them). ``"onnx-int8"``:
        their int8 copies, when the file holds them (``save(..., int8_calibration=...)``):
        faster, and close to the float32 networks but not equal (the shipped model's labels
        agree on 99% of PublicTest). ``"keras"``: the Keras networks, as
        :func:`fer_estimator.load` loads them (the full install). ``"auto"``: ``"onnx"`` when
        the file holds ONNX networks and onnxruntime is installed, else ``"keras"``.
    trust : bool, default=False
        Allow a joblib (pickle) file, which runs any code it holds (see
        :func:`fer_estimator.load`).

    Returns
    -------
    Pipeline or FERClassifier
        A fitted scikit-learn estimator with ``predict``, ``predict_proba`` and ``classes_``.
        On the ONNX path it ends in :class:`OnnxNetworkClassifier` (an ensemble: a soft
        ``VotingClassifier`` of them), predicts like the Keras path (float32 rounding apart)
        and cannot be fitted again.

    Raises
    ------
    FileNotFoundError, SafeFormatError, UntrustedModelError
        As :func:`fer_estimator.load`; on the ONNX path also a file without ONNX networks.
    ImportError
        ``runtime="onnx"`` without onnxruntime.

    Examples
    --------
    >>> model = load_predictor("models/fer2013-7class.fer.zip")  # doctest: +SKIP
    >>> model.predict(faces)  # uint8 (n, 48, 48) face crops, or FER2013 pixel strings
    ... # doctest: +SKIP
    """
    path = DEFAULT_MODEL_PATH if path is None else Path(path)
    chosen = chosen_runtime(path, runtime)
    if chosen == "keras":
        if runtime == "auto" and importlib.util.find_spec("keras") is None:
            raise MissingInstallError(
                f"{path} holds no ONNX networks for the ONNX runtime (a joblib file, or a "
                f"{SUFFIX} file of format version 1 or 2), and its Keras networks need the "
                f"training install: {TRAINING_INSTALL}; or add ONNX networks to it there with "
                f"`fer-estimator export {path} NEW{SUFFIX}`", name="keras")
        from .safe_format import load  # Keras

        return load(path, trust=trust)
    return load_onnx(path, int8=chosen == "onnx-int8")


def load_onnx(path, int8=False):
    """The model of the ``.fer.zip`` file ``path`` around its ONNX networks, or their int8
    copies when ``int8`` (see :func:`load_predictor`); its Keras networks are not read."""
    path = Path(path)
    if not file_head(path).startswith(ZIP_MAGIC):
        raise SafeFormatError(f"{path} is not a {SUFFIX} model file (a zip archive): the ONNX "
                              f"runtime reads {SUFFIX} files only; load a joblib file with "
                              f"runtime='keras' (--runtime keras)")
    session_class = _inference_session_class()
    try:
        with zipfile.ZipFile(path) as archive:
            description = read_description(archive, path)
            if not has_onnx(description):
                raise SafeFormatError(
                    f"{path} holds no ONNX networks (format version "
                    f"{description['format_version']}): add them with `fer-estimator export "
                    f"{path} NEW{SUFFIX}` (the full install), or load it with runtime='keras' "
                    f"(--runtime keras)")
            if int8 and not has_int8(description):
                raise SafeFormatError(
                    f"{path} holds no int8 networks: add them with fer_estimator.export(model, "
                    f"NEW{SUFFIX}, int8_calibration=training_faces) (the full install), or use "
                    f"runtime='onnx'")
            members = network_members(description, path)
            graphs = _read_graphs(archive, members, path, description, int8)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SafeFormatError(f"{path} is not a readable {SUFFIX} model file: "
                              f"{quoted(str(error))}") from error
    check_saved_versions(description.get("versions") or {}, f"model file {path}",
                         packages=("fer_estimator",))
    networks = {member: OnnxNetwork(graph, f"{path}: {onnx_member(member, int8)}",
                                    session_class)
                for member, graph in graphs.items()}
    if vote_step(description) is not None:
        # scikit-learn's ensemble module costs a fresh process 0.2-0.4 s: ensembles only.
        from .safe_format.ensembles import build_ensemble

        return build_ensemble(description, networks, path,
                              rebuild_classifier=OnnxNetworkClassifier.from_step_table)
    return build_pipeline(description["steps"], networks[NETWORK_MEMBER], path,
                          pipeline=description["pipeline"],
                          rebuild_classifier=OnnxNetworkClassifier.from_step_table)


def _read_graphs(archive, members, path, description, int8):
    """The ONNX graph (the int8 one when ``int8``) of each network member, by the network's
    member; refuse an archive holding more than the description, the networks and their
    graphs."""
    refuse_unnamed_members(
        archive, [DESCRIPTION_MEMBER, *members, *graph_members(description, members)], path)
    read = [onnx_member(member, int8) for member in members]
    refuse_oversized_networks(archive, read, path, kind="ONNX networks")
    return {member: read_member(archive, graph, path, limits.MAX_NETWORK_BYTES)
            for member, graph in zip(members, read, strict=True)}


def _inference_session_class():
    try:
        from onnxruntime import InferenceSession
    except ImportError as error:
        raise ImportError(f"the ONNX runtime needs onnxruntime: pip install onnxruntime, or "
                          f"load the model with runtime='keras' ({error})") from error
    return InferenceSession


class OnnxNetwork:
    """An ONNX graph of a FER network in an onnxruntime session, with the ``input_shape``
    and ``output_shape`` a Keras network has, ``(None, height, width, channels)`` and
    ``(None, classes)`` (a dimension the graph leaves open is None).

    Parameters
    ----------
    graph : bytes
        The serialised ONNX model, from a ``.fer.zip`` file.
    where : str
        Names the graph (file and member) in errors.
    session_class : type, optional
        ``onnxruntime.InferenceSession``.
    """

    def __init__(self, graph, where, session_class=None):
        self.graph, self.where = graph, where
        session_class = session_class or _inference_session_class()
        check_onnx_graph(graph, where)
        try:
            self.session = session_class(graph, sess_options=_session_options(),
                                         providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a bad graph
            raise SafeFormatError(f"{where} is not a loadable ONNX graph: "
                                  f"{type(error).__name__}: {quoted(str(error), 500)}") from error
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise SafeFormatError(f"{where} has {len(inputs)} inputs and {len(outputs)} outputs; "
                                  f"a FER network has one of each")
        self.input_name = inputs[0].name
        self.input_shape = _shape(inputs[0].shape)
        self.output_shape = _shape(outputs[0].shape)

    def __getstate__(self):
        # An onnxruntime session does not pickle (Dask sends models to workers): its graph does.
        return {"graph": self.graph, "where": self.where}

    def __setstate__(self, state):
        self.__init__(state["graph"], state["where"])

    def __call__(self, images):
        """The network's output for ``images`` (n, height, width, channels), float32."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        return np.concatenate([
            self.session.run(None, {self.input_name: images[start:start + _ROWS_PER_CALL]})[0]
            for start in range(0, max(len(images), 1), _ROWS_PER_CALL)])


def set_session_threads(threads):
    """Make the networks this process loads from now on run each call on ``threads`` threads
    (0, the default: onnxruntime's, one per core). A Dask worker process sets its own thread
    count, so that several processes on one machine do not each take every core."""
    global _session_threads
    _session_threads = threads


_session_threads = 0


def _session_options():
    """onnxruntime's options for a checked graph: besides the check, external data (which the
    check refuses) would be looked for in an empty folder, never the working directory."""
    from onnxruntime import SessionOptions

    options = SessionOptions()
    options.intra_op_num_threads = _session_threads
    options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                     _empty_folder().name)
    return options


@functools.cache
def _empty_folder():
    """An empty folder, removed at exit: where onnxruntime may look for files a graph names."""
    return tempfile.TemporaryDirectory(prefix="fer-estimator-no-files-")


def _shape(dimensions):
    # onnxruntime names an open dimension ("unk__92", "batch"): Keras says None.
    return tuple(size if isinstance(size, int) else None for size in dimensions)


class OnnxNetworkClassifier(ClassifierMixin, BaseEstimator):
    """The classifier of a saved FER pipeline, its network run by onnxruntime.

    Rebuilt by :func:`load_predictor` from a ``.fer.zip`` file's classifier step: it predicts
    as the saved :class:`~fer_estimator.FERClassifier` does (its classes, and the average of
    each image's and its mirror image's probabilities under ``tta``), and cannot be fitted.

    Parameters
    ----------
    tta : bool, default=False
        Test-time augmentation: average each image's probabilities with its mirror image's.

    Attributes
    ----------
    model_ : OnnxNetwork
        The network (named as scikeras names a Keras one).
    classes_ : ndarray of shape (n_classes,)
        The class of each output, in order.
    """

    _parameter_constraints: ClassVar[dict] = {"tta": ["boolean"]}

    def __init__(self, tta=False):
        self.tta = tta

    @classmethod
    def from_step_table(cls, description, network, where):
        """The classifier of the step table ``description`` around ``network``
        (an :class:`OnnxNetwork`); ``where`` names the step in errors."""
        kind = description.get("class")
        if kind not in _ONNX_CLASSIFIERS:
            raise SafeFormatError(f"{where}: the ONNX runtime predicts with a "
                                  f"{' or '.join(_ONNX_CLASSIFIERS)}; this step is "
                                  f"{quoted(kind, 60)}: load the model with runtime='keras'")
        params = description.get("params")
        tta = params.get("tta", False) if isinstance(params, dict) else None
        classes = description.get("classes")
        if not isinstance(tta, bool):
            raise SafeFormatError(f"{where}: 'params.tta' must be true or false; it is "
                                  f"{quoted(tta, 50)}")
        if not isinstance(classes, list) or not all(
                isinstance(label, (str, int)) and not isinstance(label, bool)
                for label in classes) or len(set(classes)) != len(classes):
            raise SafeFormatError(f"{where}: 'classes' must be a list of distinct names or "
                                  f"integer codes; it is {quoted(classes, 200)}")
        if len(classes) != network.output_shape[1]:
            raise SafeFormatError(f"{where}: the network has {network.output_shape[1]} outputs "
                                  f"for {len(classes)} classes")
        classifier = cls(tta=tta)
        classifier.model_ = network
        classifier.classes_ = np.asarray(classes)
        return classifier

    def fit(self, X, y=None):
        """Refused: this classifier only predicts with a network trained elsewhere.

        Raises
        ------
        TypeError
            Always; fit a :class:`~fer_estimator.FERClassifier` (the full install) instead.
        """
        raise TypeError("an OnnxNetworkClassifier predicts with a saved network and cannot be "
                        "fitted: fit a FERClassifier (pip install \"fer-estimator[train]\"), or "
                        "load the model with fer_estimator.load")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def predict_proba(self, X):
        """Class probabilities of the images ``X`` (n, height, width, channels), as the
        :class:`~fer_estimator.PixelTransformer` before it makes them.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float32
        """
        check_params(self._parameter_constraints, self.get_params(), type(self).__name__)
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 4 or X.shape[1:] != tuple(self.model_.input_shape[1:]):
            raise ValueError(f"X has shape {X.shape}; the network takes images "
                             f"{(None, *self.model_.input_shape[1:])}")
        if not self.tta:
            return self.model_(X)
        both = self.model_(np.concatenate([X, mirror_images(X)]))
        return (both[:len(X)] + both[len(X):]) / np.float32(2)

    def predict(self, X):
        """The most probable class of each image of ``X``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
