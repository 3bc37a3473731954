"""The pixel math of :class:`~fer_estimator.PixelTransformer`, in NumPy and OpenCV only: FER2013
pixel strings, flat rows or images of any size and colour -> grey images -> normalised batches.

Without pandas or Keras: the estimator (``transform``) and the ONNX runtime (``runtime``) of the
inference install share these functions with everything that prepares images for a network.
"""

import math
import sys

import cv2
import numpy as np

from .data import IMAGE_SIZE, parse_pixel_strings

NORMALIZATIONS = ("scale", "standardize", "per_image")
# ITU-R BT.601 luma weights, the ones cv2.COLOR_RGB2GRAY uses.
_RGB_TO_GREY = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Contrast below one grey level (on the 0-1 scale) counts as one grey level in "per_image" mode,
# so flat and almost flat images are not blown up into noise.
_MIN_IMAGE_STD = 1.0 / 255.0


def grey_images(X, image_size=IMAGE_SIZE, input_scale=255):
    """X as float32 grey images of shape (n, image_size, image_size) on the 0-255 scale.

    Parameters
    ----------
    X : pixel strings, DataFrame with a ``pixels`` column, or image array
        See :class:`~fer_estimator.PixelTransformer`.
    image_size : int, default=48
        Side of the square output images; other sizes are resized with ``cv2.INTER_AREA``.
    input_scale : {255, 1}, default=255
        The value of white in numeric X.

    Returns
    -------
    images : ndarray of shape (n_samples, image_size, image_size), dtype float32

    Raises
    ------
    ValueError
        Naming the row and what is wrong: an ambiguous shape, values outside the scale, NaN.
    """
    # A DataFrame or Series can only be one when pandas is loaded: no import for it here.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(X, pandas.DataFrame):
        if "pixels" not in X.columns:
            raise ValueError(f"a DataFrame X needs a 'pixels' column; it has {list(X.columns)}")
        X = X["pixels"]
    if _is_list_of_images(X):
        per_image = [
            _resized(_image_batch(image[np.newaxis], image_size, input_scale, row), image_size)
            for row, image in enumerate(X)]
        return np.concatenate(per_image)
    array = (X.to_numpy(dtype=object) if pandas is not None and isinstance(X, pandas.Series)
             else np.asarray(X))
    if array.size == 0:
        raise ValueError(f"X is empty (shape {array.shape}): no images to transform")
    if array.dtype.kind in "OUS" and (array.ndim == 1 or array.shape[1:] == (1,)):
        strings = array.ravel()  # a (n, 1) column, e.g. from a ColumnTransformer, is n strings
        return _resized(parse_pixel_strings(strings).astype(np.float32), image_size)
    return _resized(_image_batch(array, image_size, input_scale), image_size)


def normalize(images, normalization, mean=None, scale=None):
    """Grey images (n, H, W) on the 0-255 scale as the network's input (n, H, W, 1), float32.

    Parameters
    ----------
    images : ndarray of shape (n_samples, H, W), dtype float32
        From :func:`grey_images`.
    normalization : {"scale", "standardize", "per_image"}
        See :class:`~fer_estimator.PixelTransformer`.
    mean, scale : float, optional
        The fitted statistics (on the 0-1 scale) of ``"standardize"``.

    Returns
    -------
    ndarray of shape (n_samples, H, W, 1), dtype float32
    """
    scaled = images / np.float32(255)
    if normalization == "standardize":
        scaled -= np.float32(mean)
        scaled /= np.float32(scale)
    elif normalization == "per_image":
        scaled -= scaled.mean(axis=(1, 2), keepdims=True)
        scaled /= np.maximum(scaled.std(axis=(1, 2), keepdims=True), np.float32(_MIN_IMAGE_STD))
    return scaled[..., np.newaxis]


def mirror_images(X):
    """Mirror a batch of images (n, height, width[, channels]) left to right: the flip of
    test-time augmentation."""
    return np.asarray(X)[:, :, ::-1]


def _is_list_of_images(X):
    """True for a non-empty list/tuple of ndarray images, which may differ in size (face crops)."""
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    return all(isinstance(item, np.ndarray) and item.ndim >= 2 for item in X)


def _image_batch(array, image_size=IMAGE_SIZE, input_scale=255, first_row=0):
    """Check a numeric array of images or flat rows; return float32 grey images (n, H, W), 0-255."""
    if array.dtype.kind not in "uif":
        raise ValueError(f"X must hold numbers on the 0-255 grey scale or pixel strings, got "
                         f"dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"image {first_row} of X is empty (shape {array.shape[1:]})")
    if array.ndim == 2:
        side = math.isqrt(array.shape[1])
        if side * side != array.shape[1]:
            raise ValueError(
                f"flat X has {array.shape[1]} values per row, which is not a square image "
                f"(48x48 = {IMAGE_SIZE**2} expected); shape {array.shape}"
            )
        if array.shape[1] not in (IMAGE_SIZE**2, image_size**2):
            # A 2-D array is a batch of flat rows; a single 64x64 image would silently become
            # 64 images of 8x8.
            raise ValueError(
                f"X of shape {array.shape} is ambiguous: a 2-D array is read as flat rows of "
                f"{IMAGE_SIZE}x{IMAGE_SIZE} = {IMAGE_SIZE**2} (or image_size**2) values. Give a "
                f"single image as shape (1, H, W) or in a list, and images of another size as "
                f"(n, H, W)"
            )
        array = array.reshape(-1, side, side)
    elif array.ndim == 4:
        if array.shape[3] not in (1, 3):
            raise ValueError(f"X of shape {array.shape}: expected 1 (grey) or 3 (RGB) channels, "
                             f"got {array.shape[3]}")
    elif array.ndim != 3:
        raise ValueError(
            f"X of shape {array.shape}: expected pixel strings, flat rows (n, k*k), "
            "or images (n, H, W), (n, H, W, 1), (n, H, W, 3)"
        )
    _check_pixel_range(array, first_row, input_scale)
    images = array.astype(np.float32, copy=False)
    if input_scale != 255:
        images = images * np.float32(255 / input_scale)
    if images.ndim == 4:
        images = images[..., 0] if images.shape[3] == 1 else images @ _RGB_TO_GREY
    return images


def _check_pixel_range(array, first_row, input_scale=255):
    if array.dtype == np.uint8 and input_scale == 255:
        return
    per_row = array.reshape(array.shape[0], -1)
    if array.dtype.kind == "f":
        not_finite = np.flatnonzero(~np.isfinite(per_row).all(axis=1))
        if not_finite.size:
            raise ValueError(f"row {first_row + int(not_finite[0])} of X contains NaN or infinite "
                             f"values")
    outside = (per_row < 0) | (per_row > input_scale)
    bad_rows = np.flatnonzero(outside.any(axis=1))
    if bad_rows.size:
        row = int(bad_rows[0])
        value = per_row[row][outside[row]][0]
        scale = "0-255 grey scale" if input_scale == 255 else "0-1 scale of input_scale=1"
        raise ValueError(f"row {first_row + row} of X has pixel value {value}, outside the {scale}")
    if input_scale == 255 and array.dtype.kind == "f" and 0 < per_row.max() <= 1:
        raise ValueError(
            f"X holds floats in [0, 1] (largest value {per_row.max()}): on the expected 0-255 "
            f"grey scale every image would be almost black. Multiply by 255, or pass "
            f"input_scale=1 to PixelTransformer (set_params(pixels__input_scale=1) on a FER "
            f"pipeline) if they are 0-1 images")


def _resized(images, size):
    if images.shape[1:] == (size, size):
        return images
    return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                     for image in images])
