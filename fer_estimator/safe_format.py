"""The safe model format ``.fer.zip``: a fitted FER pipeline that loads without running code.

A ``.fer.zip`` file is a zip archive of two members:

- ``network.keras``: the Keras network, float32, without optimizer state, loaded with
  ``keras.saving.load_model(..., safe_mode=True)`` (which refuses lambda layers and any other
  serialised code);
- ``fer_estimator.json``: the pipeline around it: each step's class (only
  :class:`~fer_estimator.PixelTransformer` and :class:`~fer_estimator.FERClassifier`), its
  parameters and fitted statistics as plain JSON values, the classes, and the versions it was
  saved with.

Nothing in it is unpickled, so a file from anyone can be loaded: at worst it fails to load or
predicts badly. joblib files (pickles) still load through :func:`load` with ``trust=True``, or
without it when they are files the package ships (see :mod:`fer_estimator.manifest`).
"""

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from ._versions import check_saved_versions, current_versions
from .classifier import FERClassifier
from .manifest import check_trusted
from .persistence import load_joblib, write_atomically
from .transform import PixelTransformer

SUFFIX = ".fer.zip"
FORMAT = "fer-estimator.safe-model"
FORMAT_VERSION = 1
NETWORK_MEMBER = "network.keras"
DESCRIPTION_MEMBER = "fer_estimator.json"
# The only classes a file may name, with their fitted attributes kept in the description.
STEP_CLASSES = {"PixelTransformer": PixelTransformer, "FERClassifier": FERClassifier}
_TRANSFORMER_FITTED = ("mean_", "scale_")
# Parameters that hold Python objects in general: the safe format keeps them at None.
_OBJECT_PARAMS = ("model", "build_fn", "callbacks")
# Refuse members larger than this (a zip bomb expands to far more than a FER network).
_MAX_MEMBER_BYTES = 2 << 30
_MAX_DESCRIPTION_BYTES = 16 << 20


class SafeFormatError(ValueError):
    """A model cannot be saved in, or a file cannot be loaded from, the safe format."""


def model_stem(path):
    """A model file's name without its format suffix: ``fer2013-7class`` for
    ``fer2013-7class.fer.zip`` as for ``fer2013-7class.joblib``."""
    path = Path(path)
    return path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def save(model, path):
    """Save a fitted FER pipeline (or FERClassifier) in the safe ``.fer.zip`` format, atomically.

    This is an inference format: the network is stored in float32 (a model trained in mixed
    bfloat16 predicts on any CPU) and without its optimizer state, so a loaded model predicts
    identically (up to float32 rounding of mixed-precision models) but fitting it again starts a
    new optimizer. Use :func:`fer_estimator.persistence.dump_joblib` to keep everything.

    Parameters
    ----------
    model : Pipeline or FERClassifier
        Fitted; a Pipeline of :class:`PixelTransformer` steps ending in a
        :class:`FERClassifier` (the 6-class variant of :mod:`fer_estimator.variants` too).
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
        The model holds a step or a parameter the format cannot describe.
    """
    path = Path(path)
    steps = model.steps if isinstance(model, Pipeline) else [(None, model)]
    described = [_describe_step(name, step, last=index == len(steps) - 1)
                 for index, (name, step) in enumerate(steps)]
    classifier = steps[-1][1]
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pipeline": isinstance(model, Pipeline),
        "steps": described,
        "versions": current_versions(),
    }
    network = _float32_copy(classifier.model_)

    def write(temp):
        with tempfile.TemporaryDirectory() as folder:
            keras_file = Path(folder) / NETWORK_MEMBER
            network.save(keras_file)
            with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(DESCRIPTION_MEMBER, json.dumps(description, indent=1))
                archive.write(keras_file, NETWORK_MEMBER)
    return write_atomically(path, write)


