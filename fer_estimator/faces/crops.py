"""Cutting detected faces out of an image as the classifier's 48x48 grayscale input."""

import cv2
import numpy as np

from ..data import IMAGE_SIZE


def crop_boxes(boxes, margin, square):
    """The regions to crop around detected ``(x, y, w, h)`` boxes, as int ``(x0, y0, x1, y1)``.

    Parameters
    ----------
    boxes : ndarray of shape (n, 4)
    margin : float
        Added on every side, as a fraction of the box's width (height) before squaring.
    square : bool
        Grow the shorter side to the longer one, about the same centre (FER2013 faces are square).
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    size = boxes[:, 2:] * (1 + 2 * margin)
    if square:
        size = np.repeat(size.max(axis=1, keepdims=True), 2, axis=1)
    corners = np.rint(np.concatenate([centre - size / 2, centre + size / 2], axis=1)).astype(int)
    corners[:, 2:] = np.maximum(corners[:, 2:], corners[:, :2] + 1)  # at least one pixel
    return corners


def crop_faces(image, boxes, margin=0.0, square=True):
    """Cut the faces out of a BGR image as a uint8 batch of shape (n, 48, 48).

    Regions reaching past the image's edge are filled by repeating the edge pixels, so a face at
    the border keeps its proportions.
    """
    regions = crop_boxes(boxes, margin, square)
    if len(regions) == 0:
        return np.empty((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    pad = max(0, -regions[:, :2].min(), regions[:, 2].max() - width,
              regions[:, 3].max() - height)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    regions = regions + pad
    return np.stack([
        cv2.resize(gray[y0:y1, x0:x1], (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        for x0, y0, x1, y1 in regions
    ])
