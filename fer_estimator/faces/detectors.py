"""Face detectors, registered by name: OpenCV's Haar cascade, YuNet, or any callable.

Every detector is a callable ``detector(bgr_image) -> (boxes, scores)`` where ``boxes`` is an int
array of shape (n, 4) holding ``(x, y, w, h)`` in the image's pixels, clipped to the image, and
``scores`` a float array of shape (n,).

:data:`DETECTORS` maps a name to its class; it is the one list of detectors: ``FacePipeline``
takes its names, the command line's ``--detector`` offers them and the benchmarks measure them.
A new detector is a subclass of :class:`FaceDetector` with a ``name``, its parameters and
:meth:`~FaceDetector.detect`, registered with :func:`register_detector`.

The registered detectors look for faces on a downscaled copy: detecting faces of at least ``m``
pixels in an image is the same work as detecting faces of the detector's own size in a copy
shrunk by ``size / m``, and much faster. It also keeps the cascade from reporting the many small
false faces it finds in the texture of large photos.
"""

import inspect
import os
from abc import ABC, abstractmethod
from importlib.resources import files
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from .._validation import Interval, check_params

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# OpenCV Zoo's YuNet (MIT licence, yunet/LICENSE beside it), shipped inside the package.
SHIPPED_YUNET_MODEL = files(__package__) / "yunet" / "face_detection_yunet_2026may.onnx"
# The smallest face YuNet finds reliably (its finest anchors are about 10-16 pixels).
YUNET_NATIVE_FACE = 24
# OpenCV decodes no image with a side over 2**20 pixels: no face can be larger.
LARGEST_FACE = 2**20

DETECTORS = {}
# FacePipeline's and the command line's: it found every marked face of the README's photos.
DEFAULT_DETECTOR = "yunet"


def register_detector(cls):
    """Class decorator: offer a :class:`FaceDetector` subclass under its ``name``.

    ``FacePipeline(detector=name)`` then builds it, passing the pipeline's parameters that its
    ``__init__`` takes by name, and ``--detector`` offers it on the command line.
    """
    if not (isinstance(cls, type) and issubclass(cls, FaceDetector)):
        raise TypeError(f"register_detector takes a FaceDetector subclass, got {cls!r}")
    if not isinstance(cls.name, str) or not cls.name:
        raise TypeError(f"{cls.__name__}.name must be a non-empty string, got {cls.name!r}")
    DETECTORS[cls.name] = cls
    return cls


def detector_class(name):
    """The registered class of the detector ``name``.

    Raises
    ------
    ValueError
        No detector is registered under ``name``; the message lists those that are.
    """
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"The 'detector' parameter must be one of {sorted(DETECTORS)} or a "
                         f"callable image -> boxes. Got {name!r} instead.") from None


def make_detector(detector, params):
    """Build the detector ``detector`` (a registered name, or a callable ``image -> boxes``).

    Parameters
    ----------
    detector : str or callable
    params : dict
        Parameters by name (a ``FacePipeline``'s); a registered class gets those its
        ``__init__`` takes.
    """
    if callable(detector):
        return CallableDetector(detector)
    cls = detector_class(detector)
    taken = inspect.signature(cls).parameters
    return cls(**{name: value for name, value in params.items() if name in taken})


def min_face_pixels(image_shape, min_face_size, min_face_fraction):
    """The smallest face to look for in an image: the larger of the two minimums, in pixels."""
    return max(float(min_face_size), min_face_fraction * min(image_shape[:2]))


def _downscaled(image, scale):
    """Shrink ``image`` by ``scale`` (never enlarge) and return it with the box ratio back."""
    if scale < 1.0:
        # Sides of at least one pixel: with fx/fy, a 1x400 strip would round to 0 rows and
        # make OpenCV fail.
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    else:
        small = image
    # The exact per-axis ratio: resize rounds the copy's sides.
    back = np.array([image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]] * 2)
    return small, back