def load(path, *, trust=False):
    """Load a fitted FER pipeline from a ``.fer.zip`` file, or a trusted joblib file.

    Parameters
    ----------
    path : str or path-like
        A ``.fer.zip`` file (never runs code), or a joblib/pickle file.
    trust : bool, default=False
        Allow unpickling a joblib/pickle file, which runs any code it holds. Not needed for
        the ``.fer.zip`` format, nor for the joblib files the package ships (recognised by
        their SHA-256 in ``models/manifest.json``).

    Returns
    -------
    Pipeline or FERClassifier
        A real scikit-learn Pipeline (or FERClassifier): ``predict``, ``predict_proba``,
        ``score`` and ``clone`` work.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    fer_estimator.manifest.UntrustedModelError
        A pickle file without ``trust=True`` that the package does not ship.
    SafeFormatError
        A zip file that is not a valid ``.fer.zip`` model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if not _starts_as_zip(path):
        check_trusted(path, trust)
        return load_joblib(path)
    try:
        with zipfile.ZipFile(path) as archive:
            description = _read_description(archive, path)
            with tempfile.TemporaryDirectory() as folder:
                keras_file = Path(folder) / NETWORK_MEMBER
                _extract(archive, NETWORK_MEMBER, keras_file, path)
                network = _load_network(keras_file, path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SafeFormatError(f"{path} is not a readable {SUFFIX} model file: {error}") from error
    check_saved_versions(description.get("versions") or {}, f"model file {path}")
    return _build_model(description, network, path)


def _starts_as_zip(path):
    # Not zipfile.is_zipfile: it looks for a zip directory at the end of the file, and a
    # joblib file of a Keras model ends with one (the pickled network's .keras bytes).
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04"


def _describe_step(name, step, last):
    kind = type(step).__name__
    if STEP_CLASSES.get(kind) is not type(step) or (kind == "FERClassifier") != last:
        raise SafeFormatError(
            f"the safe format holds a Pipeline of PixelTransformer steps ending in a "
            f"FERClassifier; step {name!r} is a {type(step).__module__}.{kind}. Save this "
            f"model with fer_estimator.persistence.dump_joblib instead")
    params = step.get_params(deep=False)
    for key in _OBJECT_PARAMS:
        if params.get(key) is not None:
            raise SafeFormatError(
                f"{kind} parameter {key}={params[key]!r} is a Python object, which the safe "
                f"format does not store; set it to None (set_params) before saving, or save "
                f"with dump_joblib")
    described = {"name": name, "class": kind,
                 "params": {key: _plain(value, f"{kind} parameter {key}")
                            for key, value in params.items()}}
    if kind == "PixelTransformer":
        if not hasattr(step, "mean_"):
            raise SafeFormatError("the PixelTransformer is not fitted: fit the pipeline first")
        described["fitted"] = {key: _plain(getattr(step, key), f"PixelTransformer.{key}")
                               for key in _TRANSFORMER_FITTED}
        return described
    if not getattr(step, "initialized_", False):
        raise SafeFormatError("the FERClassifier is not fitted: fit it before saving")
    classes = np.asarray(step.classes_)
    if classes.dtype.kind not in "iuUf" and not all(isinstance(c, str) for c in classes):
        raise SafeFormatError(f"classes of dtype {classes.dtype} cannot be saved in the safe "
                              f"format: use class names (str) or integer codes")
    described["classes"] = [_plain(value, "a class") for value in classes.tolist()]
    described["fitted"] = {
        "history_": {key: [float(v) for v in values]
                     for key, values in dict(getattr(step, "history_", {}) or {}).items()},
    }
    return described


def _plain(value, what):
    """``value`` as JSON (tuples become lists, NumPy scalars Python ones), or refuse it."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item, what) for item in value]
    if isinstance(value, dict) and all(isinstance(key, (str, int)) for key in value):
        return {str(key): _plain(item, what) for key, item in value.items()}
    raise SafeFormatError(f"{what} = {value!r} is not a plain JSON value; the safe format "
                          f"stores numbers, strings, lists and dicts only (set a plain value, "
                          f"or save with dump_joblib)")


def _float32_copy(network):
    """An uncompiled float32 copy of ``network``: no optimizer state, no bfloat16 compute."""
    config = _float32_config(network.get_config())
    copy = network.__class__.from_config(config)
    # Mixed-precision layers keep float32 variables, so the weights carry over as they are.
    copy.set_weights(network.get_weights())
    return copy


def _float32_config(config):
    """A Keras config with every dtype policy (``mixed_bfloat16``...) replaced by float32."""
    if isinstance(config, dict):
        if str(config.get("class_name", "")).endswith("DTypePolicy"):
            return {**config, "class_name": "DTypePolicy",
                    "config": {**config.get("config", {}), "name": "float32"}}
        return {key: ("float32" if key == "dtype" and isinstance(value, str)
                      and value.startswith("mixed_") else _float32_config(value))
                for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(item) for item in config]
    return config


