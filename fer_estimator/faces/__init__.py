"""Emotions of every face in photos and videos: detection, cropping, batched classification.

``import fer_estimator.faces`` loads neither the pipeline nor Keras: the names below load their
module on first use, and Keras loads only when a model is read from a file.
"""

from .._lazy import attach

# Public name -> the submodule that defines it, imported on first access.
_LAZY_NAMES = {
    "DETECTORS": "detectors",
    "Face": "results",
    "FaceDetector": "detectors",
    "FacePipeline": "pipeline",
    "FaceResults": "results",
    "ImageFaces": "results",
    "register_detector": "detectors",
}

__all__ = ["DETECTORS", "Face", "FaceDetector", "FacePipeline", "FaceResults", "ImageFaces",
           "register_detector"]

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
