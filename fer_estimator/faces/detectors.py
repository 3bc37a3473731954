"""Face detectors: OpenCV's Haar cascade, YuNet, or any callable ``image -> boxes``.

Every detector is a callable ``detector(bgr_image) -> (boxes, scores)`` where ``boxes`` is an int
array of shape (n, 4) holding ``(x, y, w, h)`` in the image's pixels, clipped to the image, and
``scores`` a float array of shape (n,).

Haar and YuNet look for faces on a downscaled copy: detecting faces of at least ``m`` pixels in
an image is the same work as detecting faces of the detector's own window size in a copy shrunk by
``window / m``, and much faster. It also keeps the cascade from reporting the many small false
faces it finds in the texture of large photos.
"""

from pathlib import Path

import cv2
import numpy as np

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# The smallest face YuNet finds reliably (its finest anchors are about 10-16 pixels).
YUNET_NATIVE_FACE = 24
YUNET_DOWNLOAD = ("https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet "
                  "(face_detection_yunet_*.onnx)")


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


def _clip_boxes(boxes, image_shape):
    """Round ``(x, y, w, h)`` boxes to ints, clip them to the image and drop empty ones."""
    height, width = image_shape[:2]
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    x0 = np.clip(np.rint(boxes[:, 0]), 0, width)
    y0 = np.clip(np.rint(boxes[:, 1]), 0, height)
    x1 = np.clip(np.rint(boxes[:, 0] + boxes[:, 2]), 0, width)
    y1 = np.clip(np.rint(boxes[:, 1] + boxes[:, 3]), 0, height)
    clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(int)
    keep = (clipped[:, 2] > 0) & (clipped[:, 3] > 0)
    return clipped, keep


class HaarDetector:
    """OpenCV's bundled frontal-face Haar cascade.

    Parameters
    ----------
    scale_factor : float
        Step between the scales of the image pyramid (``detectMultiScale``'s ``scaleFactor``).
    min_neighbors : int
        Overlapping raw detections a face needs to be kept (``minNeighbors``).
    min_face_size : float
        Smallest face to find, in pixels of the original image.
    min_face_fraction : float
        Smallest face to find, as a fraction of the image's shorter side.

    Notes
    -----
    The score of a face is the number of raw detections merged into it.
    """

    def __init__(self, scale_factor, min_neighbors, min_face_size, min_face_fraction):
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size
        self.min_face_fraction = min_face_fraction
        self._cascade = _load_haar_cascade()
        self._window = min(self._cascade.getOriginalWindowSize())

    def __call__(self, image):
        min_face = min_face_pixels(image.shape, self.min_face_size, self.min_face_fraction)
        scale = min(1.0, self._window / min_face)
        small, back = _downscaled(image, scale)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        # Evens out lighting; OpenCV's own face-detection sample does the same.
        gray = cv2.equalizeHist(gray)
        min_size = max(self._window, round(min_face * scale))
        boxes, neighbours = self._cascade.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size))
        boxes, keep = _clip_boxes(np.asarray(boxes, dtype=float).reshape(-1, 4) * back, image.shape)
        return boxes[keep], np.asarray(neighbours, dtype=float).reshape(-1)[keep]


def _load_haar_cascade():
    hint = ("detector='haar' needs the Haar cascades bundled with OpenCV 4.x wheels "
            "(OpenCV 5 dropped them): pip install 'opencv-python-headless<5', "
            "or use detector='yunet'")
    cascades = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cascades is None or not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(f"this OpenCV build ({cv2.__version__}) has no Haar cascades; {hint}")
    path = Path(cascades) / HAAR_CASCADE
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise RuntimeError(f"cannot load the Haar cascade {path}; {hint}")
    return cascade


class YuNetDetector:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``) from an ONNX model file.

    Parameters
    ----------
    model_path : str or Path
        The YuNet ONNX file.
    score_threshold : float
        Faces scoring below this confidence are dropped.
    min_face_size : float
        Smallest face to find, in pixels of the original image.
    min_face_fraction : float
        Smallest face to find, as a fraction of the image's shorter side.

    Notes
    -----
    The score of a face is YuNet's confidence in [0, 1].
    """

    def __init__(self, model_path, score_threshold, min_face_size, min_face_fraction):
        if model_path is None:
            raise ValueError(f"detector='yunet' needs yunet_model=<path to the ONNX file>; "
                             f"download it from {YUNET_DOWNLOAD}")
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no YuNet model file there; download it from "
                                    f"{YUNET_DOWNLOAD}")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise RuntimeError(f"detector='yunet' needs OpenCV >= 4.8 (cv2.FaceDetectorYN); "
                               f"this is {cv2.__version__}")
        self.min_face_size = min_face_size
        self.min_face_fraction = min_face_fraction
        try:
            # The input size is a placeholder: __call__ sets it for every image.
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except cv2.error as error:
            raise ValueError(f"{path}: not a YuNet ONNX model OpenCV can load ({error})") from None

    def __call__(self, image):
        min_face = min_face_pixels(image.shape, self.min_face_size, self.min_face_fraction)
        small, back = _downscaled(image, min(1.0, YUNET_NATIVE_FACE / min_face))
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self._net.detect(small)
        if faces is None:
            return np.empty((0, 4), dtype=int), np.empty(0)
        boxes, keep = _clip_boxes(faces[:, :4] * back, image.shape)
        return boxes[keep], faces[keep, -1].astype(float)


class CallableDetector:
    """Wraps a user's ``detector(bgr_image) -> boxes`` and checks what it returns.

    The callable gets the full-resolution BGR uint8 image and returns an array-like of shape
    (n, 4) with ``(x, y, w, h)`` boxes, or (n, 5) with a score in the last column (NaN when
    there is none).
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
        boxes, keep = _clip_boxes(found[:, :4], image.shape)
        return boxes[keep], scores[keep]


def make_detector(detector, *, scale_factor, min_neighbors, min_face_size, min_face_fraction,
                  score_threshold, yunet_model):
    """Build the detector named by ``detector`` ("haar", "yunet" or a callable)."""
    if callable(detector):
        return CallableDetector(detector)
    if detector == "haar":
        return HaarDetector(scale_factor, min_neighbors, min_face_size, min_face_fraction)
    if detector == "yunet":
        return YuNetDetector(yunet_model, score_threshold, min_face_size, min_face_fraction)
    raise ValueError(f"detector must be 'haar', 'yunet' or a callable image -> boxes; "
                     f"got {detector!r}")
