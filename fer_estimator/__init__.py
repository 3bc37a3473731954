"""fer-estimator: facial expression recognition as a scikit-learn estimator.

The layers, each depending only on those before it:

- data: :func:`load_fer2013` (the Kaggle FER2013 CSV), :func:`make_synthetic_faces`;
- transform: :class:`PixelTransformer` (pixel strings, flat rows or images → normalised
  48×48 images);
- estimator: :class:`FERClassifier` (a Keras CNN with the scikit-learn API) and
  :func:`make_fer_pipeline` (transformer + classifier); :func:`save` and :func:`load` (the
  safe ``.fer.zip`` format, which never runs code from the file); :func:`soft_voting_ensemble`
  (fitted pipelines averaged as one scikit-learn ``VotingClassifier``); :func:`export` (a
  model as one ONNX graph, or a ``.fer.zip`` file with ONNX networks);
- runtime: :func:`load_predictor` (a saved model predicting in onnxruntime, without Keras or
  TensorFlow, when its file holds ONNX networks);
- face pipeline: :class:`FacePipeline` (detect every face in photos and videos, then classify);
- :mod:`fer_estimator.search`: Optuna hyperparameter search (:class:`FERSearchCV`); the
  repository keeps it in its top-level ``search/`` folder, which pyproject.toml maps into the
  package (a wheel and ``pip install -e .`` alike).

``import fer_estimator`` is quick: the names below load their module (and Keras, TensorFlow,
OpenCV...) on first use, through the module-level ``__getattr__`` (PEP 562), as scikit-learn
and Optuna do.
"""

from ._lazy import attach
from .labels import EMOTIONS, EMOTIONS_6

# Public name -> the submodule that defines it, imported on first access.
_LAZY_NAMES = {
    "FERClassifier": "classifier",
    "FacePipeline": "faces",
    "export": "export",
    "PixelTransformer": "transform",
    "load_fer2013": "data",
    "load": "safe_format",
    "load_joblib": "persistence",
    "load_predictor": "runtime",
    "make_fer_pipeline": "pipeline",
    "make_synthetic_faces": "synthetic",
    "parse_pixel_strings": "data",
    "save": "safe_format",
    "soft_voting_ensemble": "ensemble",
}

# A list literal, sorted in place, so that linters see the re-exported names.
__all__ = ["EMOTIONS", "EMOTIONS_6", *_LAZY_NAMES]
__all__.sort()

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
