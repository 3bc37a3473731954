"""Reading images and videos as validated BGR arrays, and writing images."""

import io
import math
import os
import re
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..persistence import write_atomically

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
# The formats of IMAGE_SUFFIXES by Pillow's names (MPO: a phone camera's JPEG holding a second
# image), for read_header(strict=True).
IMAGE_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP",
                 "TIFF": "TIFF"}
# Largest image (width x height) decoded by default: Pillow's decompression-bomb limit
# (Image.MAX_IMAGE_PIXELS, about 89 megapixels, 0.25 GB as 3-channel uint8). A few hundred
# kilobytes of PNG can declare 20000x20000 pixels (1.2 GB decoded, several GB while decoding).
DEFAULT_MAX_PIXELS = 89_478_485
# warnings.catch_warnings changes the process's filters: one header probe at a time, so that
# probes in several threads (serve) cannot leave each other's filter installed.
_PROBE_LOCK = threading.Lock()


class ImageTooLargeError(ValueError):
    """An image or video frame has more pixels than the ``max_pixels`` limit allows.

    Attributes
    ----------
    size : str
        The image's size, e.g. ``"640x480 = 307,200 pixels"`` (only the pixel count when the
        header gave no more).
    max_pixels : int
        The limit it passes.
    """

    def __init__(self, message, size=None, max_pixels=None):
        super().__init__(message)
        self.size = size
        self.max_pixels = max_pixels


def to_bgr(image, rgb=False, name="image"):
    """Validate one image array and return it as a 3-channel uint8 BGR array.

    Parameters
    ----------
    image : ndarray of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), dtype uint8
        Grayscale, BGR or BGRA (OpenCV's channel order), or RGB/RGBA when ``rgb=True``.
    rgb : bool, default=False
        The colour channels are in RGB order (PIL, matplotlib, scikit-image).
    name : str, default="image"
        What to call the image in error messages.

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(
            f"{name} must have dtype uint8 (0-255), got {image.dtype}; convert it first, "
            "e.g. with skimage.util.img_as_ubyte")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"{name} must have shape (H, W) or (H, W, C) with C in 1, 3, 4; got {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if rgb else cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image


def is_video_path(path):
    """Whether ``path`` names a video file (by suffix; images are decoded by content)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def check_pixel_count(path, width, height, max_pixels=DEFAULT_MAX_PIXELS):
    """Raise :class:`ImageTooLargeError` when ``width * height`` exceeds ``max_pixels``.

    ``max_pixels=None`` disables the limit.
    """
    width, height = int(width), int(height)
    _check_pixels(path, f"{width}x{height} = {width * height:,} pixels", width * height,
                  max_pixels)


def _check_pixels(path, what, pixels, max_pixels):
    if max_pixels is not None and pixels > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {what}, more than the limit of {max_pixels:,} (a decompression-bomb "
            f"guard); raise the limit with max_pixels= if you trust this image",
            size=what, max_pixels=max_pixels)


def read_header(source, max_pixels=DEFAULT_MAX_PIXELS, *, strict=False, name=None):
    """Width, height and format that an image's header declares, read without decoding pixels.

    Parameters
    ----------
    source : str, path-like or bytes
        An image file, or the bytes of one.
    max_pixels : int or None, default=DEFAULT_MAX_PIXELS
        Refuse a header declaring more pixels (width x height); None: no limit.
    strict : bool, default=False
        Refuse an image whose header Pillow cannot read, or whose format is not one of
        :data:`IMAGE_FORMATS` (JPEG, PNG, WebP, BMP, TIFF), and one larger than Pillow opens
        (``2 * PIL.Image.MAX_IMAGE_PIXELS``, about 179 megapixels) whatever ``max_pixels``
        says: nothing then reaches a decoder unchecked. Otherwise these return None, for the
        caller to check the decoded image (as :func:`read_image` does).
    name : str, optional
        What to call the image in errors (default: the path, or "the data" for bytes).

    Returns
    -------
    (width, height, format) or None
        ``format`` is Pillow's name of it (``"PNG"``, ``"JPEG"``, ...).

    Raises
    ------
    ImageTooLargeError
        More than ``max_pixels`` pixels.
    ValueError
        With ``strict=True``: an unreadable header or another format.
    """
    data = isinstance(source, (bytes, bytearray, memoryview))
    label = name if name is not None else ("the data" if data else str(source))
    try:
        with _PROBE_LOCK, warnings.catch_warnings():
            # Pillow's own guard warns from 89 MP (it raises from 179 MP, below), and it warns
            # about damaged metadata, which is no concern of a size probe.
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(source) if data else source) as image:
                (width, height), found = image.size, image.format
    except Image.DecompressionBombError as error:
        # Pillow opens no image over twice its MAX_IMAGE_PIXELS, and says how many it has.
        counted = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(counted.group(1)) if counted else math.inf
        what = f"{pixels:,} pixels" if counted else "more pixels than Pillow opens"
        limit = max_pixels
        if strict:  # its format is unknown: never decode it
            limit = min(math.inf if max_pixels is None else max_pixels,
                        2 * Image.MAX_IMAGE_PIXELS)
        _check_pixels(label, what, pixels, limit)
        return None
    except Exception as error:
        if not strict:
            return None
        if isinstance(error, UnidentifiedImageError):
            reason = (f"{len(source)} bytes starting {bytes(source[:8])!r}" if data
                      else "a format Pillow does not know")
        else:
            reason = f"a damaged header: {error}"
        raise ValueError(f"{label} is not an image in one of the formats "
                         f"{_format_names()} ({reason})") from None
    if strict and found not in IMAGE_FORMATS:
        raise ValueError(f"{label} is not an image in one of the formats {_format_names()} "
                         f"(it is {found})")
    check_pixel_count(label, width, height, max_pixels)
    return width, height, found


