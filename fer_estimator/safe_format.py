"""The safe model format ``.fer.zip``: a fitted FER pipeline that loads without running code.

A ``.fer.zip`` file is a zip archive of a description and Keras networks:

- ``fer_estimator.json``: the pipeline around the networks: each step's class (only
  :class:`~fer_estimator.PixelTransformer` and :class:`~fer_estimator.FERClassifier`, and
  the soft ``VotingClassifier`` of an ensemble), its parameters and fitted statistics as plain
  JSON values, the classes, and the versions it was saved with;
- the networks, float32, without optimizer state, loaded with
  ``keras.saving.load_model(..., safe_mode=True)`` (which refuses lambda layers and any other
  serialised code): ``network.keras`` for a single model (format version 1), or one
  ``networks/<member name>.keras`` for each member of a
  :func:`~fer_estimator.soft_voting_ensemble` (format version 2). The description lists the
  ensemble's shared preprocessing steps, then a ``VotingClassifier`` step whose ``members``
  are FERClassifier descriptions; loading rebuilds the member pipelines and hands them to
  ``soft_voting_ensemble``, so the ``FrozenEstimator`` wrappers are implied, not stored.

Nothing in it is unpickled, so a file from anyone can be loaded: at worst it fails to load or
predicts badly. Nor does loading build a network of its own or draw anything at random: each
classifier is set up around its saved network
(:meth:`~fer_estimator.FERClassifier.initialize_with_network`), whatever sizes its parameters
name. A file beyond what any FER model needs is refused: networks of more than 256 MiB
together, a member expanding more than 100 times, encrypted or compressed otherwise than
deflate, a description nested more than 32 levels deep, images over 1024 pixels a side or 4
channels, more than 1000 classes. joblib files (pickles) still load through :func:`load` with
``trust=True``, or without it when they are files the package ships (see
:mod:`fer_estimator.manifest`), checked and unpickled from one read of the file.
"""

import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from ._versions import check_saved_versions, current_versions
from .classifier import FERClassifier
from .ensemble import is_ensemble, soft_voting_ensemble
from .manifest import load_trusted_joblib
from .persistence import write_atomically
from .transform import PixelTransformer

SUFFIX = ".fer.zip"
FORMAT = "fer-estimator.safe-model"
# Version 1 holds a single model; version 2 added ensembles. A single model is still written
# as version 1, the layout it has always had, so releases that read version 1 only load it.
SINGLE_MODEL_VERSION = 1
ENSEMBLE_VERSION = 2
FORMAT_VERSION = ENSEMBLE_VERSION  # the newest: load reads versions 1 to FORMAT_VERSION
NETWORK_MEMBER = "network.keras"
DESCRIPTION_MEMBER = "fer_estimator.json"
ENSEMBLE_NETWORK_MEMBER = "networks/{}.keras"
# An ensemble member's name becomes part of an archive member's name: no separators, no
# leading dot, nothing an unzip tool could read as a path elsewhere.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The only classes a file may name, with their fitted attributes kept in the description.
STEP_CLASSES = {"PixelTransformer": PixelTransformer, "FERClassifier": FERClassifier}
_TRANSFORMER_FITTED = ("mean_", "scale_")
# Parameters that hold Python objects in general: the safe format keeps them at None.
_OBJECT_PARAMS = ("model", "build_fn", "callbacks")
# What a file may hold. The networks of a file together: the shipped network is 7.3 MB, an
# ensemble a few such, so this is room to spare while a tampered file cannot fill /tmp.
_MAX_NETWORK_BYTES = 256 << 20
_MAX_DESCRIPTION_BYTES = 16 << 20
# Members are stored or deflated, not encrypted; a member expanding more than this many times
# (once larger than the floor) is a zip bomb: a Keras network hardly compresses at all.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_MAX_COMPRESSION_RATIO = 100
_COMPRESSION_RATIO_FLOOR = 1 << 20
# A description nests about 8 levels; deeper ones are refused before anything recurses on them.
_MAX_NESTING = 32
# Bounds on what the description and the networks describe: images of up to 1024 pixels a side
# with 1 (grey) to 4 channels, and 2 to 1000 classes.
_MAX_IMAGE_SIDE = 1024
_MAX_CHANNELS = 4
_MAX_CLASSES = 1000


