"""fer-estimator: facial expression recognition as a scikit-learn estimator.

The layers, each depending only on those before it:

- data: :func:`load_fer2013` (the Kaggle FER2013 CSV), :func:`make_synthetic_faces`;
- transform: :class:`PixelTransformer` (pixel strings, flat rows or images → normalised
  48×48 images);
- estimator: :class:`FERClassifier` (a Keras CNN with the scikit-learn API) and
  :func:`make_fer_pipeline` (transformer + classifier); :func:`save` and :func:`load` (the
  safe ``.fer.zip`` format, which never runs code from the file); :func:`soft_voting_ensemble`
  (fitted pipelines averaged as one scikit-learn ``VotingClassifier``);
- face pipeline: :class:`FacePipeline` (detect every face in photos and videos, then classify);
- :mod:`fer_estimator.search`: Optuna hyperparameter search (:class:`FERSearchCV`).

``import fer_estimator`` is quick: the names below load their module (and Keras, TensorFlow,
OpenCV...) on first use, through the module-level ``__getattr__`` (PEP 562), as scikit-learn
and Optuna do.
"""

from ._lazy import attach
from ._paths import checkout_search_dir, map_subpackage
from .labels import EMOTIONS, EMOTIONS_6

# Public name -> the submodule that defines it, imported on first access.
_LAZY_NAMES = {
    "FERClassifier": "classifier",
    "FacePipeline": "faces",
    "PixelTransformer": "transform",
    "load_fer2013": "data",
    "load": "safe_format",
    "load_joblib": "persistence",
    "make_fer_pipeline": "pipeline",
    "make_synthetic_faces": "synthetic",
    "parse_pixel_strings": "data",
    "save": "safe_format",
    "soft_voting_ensemble": "ensemble",
}

__all__ = sorted(["EMOTIONS", "EMOTIONS_6", *_LAZY_NAMES])

# In a source checkout the repository's top-level search/ folder is this package's `search`
# subpackage, as pyproject.toml maps it for installs (run without installing, or with the
# repository on sys.path ahead of an editable install's finder). Only that folder is mapped:
# the checkout's other folders (fer_estimator/ itself, scripts/, tests/) stay out of the package.
if checkout_search_dir() is not None:
    map_subpackage(f"{__name__}.search", checkout_search_dir())


__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
