"""The safe model format ``.fer.zip``: a fitted FER pipeline that loads without running code.

A ``.fer.zip`` file is a zip archive of a description and Keras networks:

- ``fer_estimator.json``: the pipeline around the networks: each step's registered class
  (:class:`~fer_estimator.PixelTransformer`, :class:`~fer_estimator.FERClassifier`, or one
  added with :func:`register_step`; and the soft ``VotingClassifier`` of an ensemble), its
  parameters and fitted state as plain JSON values, and the versions it was saved with;
- the networks, float32, without optimizer state, loaded with
  ``keras.saving.load_model(..., safe_mode=True)`` (which refuses lambda layers and any other
  serialised code): ``network.keras`` for a single model (format version 1), or one
  ``networks/<member name>.keras`` for each member of a
  :func:`~fer_estimator.soft_voting_ensemble` (format version 2);
- from format version 3 on, each network also as an ONNX graph beside it (``network.onnx``,
  ``networks/<member name>.onnx``: the same network without its augmentation layers), which
  :func:`fer_estimator.load_predictor` runs in onnxruntime without Keras. Files of versions 1
  and 2 still load; ``fer-estimator export OLD.fer.zip NEW.fer.zip`` adds the ONNX networks.

Nothing in it is unpickled, so a file from anyone can be loaded: at worst it fails to load or
predicts badly. Every part is bounded before it is read or built (:mod:`.limits`), every value
checked as it is rebuilt, with the file and the field named. Nor does loading build a network
of its own or draw anything at random: each classifier is set up around its saved network
(:meth:`~fer_estimator.FERClassifier.initialize_with_network`). joblib files (pickles) still
load through :func:`load` with ``trust=True``, or without it when they are files the package
ships (see :mod:`fer_estimator.manifest`), checked and unpickled from one read of the file.

One job per module: :mod:`.file_kind` (what a file is, from its first bytes),
:mod:`.archive` (zip members within bounds), :mod:`.limits` (the bounds), :mod:`.description`
(the JSON layout), :mod:`.networks` (Keras: bounded configs, float32 copies, shapes),
:mod:`.onnx_networks` (Keras networks as ONNX graphs), :mod:`.quantization` (their int8
copies), :mod:`.onnx_graphs` (a graph checked before onnxruntime reads it), :mod:`.steps` (the
step registry and its hooks), :mod:`.pipelines` and :mod:`.ensembles` (rebuilding scikit-learn
objects), :mod:`.model_file` (save, and load of any file kind).
"""

from .._lazy import attach
from .description import (
    DESCRIPTION_MEMBER,
    ENSEMBLE_NETWORK_MEMBER,
    ENSEMBLE_VERSION,
    FORMAT,
    FORMAT_VERSION,
    NETWORK_MEMBER,
    ONNX_VERSION,
    SINGLE_MODEL_VERSION,
    SUFFIX,
)
from .errors import SafeFormatError

# Saving and loading Keras networks (and the registry holding FERClassifier) load Keras: they
# import on first use, so that the ONNX runtime reads this package's description and archive
# modules without it.
_LAZY_NAMES = {"load": "model_file", "save": "model_file", "model_stem": "model_file",
               "register_step": "model_file", "STEP_TYPES": "model_file"}

__all__ = ["DESCRIPTION_MEMBER", "ENSEMBLE_NETWORK_MEMBER", "ENSEMBLE_VERSION", "FORMAT",
           "FORMAT_VERSION", "NETWORK_MEMBER", "ONNX_VERSION", "SINGLE_MODEL_VERSION",
           "STEP_TYPES", "SUFFIX", "SafeFormatError", "load", "model_stem", "register_step",
           "save"]

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
