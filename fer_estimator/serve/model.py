"""The one place where ``serve`` and ``live`` load a saved model, and the pipeline around it.

:func:`load_estimator` is the only function that reads a model file; only the command line's
``--model`` reaches it (never a client's request). Keras loads with a model on the Keras
runtime only, never with this module.
"""

import threading

from .._paths import DEFAULT_MODEL_PATH
from ..faces import FacePipeline
from ..runtime import load_predictor


def load_estimator(path=None, trust=False, runtime="auto"):
    """Load the fitted FER estimator saved at ``path`` (default: the shipped model), on the
    ``runtime`` of :func:`fer_estimator.load_predictor` (ONNX when the file allows it).

    A ``.fer.zip`` file never runs code; a pickle (joblib) file needs ``trust=True`` unless
    the package ships it (see :func:`fer_estimator.load`).
    """
    path = DEFAULT_MODEL_PATH if path is None else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file there")
    return load_predictor(path, runtime=runtime, trust=trust)


class SerialEstimator:
    """A fitted estimator whose ``predict_proba`` runs one call at a time.

    Face detection and cropping run in parallel threads (OpenCV releases the GIL); the model
    call is serialised because Keras models are not safe to call from several threads at
    once, and one call (Keras' or onnxruntime's) already uses every core.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.classes_ = estimator.classes_
        self._lock = threading.Lock()

    def predict_proba(self, X):
        with self._lock:
            return self.estimator.predict_proba(X)


def make_face_pipeline(estimator, **params):
    """A :class:`FacePipeline` around a loaded estimator, warmed up with one blank image.

    Parameters
    ----------
    estimator : fitted classifier
        From :func:`load_estimator`, or wrapped in :class:`SerialEstimator` when several
        threads share it.
    **params
        Other :class:`FacePipeline` parameters (``detector``, ``min_face_size``...).
    """
    pipeline = FacePipeline(estimator, **params)
    # Fails now, not at the first request, when the detector or model cannot work; and builds
    # the model's predict function once.
    return pipeline.warm_up()
