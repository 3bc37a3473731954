"""FacePipeline: find every face in photos or video frames and predict its emotion."""

import os
from itertools import islice
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .._paths import DEFAULT_MODEL_PATH
from .._validation import HasMethods, Interval, StrOptions, check_params
from ..data import IMAGE_SIZE
from ..labels import class_names
from ..runtime import RUNTIMES, load_predictor
from .annotate import draw_faces
from .crops import crop_faces
from .detectors import DEFAULT_DETECTOR, HaarDetector, YuNetDetector, make_detector
from .media import DEFAULT_MAX_PIXELS, iter_images, read_image, to_bgr
from .results import Face, FaceResults, ImageFaces

# Parameters that are not the detector's; every other one is passed to the detector class
# that takes it.
_OWN_PARAMS = ("estimator", "detector", "box_margin", "square_boxes", "batch_images", "trust",
               "max_pixels", "runtime")
# Images held in memory at once, decoded, by batch_images: 256 full-HD frames are 1.6 GB.
MAX_BATCH_IMAGES = 256


class FacePipeline(BaseEstimator):
    """Detect the faces in images or video frames and predict the emotion of each.

    The faces of one image (or of ``batch_images`` images) are cropped to 48x48 grayscale and
    classified in a single ``predict_proba`` call.

    Parameters
    ----------
    estimator : fitted classifier, str, Path or None, default=None
        A fitted scikit-learn classifier or pipeline with ``predict_proba`` and ``classes_`` that
        takes face crops as a uint8 array of shape (n, 48, 48) (such as
        :func:`fer_estimator.pipeline.make_fer_pipeline` fitted on FER2013), or the path of a
        model file holding one: the safe ``.fer.zip`` format (:func:`fer_estimator.save`), or
        a joblib file, which needs ``trust=True``. None: the shipped model
        ``models/fer2013-7class.fer.zip``.
        Integer classes 0-6 (0-5) are named after the FER2013 emotions (Disgust merged).
    detector : str or callable, default="yunet"
        A name of :data:`fer_estimator.faces.detectors.DETECTORS`: ``"yunet"``, OpenCV's YuNet
        (``cv2.FaceDetectorYN``, a small CNN the package ships), which found every marked face
        of the README's photos; ``"haar"``, OpenCV's frontal-face Haar cascade. A registered
        detector gets the parameters below that its class takes. A callable
        ``detector(bgr_image) -> boxes`` returning (n, 4) ``(x, y, w, h)`` boxes, or (n, 5)
        with a score, plugs in any other detector (MTCNN, RetinaFace, ...).
    yunet_model : str, Path or None, default=None
        YuNet: another ONNX file (``face_detection_yunet_*.onnx`` from OpenCV Zoo) than the
        shipped one.
    scale_factor : float, default=1.1
        Haar: step between the scales of the image pyramid, in (1, 4]; larger is faster,
        finds fewer faces.
    min_neighbors : int, default=5
        Haar: overlapping raw detections a face needs; larger gives fewer false faces.
    min_face_size : float, default=48
        Smallest face to look for, in pixels (48 is FER2013's resolution: smaller faces carry
        too little detail for the classifier).
    min_face_fraction : float, default=0.05
        Smallest face to look for, as a fraction of the image's shorter side. The larger of the
        two minimums applies; Haar and YuNet then search a copy downscaled so that this size
        matches their own window, which makes large photos fast and keeps Haar from reporting
        faces in their texture.
    score_threshold : float, default=0.6
        YuNet: faces with a lower confidence are dropped (chosen by the README's measurement).
    box_margin : float, default=0.0
        Added to every side of a box before the crop, as a fraction of its size, in [0, 1].
    square_boxes : bool, default=True
        Grow each box to a square about its centre before the crop (FER2013 faces are square).
    batch_images : int, default=1
        Images (frames) whose faces go to the estimator together in one call, at most 256 (they
        are held in memory together); more is faster on videos, 1 gives every frame's result
        without waiting for the next ones.
    trust : bool, default=False
        Allow ``estimator`` to be the path of a joblib (pickle) file: unpickling runs any code
        the file holds, so give it only files you trust. The joblib files the package ships
        load without it.
    max_pixels : int or None, default=89_478_485
        Image and video files with more pixels per image are refused before decoding (as
        Pillow's decompression-bomb guard); None: no limit.
    runtime : {"auto", "onnx", "onnx-int8", "keras"}, default="auto"
        How a model given as a file runs (:func:`fer_estimator.load_predictor`): ``"onnx"``,
        its ONNX networks in onnxruntime, without Keras or TensorFlow; ``"onnx-int8"``, their
        int8 copies (faster, close but not equal); ``"keras"``, its Keras
        networks (the full install); ``"auto"``, ONNX when the file holds ONNX networks and
        onnxruntime is installed. Ignored for a fitted ``estimator``.

    Parameters are checked when the work starts (:meth:`predict`, :meth:`warm_up`...), against
    ``_parameter_constraints``, with scikit-learn's messages.

    Examples
    --------
    >>> faces = FacePipeline("model.fer.zip").predict("group.jpg")  # doctest: +SKIP
    >>> faces.to_frame()  # one row per face: image, box, score, label, probabilities
    ... # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict_proba"]), str, os.PathLike, None],
        "detector": [str, callable],
        **HaarDetector._parameter_constraints,
        **YuNetDetector._parameter_constraints,
        "box_margin": [Interval(Real, 0, 1, closed="both")],
        "square_boxes": ["boolean"],
        "batch_images": [Interval(Integral, 1, MAX_BATCH_IMAGES, closed="both")],
        "trust": ["boolean"],
        "max_pixels": [Interval(Integral, 1, None, closed="left"), None],
        "runtime": [StrOptions(set(RUNTIMES))],
    }

    def __init__(self, estimator=None, detector=DEFAULT_DETECTOR, *, yunet_model=None,
                 scale_factor=1.1, min_neighbors=5, min_face_size=48, min_face_fraction=0.05,
                 score_threshold=0.6, box_margin=0.0, square_boxes=True, batch_images=1,
                 trust=False, max_pixels=DEFAULT_MAX_PIXELS, runtime="auto"):
        self.estimator = estimator
        self.detector = detector
        self.yunet_model = yunet_model
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size
        self.min_face_fraction = min_face_fraction
        self.score_threshold = score_threshold
        self.box_margin = box_margin
        self.square_boxes = square_boxes
        self.batch_images = batch_images
        self.trust = trust
        self.max_pixels = max_pixels
        self.runtime = runtime

    def predict(self, X, *, rgb=False, frame_stride=1):
        """Find the faces and their emotions in every image of ``X``.

        Parameters
        ----------
        X : str, Path, ndarray, list, tuple or iterable
            An image or video file; an image array (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA,
            uint8; a 4-D array (n, H, W, C) or a list or tuple of images (paths or arrays); or
            any other iterable of frames (arrays), such as a generator reading a camera.
        rgb : bool, default=False
            Arrays are RGB(A) (PIL, matplotlib, scikit-image) instead of OpenCV's BGR(A).
        frame_stride : int, default=1
            Use every ``frame_stride``-th frame of a video or frame iterable.

        Returns
        -------
        FaceResults
            One :class:`ImageFaces` per image or used frame; ``.to_frame()`` and
            ``.to_json()`` convert them.
        """
        return FaceResults(self.iter_predict(X, rgb=rgb, frame_stride=frame_stride),
                           self.class_names())

    def iter_predict(self, X, *, rgb=False, frame_stride=1, return_images=False):
        """Like :meth:`predict`, but yield each :class:`ImageFaces` as soon as it is ready
        (for long videos and live frames).

        With ``return_images=True``, yield ``(ImageFaces, bgr)`` pairs: each result with its
        decoded BGR image, to :meth:`annotate` it without reading it again.
        """
        self._validate_params()
        check_params({"frame_stride": [Interval(Integral, 1, None, closed="left")]},
                     {"frame_stride": frame_stride}, "FacePipeline.iter_predict")
        images = iter_images(X, rgb=rgb, frame_stride=frame_stride, max_pixels=self.max_pixels)
        while chunk := list(islice(images, self.batch_images)):
            results = self._predict_images(chunk)
            if return_images:
                yield from zip(results, (bgr for _, _, bgr in chunk), strict=True)
            else:
                yield from results

    def annotate(self, image, faces=None, *, rgb=False):
        """Draw the box and emotion of every face on a copy of one image.

        Parameters
        ----------
        image : str, Path or ndarray
            An image file or one image array (as in :meth:`predict`).
        faces : ImageFaces, optional
            This image's result from :meth:`predict`; found now when not given.
        rgb : bool, default=False
            ``image`` is RGB(A), and the drawing is returned as RGB.

        Returns
        -------
        ndarray of shape (H, W, 3), dtype uint8
            BGR (RGB when ``rgb=True``); grayscale and BGRA input come back as colour.
        """
        if isinstance(image, (str, os.PathLike)):
            bgr = read_image(image, self.max_pixels)
        else:
            bgr = to_bgr(image, rgb)
        if faces is None:
            self._validate_params()
            [faces] = self._predict_images([(0, None, bgr)])
        drawing = draw_faces(bgr, faces)
        return cv2.cvtColor(drawing, cv2.COLOR_BGR2RGB) if rgb else drawing

    def warm_up(self):
        """Load the model, build the detector and run each once, on blank input.

        A model or detector that cannot be loaded, and a model that cannot classify face crops,
        then fail here, once, rather than on every face of every image.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            The estimator fails on a blank crop (a uint8 array of shape (1, 48, 48)), or returns
            probabilities of another shape than (1, n_classes).
        """
        self._validate_params()
        self._face_detector()(np.zeros((64, 64, 3), dtype=np.uint8))
        estimator = self._fitted_estimator()
        n_classes = len(estimator.classes_)
        crop = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        try:
            probabilities = np.asarray(estimator.predict_proba(crop))
        except Exception as error:
            # Whatever the model raises, it would raise it again for every face.
            raise ValueError(
                f"{type(estimator).__name__} cannot classify face crops (uint8 arrays of shape "
                f"(n, {IMAGE_SIZE}, {IMAGE_SIZE})): {type(error).__name__}: {error}") from error
        if probabilities.shape != (1, n_classes):
            raise ValueError(
                f"{type(estimator).__name__}.predict_proba returned shape {probabilities.shape} "
                f"for 1 face crop and {n_classes} classes")
        return self

    def class_names(self):
        """The class names of the estimator, in its probability order."""
        return _names_of(self._fitted_estimator().classes_)

    def _predict_images(self, images):
        """Detect, crop and classify a chunk of ``(image, frame, bgr)`` in one estimator call."""
        detect = self._face_detector()
        found = [detect(bgr) for _, _, bgr in images]
        crops = [crop_faces(bgr, boxes, self.box_margin, self.square_boxes)
                 for (_, _, bgr), (boxes, _) in zip(images, found, strict=True)]
        estimator = self._fitted_estimator()
        classes = _names_of(estimator.classes_)
        n_faces = sum(len(batch) for batch in crops)
        if n_faces:
            probabilities = np.asarray(estimator.predict_proba(np.concatenate(crops)))
            if probabilities.shape != (n_faces, len(classes)):
                raise ValueError(
                    f"{type(estimator).__name__}.predict_proba returned shape "
                    f"{probabilities.shape} for {n_faces} faces and {len(classes)} classes")
        else:
            probabilities = np.empty((0, len(classes)))
        labels = probabilities.argmax(axis=1)
        start = 0
        results = []
        for (image, frame, bgr), (boxes, scores) in zip(images, found, strict=True):
            stop = start + len(boxes)
            faces = [
                Face(box=tuple(int(v) for v in box), label=classes[label],
                     probabilities={name: float(p) for name, p in zip(classes, proba, strict=True)},
                     score=float(score))
                for box, score, proba, label in zip(boxes, scores, probabilities[start:stop],
                                                    labels[start:stop], strict=True)
            ]
            results.append(ImageFaces(image=image, frame=frame, width=bgr.shape[1],
                                      height=bgr.shape[0], faces=faces))
            start = stop
        return results

    def _face_detector(self):
        """The detector, built on first use and again only when its parameters change."""
        params = {name: value for name, value in self.get_params(deep=False).items()
                  if name not in _OWN_PARAMS}
        key = (self.detector, params)
        cached = getattr(self, "_cached_detector", None)
        if cached is None or cached[0] != key:
            self._cached_detector = (key, make_detector(self.detector, params))
        return self._cached_detector[1]

    def _fitted_estimator(self):
        """The estimator, loaded on first use when it is given as a path."""
        estimator = DEFAULT_MODEL_PATH if self.estimator is None else self.estimator
        if isinstance(estimator, (str, os.PathLike)):
            estimator = self._load_estimator(Path(estimator))
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"the estimator must have predict_proba (a fitted classifier); "
                            f"got {type(estimator).__name__}")
        if getattr(estimator, "classes_", None) is None:
            raise NotFittedError(f"the estimator {type(estimator).__name__} is not fitted "
                                 "(it has no classes_); fit it before detecting emotions")
        return estimator

    def _load_estimator(self, path):
        key = (path, self.trust, self.runtime)
        cached = getattr(self, "_cached_estimator", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        if path == DEFAULT_MODEL_PATH and not path.is_file():
            raise FileNotFoundError(f"the shipped model {path} is missing: pass estimator=")
        estimator = load_predictor(path, runtime=self.runtime, trust=self.trust)
        self._cached_estimator = (key, estimator)
        return estimator

    def __getstate__(self):
        # OpenCV detectors cannot be pickled, and a model given as a path is reloaded from it.
        state = super().__getstate__()
        return {key: value for key, value in state.items() if not key.startswith("_cached_")}


def _names_of(codes):
    """Class names for an estimator's ``classes_``: integer FER2013 codes become emotion names."""
    codes = list(codes)
    if len(codes) in (6, 7) and all(isinstance(code, Integral) for code in codes) \
            and codes == list(range(len(codes))):
        return class_names(len(codes))
    return tuple(str(code) for code in codes)