def _format_names():
    return ", ".join(dict.fromkeys(IMAGE_FORMATS.values()))


def read_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image file as a BGR uint8 array, with an error that names the path.

    Parameters
    ----------
    path : str or path-like
    max_pixels : int or None, default=DEFAULT_MAX_PIXELS
        Refuse images with more pixels (width x height), checked in the file's header before
        decoding; None: no limit.

    Raises
    ------
    FileNotFoundError
        No such file.
    ImageTooLargeError
        More than ``max_pixels`` pixels.
    ValueError
        The file is not a readable image (empty, truncated, another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if max_pixels is not None:
        read_header(path, max_pixels)
    # imdecode from bytes instead of imread: imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(path, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as error:
        raise ValueError(f"{path}: not a readable image ({str(error).strip()})") from error
    if image is None or image.size == 0:
        raise ValueError(f"{path}: not a readable image")
    # A format Pillow does not know was decoded unchecked: check it now, before any work on it.
    check_pixel_count(path, image.shape[1], image.shape[0], max_pixels)
    return image


def iter_video_frames(path, frame_stride=1, max_pixels=DEFAULT_MAX_PIXELS):
    """Yield ``(frame_index, bgr_frame)`` for every ``frame_stride``-th frame of a video file.

    Videos whose frames have more than ``max_pixels`` pixels are refused before decoding.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"{path}: not a readable video")
        check_pixel_count(path, capture.get(cv2.CAP_PROP_FRAME_WIDTH),
                          capture.get(cv2.CAP_PROP_FRAME_HEIGHT), max_pixels)
        index = 0
        # grab() skips decoding the frames that the stride drops.
        while capture.grab():
            if index % frame_stride == 0:
                ok, frame = capture.retrieve()
                if not ok:
                    raise ValueError(f"{path}: frame {index} could not be decoded")
                yield index, frame
            index += 1
        if index == 0:
            raise ValueError(f"{path}: not a readable video (no frames)")
    finally:
        capture.release()


def write_image(path, image):
    """Encode ``image`` (BGR) in the format of ``path``'s suffix and write it atomically."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(
            f"{path}: an image file name must end in one of {sorted(IMAGE_SUFFIXES)}")
    try:
        encoded = encode_image(image, path.suffix)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    write_encoded_image(path, encoded)


def encode_image(image, suffix):
    """The bytes of ``image`` (BGR) in the format of ``suffix`` (``".jpg"``, ``".png"``...),
    as :func:`write_image` writes them: an annotated copy made on a Dask worker is encoded
    there and written by the client, the same bytes as a local run's."""
    ok, encoded = cv2.imencode(suffix, image)
    if not ok:
        raise ValueError(f"OpenCV could not encode the image as {suffix}")
    return encoded.tobytes()


def write_encoded_image(path, encoded):
    """Write ``encoded`` (bytes from :func:`encode_image`) to ``path``, atomically."""
    write_atomically(path, lambda temp: Path(temp).write_bytes(encoded))


def iter_images(X, rgb=False, frame_stride=1, max_pixels=DEFAULT_MAX_PIXELS):
    """Yield ``(image, frame, bgr)`` for every image that ``X`` holds.

    Parameters
    ----------
    X : str, Path, ndarray, list, tuple or iterable
        An image or video file; an image array (H, W[, C]); a 4-D array (n, H, W, C) or a list
        or tuple of images (paths or arrays); or any other iterable of frames (arrays).
    rgb : bool, default=False
        Arrays hold RGB(A) instead of BGR(A); files are always decoded correctly.
    frame_stride : int, default=1
        Keep every ``frame_stride``-th frame of a video or of a frame iterable.
    max_pixels : int or None, default=DEFAULT_MAX_PIXELS
        Refuse image and video files with larger images (see :func:`read_image`).

    Yields
    ------
    image : str or int
        The file's path, or the position of the array in ``X``.
    frame : int or None
        The frame's index in a video or frame iterable; None for still images.
    bgr : ndarray of shape (H, W, 3), dtype uint8
    """
    if isinstance(X, (str, os.PathLike)):
        yield from _iter_file(X, frame_stride, max_pixels)
    elif isinstance(X, np.ndarray) and X.ndim != 4:
        if X.ndim not in (2, 3):
            raise ValueError(
                "an image array must be (H, W), (H, W, C), or (n, H, W, C) for several "
                f"images; got shape {X.shape}")
        yield 0, None, to_bgr(X, rgb)
    elif isinstance(X, (list, tuple, np.ndarray)):
        for position, item in enumerate(X):
            if isinstance(item, (str, os.PathLike)):
                yield from _iter_file(item, frame_stride, max_pixels)
            else:
                yield position, None, to_bgr(item, rgb, name=f"image {position}")
    elif hasattr(X, "__iter__"):
        for position, frame in enumerate(X):
            if position % frame_stride == 0:
                yield position, position, to_bgr(frame, rgb, name=f"frame {position}")
    else:
        raise TypeError(
            "expected an image or video path, an image array, a list of images or an iterable "
            f"of frames; got {type(X).__name__}")


def _iter_file(path, frame_stride, max_pixels):
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path}: is a folder; pass its files (the command line "
                                "`fer-estimator predict` takes folders)")
    if is_video_path(path):
        for frame, image in iter_video_frames(path, frame_stride, max_pixels):
            yield str(path), frame, image
    else:
        yield str(path), None, read_image(path, max_pixels)
