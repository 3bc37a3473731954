"""fer-estimator: facial expression recognition as a scikit-learn estimator.

The layers, each depending only on those before it:

- data: :func:`load_fer2013` (the Kaggle FER2013 CSV), :func:`make_synthetic_faces`;
- transform: :class:`PixelTransformer` (pixel strings, flat rows or images → normalised
  48×48 images);
- estimator: :class:`FERClassifier` (a Keras CNN with the scikit-learn API) and
  :func:`make_fer_pipeline` (transformer + classifier); :func:`save` and :func:`load` (the
  safe ``.fer.zip`` format, which never runs code from the file);
- face pipeline: :class:`FacePipeline` (detect every face in photos and videos, then classify).
"""

from .classifier import FERClassifier
from .data import load_fer2013, parse_pixel_strings
from .faces import FacePipeline
from .labels import EMOTIONS, EMOTIONS_6
from .persistence import load_joblib
from .pipeline import make_fer_pipeline
from .safe_format import load, save
from .synthetic import make_synthetic_faces
from .transform import PixelTransformer

__all__ = [
    "EMOTIONS",
    "EMOTIONS_6",
    "FERClassifier",
    "FacePipeline",
    "PixelTransformer",
    "load",
    "load_fer2013",
    "load_joblib",
    "make_fer_pipeline",
    "make_synthetic_faces",
    "parse_pixel_strings",
    "save",
]