def _read_description(archive, path):
    info = _member(archive, DESCRIPTION_MEMBER, path)
    if info.file_size > _MAX_DESCRIPTION_BYTES:
        raise SafeFormatError(f"{path}: {DESCRIPTION_MEMBER} is {info.file_size} bytes, "
                              f"more than a model description holds")
    try:
        description = json.loads(archive.read(info).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SafeFormatError(f"{path}: {DESCRIPTION_MEMBER} is not valid JSON: {error}") from error
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise SafeFormatError(f"{path} is a zip file but not a {SUFFIX} model "
                              f"(no '{FORMAT}' description)")
    if description.get("format_version") != FORMAT_VERSION:
        raise SafeFormatError(
            f"{path} has format version {description.get('format_version')!r}; this "
            f"fer-estimator reads version {FORMAT_VERSION}: upgrade fer-estimator")
    return description


def _member(archive, name, path):
    try:
        return archive.getinfo(name)
    except KeyError:
        raise SafeFormatError(f"{path} is not a {SUFFIX} model: it has no {name}") from None


def _extract(archive, name, target, path):
    """Copy one member to ``target``, refusing more bytes than a model can hold."""
    info = _member(archive, name, path)
    if info.file_size > _MAX_MEMBER_BYTES:
        raise SafeFormatError(f"{path}: {name} expands to {info.file_size} bytes; refused")
    with archive.open(info) as source, open(target, "wb") as destination:
        shutil.copyfileobj(source, destination, 1 << 20)


def _load_network(keras_file, path):
    import keras

    try:
        return keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad or unsafe file
        raise SafeFormatError(f"{path}: the network cannot be loaded safely: "
                              f"{type(error).__name__}: {error}") from error


def _build_model(description, network, path):
    steps = description.get("steps")
    if not isinstance(steps, list) or not steps:
        raise SafeFormatError(f"{path}: the description lists no pipeline steps")
    built = []
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if not isinstance(step, dict) or step.get("class") != ("FERClassifier" if last
                                                                else "PixelTransformer"):
            raise SafeFormatError(f"{path}: step {index} must be a "
                                  f"{'FERClassifier' if last else 'PixelTransformer'}; "
                                  f"the description says {step!r:.200}")
        maker = _classifier if last else _transformer
        built.append((step.get("name"), maker(step, network, path)))
    if not description.get("pipeline"):
        return built[-1][1]
    names = [name for name, _ in built]
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise SafeFormatError(f"{path}: invalid pipeline step names {names}")
    return Pipeline(built)


def _params(step, cls, path):
    params = step.get("params")
    if not isinstance(params, dict):
        raise SafeFormatError(f"{path}: {cls.__name__} has no parameter table")
    defaults = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SafeFormatError(f"{path}: unknown {cls.__name__} parameter(s) {unknown}; it was "
                              f"saved by another fer-estimator version")
    if any(params.get(key) is not None for key in _OBJECT_PARAMS):
        raise SafeFormatError(f"{path}: {cls.__name__} parameters {list(_OBJECT_PARAMS)} "
                              f"must be null in a {SUFFIX} file")
    # JSON turned tuples into lists: give back the type the default has (dense_units).
    return {key: tuple(value) if isinstance(defaults[key], tuple) and isinstance(value, list)
            else value for key, value in params.items()}


def _transformer(step, network, path):
    transformer = PixelTransformer(**_params(step, PixelTransformer, path))
    fitted = step.get("fitted") or {}
    for key in _TRANSFORMER_FITTED:
        value = fitted.get(key)
        if value is not None and not isinstance(value, (int, float)):
            raise SafeFormatError(f"{path}: PixelTransformer.{key} must be a number or null")
        setattr(transformer, key, value)
    return transformer


def _classifier(step, network, path):
    classes = step.get("classes")
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                       for c in classes)):
        raise SafeFormatError(f"{path}: the classifier's classes must be a list of at least "
                              f"two names or codes")
    outputs = network.output_shape[-1]
    if outputs != len(classes):
        raise SafeFormatError(f"{path}: the network has {outputs} outputs for "
                              f"{len(classes)} classes")
    classifier = FERClassifier(**_params(step, FERClassifier, path))
    # Set up the label encoding and metadata without training (as variants.py does), then
    # put the saved network in place of the freshly built one.
    image_shape = tuple(network.input_shape[1:])
    labels = np.array(classes)
    classifier.initialize(np.zeros((len(labels),) + image_shape, "float32"), labels)
    if list(classifier.classes_) != list(labels):
        raise SafeFormatError(f"{path}: the classes {classes} are not in sorted order")
    classifier.model_ = network
    classifier.precision_ = "float32"
    history = (step.get("fitted") or {}).get("history_") or {}
    classifier.history_ = {str(key): list(values) for key, values in history.items()
                           if isinstance(values, list)}
    return classifier