def _clip_boxes(boxes, scores, image_shape):
    """Round ``(x, y, w, h)`` boxes to ints and clip them to the image; drop the empty ones and
    those with a NaN or infinite coordinate (which no pixel holds)."""
    height, width = image_shape[:2]
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(scores, dtype=float).reshape(-1)
    finite = np.isfinite(boxes).all(axis=1)
    boxes, scores = boxes[finite], scores[finite]
    x0 = np.clip(np.rint(boxes[:, 0]), 0, width)
    y0 = np.clip(np.rint(boxes[:, 1]), 0, height)
    x1 = np.clip(np.rint(boxes[:, 0] + boxes[:, 2]), 0, width)
    y1 = np.clip(np.rint(boxes[:, 1] + boxes[:, 3]), 0, height)
    clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(int)
    keep = (clipped[:, 2] > 0) & (clipped[:, 3] > 0)
    return clipped[keep], scores[keep]


class FaceDetector(ABC):
    """Base of the registered detectors: the smallest face to look for, and the downscaling.

    A subclass sets ``name`` (what :func:`register_detector` registers it under), adds its own
    parameters to ``__init__`` and ``_parameter_constraints``, and implements :meth:`detect`.

    Parameters
    ----------
    min_face_size : float, default=48
        Smallest face to find, in pixels of the original image.
    min_face_fraction : float, default=0.05
        Smallest face to find, as a fraction of the image's shorter side.
    """

    name = None
    _parameter_constraints: ClassVar[dict] = {
        "min_face_size": [Interval(Real, 1, LARGEST_FACE, closed="both")],
        "min_face_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, min_face_size=48, min_face_fraction=0.05):
        self.min_face_size = min_face_size
        self.min_face_fraction = min_face_fraction

    def _check_params(self):
        check_params(self._parameter_constraints,
                     {name: getattr(self, name) for name in self._parameter_constraints},
                     type(self).__name__)

    @abstractmethod
    def native_face_size(self):
        """The face size, in pixels, that the detector finds without upscaling: images are
        shrunk until the smallest face to look for has this size."""

    @abstractmethod
    def detect(self, image, min_face):
        """Find faces of at least ``min_face`` pixels in a BGR image (the downscaled copy).

        Returns
        -------
        boxes : array-like of shape (n, 4)
            ``(x, y, w, h)`` in ``image``'s pixels (floats; any outside the image are clipped).
        scores : array-like of shape (n,)
        """

    def __call__(self, image):
        min_face = min_face_pixels(image.shape, self.min_face_size, self.min_face_fraction)
        scale = min(1.0, self.native_face_size() / min_face)
        small, back = _downscaled(image, scale)
        boxes, scores = self.detect(small, min_face * scale)
        return _clip_boxes(np.asarray(boxes, dtype=float).reshape(-1, 4) * back, scores,
                           image.shape)


@register_detector
class HaarDetector(FaceDetector):
    """OpenCV's bundled frontal-face Haar cascade.

    Parameters
    ----------
    scale_factor : float, default=1.1
        Step between the scales of the image pyramid (``detectMultiScale``'s ``scaleFactor``),
        in (1, 4].
    min_neighbors : int, default=5
        Overlapping raw detections a face needs to be kept (``minNeighbors``).
    min_face_size, min_face_fraction
        As in :class:`FaceDetector`.

    Notes
    -----
    The score of a face is the number of raw detections merged into it.
    """

    name = "haar"
    _parameter_constraints: ClassVar[dict] = {
        **FaceDetector._parameter_constraints,
        "scale_factor": [Interval(Real, 1, 4, closed="right")],
        "min_neighbors": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, scale_factor=1.1, min_neighbors=5, min_face_size=48,
                 min_face_fraction=0.05):
        super().__init__(min_face_size=min_face_size, min_face_fraction=min_face_fraction)
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self._check_params()
        self._cascade = _load_haar_cascade()

    def native_face_size(self):
        return min(self._cascade.getOriginalWindowSize())

    def detect(self, image, min_face):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        # Evens out lighting; OpenCV's own face-detection sample does the same.
        gray = cv2.equalizeHist(gray)
        min_size = max(self.native_face_size(), round(min_face))
        boxes, neighbours = self._cascade.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size))
        return boxes, neighbours