class SafeFormatError(ValueError):
    """A model cannot be saved in, or a file cannot be loaded from, the safe format."""


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

        - a Pipeline of :class:`PixelTransformer` steps ending in a :class:`FERClassifier`
          (the 6-class variant of :mod:`fer_estimator.variants` too), or a bare
          FERClassifier: written as format version 1, which every release reads;
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
    steps, networks = _describe_ensemble(model) if ensemble else _describe_pipeline(model)
    description = {
        "format": FORMAT,
        "format_version": ENSEMBLE_VERSION if ensemble else SINGLE_MODEL_VERSION,
        "pipeline": isinstance(model, Pipeline),
        "steps": steps,
        "versions": current_versions(),
    }
    networks = {member: _float32_copy(network) for member, network in networks.items()}

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
        A zip file that is not a valid ``.fer.zip`` model, or one beyond the format's limits
        (see the module's description).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if not _starts_as_zip(path):
        # Read once: the bytes whose SHA-256 is checked are the bytes unpickled.
        return load_trusted_joblib(path, trust)
    try:
        with zipfile.ZipFile(path) as archive:
            description = _read_description(archive, path)
            networks = _load_networks(archive, _network_members(description, path), path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SafeFormatError(f"{path} is not a readable {SUFFIX} model file: {error}") from error
    check_saved_versions(description.get("versions") or {}, f"model file {path}")
    if _vote_step(description) is not None:
        return _build_ensemble(description, networks, path)
    return _build_pipeline(description.get("steps"), networks[NETWORK_MEMBER], path,
                           pipeline=description.get("pipeline"))


def _starts_as_zip(path):
    # Not zipfile.is_zipfile: it looks for a zip directory at the end of the file, and a
    # joblib file of a Keras model ends with one (the pickled network's .keras bytes).
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04"


def _describe_pipeline(model):
    """The description of a pipeline's (or a bare classifier's) steps, and its network by
    archive member."""
    steps = model.steps if isinstance(model, Pipeline) else [(None, model)]
    described = [_describe_step(name, step, last=index == len(steps) - 1)
                 for index, (name, step) in enumerate(steps)]
    return described, {NETWORK_MEMBER: steps[-1][1].model_}


def _describe_ensemble(model):
    """The description of a :func:`soft_voting_ensemble` pipeline: its shared steps, then the
    vote step listing the members' classifiers; and the members' networks by archive member."""
    *shared, (vote_name, vote) = model.steps
    # The file records none of the VotingClassifier's parameters: loading rebuilds the vote
    # with soft_voting_ensemble, so they must be the ones it sets.
    expected = VotingClassifier(vote.estimators, voting="soft").get_params(deep=False)
    changed = [f"{key}={value!r}" for key, value in vote.get_params(deep=False).items()
               if type(value) is not type(expected[key]) or value != expected[key]]
    if vote_name != "vote" or changed:
        raise SafeFormatError(
            f"the safe format holds ensembles as soft_voting_ensemble builds them (a soft "
            f"VotingClassifier with default parameters, step 'vote'); this one has step "
            f"{vote_name!r}{''.join(', ' + change for change in changed)}. Save it with "
            f"fer_estimator.persistence.dump_joblib instead")
    if not hasattr(vote, "estimators_"):
        raise SafeFormatError("the VotingClassifier is not fitted: build the ensemble with "
                              "soft_voting_ensemble")
    names = [name for name, _ in vote.estimators]
    _check_member_names(names, "cannot save the ensemble")
    classifiers = [_unfrozen(name, member) for name, member in vote.estimators]
    described = [_describe_step(name, _unfrozen(name, step), last=False)
                 for name, step in shared]
    described.append({"name": vote_name, "class": "VotingClassifier",
                      "members": [_describe_step(name, classifier, last=True)
                                  for name, classifier in zip(names, classifiers)]})
    return described, {ENSEMBLE_NETWORK_MEMBER.format(name): classifier.model_
                       for name, classifier in zip(names, classifiers)}


def _unfrozen(name, step):
    if not isinstance(step, FrozenEstimator):
        raise SafeFormatError(
            f"the safe format holds ensembles as soft_voting_ensemble builds them, each step "
            f"in a FrozenEstimator; {name!r} is a {type(step).__module__}."
            f"{type(step).__name__}. Save it with fer_estimator.persistence.dump_joblib instead")
    return step.estimator


def _check_member_names(names, context):
    """Refuse ensemble member names that cannot name a network file, with ``context`` first."""
    if len(names) < 2:
        raise SafeFormatError(f"{context}: an ensemble has at least two members, "
                              f"this one {len(names)}")
    for name in names:
        if not isinstance(name, str) or not _MEMBER_NAME.fullmatch(name):
            raise SafeFormatError(
                f"{context}: invalid ensemble member name {name!r}; a name is 1 to 64 letters, "
                f"digits, '_', '-' or '.', starting with a letter or digit (it names the file "
                f"{ENSEMBLE_NETWORK_MEMBER.format('<name>')} in the archive)")
    if len(set(names)) != len(names):
        raise SafeFormatError(f"{context}: the ensemble member names {names} repeat")


def _describe_step(name, step, last):
    kind = type(step).__name__
    if STEP_CLASSES.get(kind) is not type(step) or (kind == "FERClassifier") != last:
        raise SafeFormatError(
            f"the safe format holds a Pipeline of PixelTransformer steps ending in a "
            f"FERClassifier, or a soft_voting_ensemble of such pipelines; step {name!r} is a "
            f"{type(step).__module__}.{kind}. Save this model with "
            f"fer_estimator.persistence.dump_joblib instead")
    params = step.get_params(deep=False)
    if params.get("init_model") is not None:
        # Its weights are in the network already: a path is kept as a record, a model object
        # (not storable) dropped.
        init_model = params["init_model"]
        params["init_model"] = os.fspath(init_model) if isinstance(init_model, (str, os.PathLike)) \
            else None
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
    except RecursionError:
        raise SafeFormatError(f"{path}: {DESCRIPTION_MEMBER} is nested too deeply to be a "
                              f"model description") from None
    if _nesting(description) > _MAX_NESTING:
        raise SafeFormatError(f"{path}: {DESCRIPTION_MEMBER} is nested more than {_MAX_NESTING} "
                              f"levels deep, which no model description is")
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise SafeFormatError(f"{path} is a zip file but not a {SUFFIX} model "
                              f"(no '{FORMAT}' description)")
    version = description.get("format_version")
    if type(version) is not int or version not in range(SINGLE_MODEL_VERSION, FORMAT_VERSION + 1):
        raise SafeFormatError(
            f"{path} has format version {version!r:.50}; this fer-estimator reads versions "
            f"{SINGLE_MODEL_VERSION} to {FORMAT_VERSION}: upgrade fer-estimator")
    versions = description.get("versions")
    if versions is not None and not (isinstance(versions, dict) and all(
            isinstance(key, str) and isinstance(value, str) for key, value in versions.items())):
        raise SafeFormatError(f"{path}: 'versions' must map package names to version strings; "
                              f"it is {versions!r:.200}")
    if not isinstance(description.get("pipeline"), bool):
        raise SafeFormatError(f"{path}: 'pipeline' must be true or false; it is "
                              f"{description.get('pipeline')!r:.200}")
    return description


def _nesting(value):
    """How deeply lists and dicts nest in a JSON value (0 for a number or a string), counted
    without recursion, and no further than one level past :data:`_MAX_NESTING`."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= _MAX_NESTING:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1)
                           for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _vote_step(description):
    """An ensemble's vote step (the last), or None for a single model."""
    steps = description.get("steps")
    last = steps[-1] if isinstance(steps, list) and steps else None
    return last if isinstance(last, dict) and last.get("class") == "VotingClassifier" else None


def _network_members(description, path):
    """The archive members holding the description's networks, in the order of its members."""
    vote = _vote_step(description)
    if vote is None:
        return [NETWORK_MEMBER]
    members = vote.get("members")
    if not isinstance(members, list) or not all(isinstance(member, dict) for member in members):
        raise SafeFormatError(f"{path}: the ensemble's vote step has no list of members")
    names = [member.get("name") for member in members]
    _check_member_names(names, str(path))
    return [ENSEMBLE_NETWORK_MEMBER.format(name) for name in names]


def _load_networks(archive, members, path):
    """The networks in ``members``, by member; refuse an archive holding anything more."""
    infos = [_member(archive, member, path) for member in members]
    total = sum(info.file_size for info in infos)
    if total > _MAX_NETWORK_BYTES:
        raise SafeFormatError(f"{path}: the networks expand to {total} bytes, more than "
                              f"{_MAX_NETWORK_BYTES} (no FER network is that large); refused")
    unnamed = sorted(info.filename for info in archive.infolist() if not info.is_dir()
                     and info.filename not in {DESCRIPTION_MEMBER, *members})
    if unnamed:
        raise SafeFormatError(f"{path}: the archive holds {unnamed}, which its description "
                              f"does not name")
    networks = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, member in enumerate(members):
            keras_file = Path(folder) / f"network{index}.keras"
            _extract(archive, member, keras_file, path)
            networks[member] = _load_network(keras_file, member, path)
    return networks


def _member(archive, name, path):
    """The member ``name``, refused unless it is stored or deflated, unencrypted and no zip
    bomb (zipfile reads no more than the ``file_size`` checked here)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SafeFormatError(f"{path} is not a {SUFFIX} model: it has no {name}") from None
    if info.flag_bits & 0x1:
        raise SafeFormatError(f"{path}: {name} is encrypted, which no {SUFFIX} member is")
    if info.compress_type not in _COMPRESSIONS:
        raise SafeFormatError(f"{path}: {name} uses compression method {info.compress_type}; "
                              f"the members of a {SUFFIX} file are stored or deflated")
    if (info.file_size > _COMPRESSION_RATIO_FLOOR
            and info.file_size > _MAX_COMPRESSION_RATIO * info.compress_size):
        raise SafeFormatError(
            f"{path}: {name} expands {info.file_size // max(info.compress_size, 1)} times "
            f"({info.compress_size} to {info.file_size} bytes), more than {_MAX_COMPRESSION_RATIO} "
            f"times: not a model's member; refused")
    return info


def _extract(archive, name, target, path):
    """Copy one member to ``target``, refusing more bytes than a model can hold."""
    info = _member(archive, name, path)
    if info.file_size > _MAX_NETWORK_BYTES:
        raise SafeFormatError(f"{path}: {name} expands to {info.file_size} bytes; refused")
    with archive.open(info) as source, open(target, "wb") as destination:
        shutil.copyfileobj(source, destination, 1 << 20)


def _load_network(keras_file, member, path):
    import keras

    try:
        return keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad or unsafe file
        raise SafeFormatError(f"{path}: the network {member} cannot be loaded safely: "
                              f"{type(error).__name__}: {error}") from error


def _build_ensemble(description, networks, path):
    """The ensemble as soft_voting_ensemble builds it, from the member pipelines rebuilt from
    the shared steps and each member's classifier."""
    *shared, vote = description["steps"]
    names = [member["name"] for member in vote["members"]]  # checked by _network_members
    # Each member pipeline ends in a step named as the ensemble's last, which no shared step
    # can share (soft_voting_ensemble keeps the classifiers only, under the member names);
    # its errors name the member after the file.
    pipelines = [_build_pipeline([*shared, {**member, "name": "vote"}],
                                 networks[ENSEMBLE_NETWORK_MEMBER.format(name)],
                                 f"{path}, ensemble member {name!r}", pipeline=True)
                 for name, member in zip(names, vote["members"])]
    shapes = {name: tuple(pipeline[-1].model_.input_shape[1:])
              for name, pipeline in zip(names, pipelines)}
    if len(set(shapes.values())) > 1:
        raise SafeFormatError(f"{path}: the ensemble's networks take images of different "
                              f"shapes: {shapes}")
    try:
        return soft_voting_ensemble(pipelines, names=names)
    except ValueError as error:  # members that disagree on their classes, names sklearn refuses
        raise SafeFormatError(f"{path}: the ensemble cannot be rebuilt: {error}") from error


def _build_pipeline(steps, network, path, pipeline):
    """A Pipeline of ``steps`` (or its one classifier unless ``pipeline``) around ``network``."""
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
    if not pipeline:
        if len(built) != 1:
            raise SafeFormatError(f"{path}: a bare classifier is exactly one step; the "
                                  f"description lists {len(built)}")
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


def _check_network_shapes(network, n_classes, path):
    """Refuse a network that does not take images of bounded size or does not output one
    probability per class."""
    input_shape, output_shape = _shape(network, "input_shape"), _shape(network, "output_shape")
    if not (isinstance(input_shape, tuple) and len(input_shape) == 4 and input_shape[0] is None
            and all(type(size) is int and 1 <= size <= _MAX_IMAGE_SIDE
                    for size in input_shape[1:3])
            and type(input_shape[3]) is int and 1 <= input_shape[3] <= _MAX_CHANNELS):
        raise SafeFormatError(
            f"{path}: the network has input shape {input_shape!r:.200}; a FER network takes "
            f"images (None, height, width, channels) of 1 to {_MAX_IMAGE_SIDE} pixels a side "
            f"and 1 to {_MAX_CHANNELS} channels")
    if not (isinstance(output_shape, tuple) and len(output_shape) == 2
            and output_shape[0] is None):
        raise SafeFormatError(f"{path}: the network has output shape {output_shape!r:.200}; a "
                              f"FER network outputs (None, number of classes)")
    if output_shape[1] != n_classes:
        raise SafeFormatError(f"{path}: the network has {output_shape[1]} outputs for "
                              f"{n_classes} classes")


def _shape(network, name):
    """The network's ``input_shape`` or ``output_shape`` (None when it has none to give)."""
    try:
        return getattr(network, name)
    except Exception:  # Keras raises several types for a model it cannot say it of
        return None


def _transformer(step, network, path):
    transformer = PixelTransformer(**_params(step, PixelTransformer, path))
    fitted = _table(step.get("fitted"), "PixelTransformer's 'fitted'", path)
    for key in _TRANSFORMER_FITTED:
        value = fitted.get(key)
        if value is not None and not isinstance(value, (int, float)):
            raise SafeFormatError(f"{path}: PixelTransformer.{key} must be a number or null")
        setattr(transformer, key, value)
    return transformer


def _classifier(step, network, path):
    classes = step.get("classes")
    if (not isinstance(classes, list)
            or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                       for c in classes)):
        raise SafeFormatError(f"{path}: the classifier's classes must be a list of names or "
                              f"codes")
    if not 2 <= len(classes) <= _MAX_CLASSES:
        raise SafeFormatError(f"{path}: the classifier has {len(classes)} classes; a model has "
                              f"2 to {_MAX_CLASSES}")
    _check_network_shapes(network, len(classes), path)
    classifier = FERClassifier(**_params(step, FERClassifier, path))
    # Set up the label encoding and metadata around the saved network, without building,
    # training or seeding anything.
    try:
        classifier.initialize_with_network(network, classes)
    except (ValueError, TypeError) as error:  # parameters out of range (sklearn's message)
        raise SafeFormatError(f"{path}: {error}") from error
    if list(classifier.classes_) != classes:
        raise SafeFormatError(f"{path}: the classes {classes!r:.200} are not in sorted order")
    classifier.precision_ = "float32"
    fitted = _table(step.get("fitted"), "FERClassifier's 'fitted'", path)
    history = _table(fitted.get("history_"), "FERClassifier's 'history_'", path)
    classifier.history_ = {str(key): list(values) for key, values in history.items()
                           if isinstance(values, list)}
    return classifier


def _table(value, what, path):
    """``value``, a JSON object (``{}`` for null), or refuse it naming ``what``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SafeFormatError(f"{path}: {what} must be a table (a JSON object); it is "
                              f"{value!r:.200}")
    return value