def _load_haar_cascade():
    hint = ("detector='haar' needs the Haar cascades bundled with OpenCV 4.x wheels "
            "(OpenCV 5 dropped them): pip install 'opencv-python-headless<5', "
            "or use detector='yunet'")
    cascades = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cascades is None or not hasattr(cv2, "CascadeClassifier"):
        raise OSError(f"this OpenCV build ({cv2.__version__}) has no Haar cascades; {hint}")
    path = Path(cascades) / HAAR_CASCADE
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise OSError(f"cannot load the Haar cascade {path}; {hint}")
    return cascade


@register_detector
class YuNetDetector(FaceDetector):
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``), a small CNN from OpenCV Zoo.

    Parameters
    ----------
    yunet_model : str, Path or None, default=None
        A YuNet ONNX file (``face_detection_yunet_*.onnx`` from OpenCV Zoo); None: the one the
        package ships.
    score_threshold : float, default=0.6
        Faces scoring below this confidence are dropped (the README's table measures it).
    min_face_size, min_face_fraction
        As in :class:`FaceDetector`.

    Notes
    -----
    The score of a face is YuNet's confidence in [0, 1].
    """

    name = "yunet"
    _parameter_constraints: ClassVar[dict] = {
        **FaceDetector._parameter_constraints,
        "yunet_model": [str, os.PathLike, None],
        "score_threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, yunet_model=None, score_threshold=0.6, min_face_size=48,
                 min_face_fraction=0.05):
        super().__init__(min_face_size=min_face_size, min_face_fraction=min_face_fraction)
        self.yunet_model = yunet_model
        self.score_threshold = score_threshold
        self._check_params()
        path = Path(SHIPPED_YUNET_MODEL if yunet_model is None else yunet_model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no YuNet model file there (yunet_model=None "
                                    "uses the one the package ships)")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise OSError(f"detector='yunet' needs OpenCV >= 4.8 (cv2.FaceDetectorYN); "
                               f"this is {cv2.__version__}")
        try:
            # The input size is a placeholder: detect sets it for every image.
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except cv2.error as error:
            raise ValueError(f"{path}: not a YuNet ONNX model OpenCV can load ({error})") from None

    def native_face_size(self):
        return YUNET_NATIVE_FACE

    def detect(self, image, min_face):
        self._net.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self._net.detect(image)
        if faces is None:
            return np.empty((0, 4)), np.empty(0)
        return faces[:, :4], faces[:, -1]


class CallableDetector:
    """Wraps a user's ``detector(bgr_image) -> boxes`` and checks what it returns.

    The callable gets the full-resolution BGR uint8 image and returns an array-like of shape
    (n, 4) with ``(x, y, w, h)`` boxes, or (n, 5) with a score in the last column (NaN when
    there is none). Boxes with a NaN or infinite coordinate are dropped.
    """

    def __init__(self, function):
        self.function = function

    def __call__(self, image):
        found = np.asarray(self.function(image), dtype=float)
        if found.size == 0:
            return np.empty((0, 4), dtype=int), np.empty(0)
        if found.ndim != 2 or found.shape[1] not in (4, 5):
            raise ValueError(
                f"the detector {self.function!r} returned shape {found.shape}; expected (n, 4) "
                "boxes (x, y, w, h) or (n, 5) boxes with a score")
        scores = found[:, 4] if found.shape[1] == 5 else np.full(len(found), np.nan)
        return _clip_boxes(found[:, :4], scores, image.shape)
