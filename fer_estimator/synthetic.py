"""Synthetic 48×48 labelled faces with learnable class structure, for tests and demos.

Each class has its own cartoon expression (mouth shape, eyebrows, eyes); every sample is that
template shifted, rescaled in brightness and contrast, possibly mirrored, and noised, so a small
CNN can learn the classes in a few epochs while a constant predictor stays at chance.
"""

import cv2
import numpy as np
from sklearn.utils import check_random_state

from .labels import EMOTIONS

_CANVAS = 96  # templates are drawn at 2× and shrunk, for smoother strokes


def _draw_template(class_code):
    """Draw the cartoon face of one class on a gray canvas and return it as float (48, 48)."""
    img = np.full((_CANVAS, _CANVAS), 50, np.uint8)
    centre = _CANVAS // 2
    cv2.ellipse(img, (centre, centre), (34, 42), 0, 0, 360, 160, -1)
    eye_y, eye_dx = 36, 14
    eye_radius = 7 if class_code in (2, 5) else 4  # Fear and Surprise: wide eyes
    for side in (-1, 1):
        cv2.circle(img, (centre + side * eye_dx, eye_y), eye_radius, 20, -1)
        # Eyebrows: slanted inwards-down for Angry and Disgust, raised for Fear/Surprise/Sad.
        inner = (centre + side * 6, eye_y - 10)
        outer = (centre + side * 22, eye_y - 10)
        if class_code in (0, 1):
            inner = (inner[0], inner[1] + 5)
        elif class_code in (2, 4, 5):
            inner = (inner[0], inner[1] - 5)
        cv2.line(img, inner, outer, 20, 3)
    mouth = (centre, 66)
    if class_code == 3:  # Happy: wide smile
        cv2.ellipse(img, (mouth[0], mouth[1] - 6), (16, 10), 0, 0, 180, 20, 3)
    elif class_code == 4:  # Sad: frown
        cv2.ellipse(img, (mouth[0], mouth[1] + 6), (14, 8), 0, 180, 360, 20, 3)
    elif class_code == 5:  # Surprise: open round mouth
        cv2.ellipse(img, mouth, (8, 11), 0, 0, 360, 20, -1)
    elif class_code == 2:  # Fear: stretched, slightly open mouth
        cv2.ellipse(img, mouth, (16, 4), 0, 0, 360, 20, -1)
    elif class_code == 1:  # Disgust: nose wrinkles and a crooked mouth
        cv2.line(img, (centre - 6, 50), (centre + 6, 54), 20, 2)
        cv2.line(img, (centre - 12, mouth[1] + 3), (centre + 12, mouth[1] - 4), 20, 3)
    elif class_code == 0:  # Angry: tight, straight mouth
        cv2.line(img, (centre - 10, mouth[1]), (centre + 10, mouth[1]), 20, 4)
    else:  # Neutral: a short, thin line
        cv2.line(img, (centre - 8, mouth[1]), (centre + 8, mouth[1]), 20, 2)
    return cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32)


def make_synthetic_faces(n_samples=700, *, n_classes=7, noise=12.0, max_shift=3,
                         random_state=None):
    """Generate labelled synthetic 48×48 gray faces with one cartoon expression per class.

    Parameters
    ----------
    n_samples : int, default=700
        Number of images; classes are balanced up to rounding.
    n_classes : int, default=7
        Number of classes, 2 to 7; class ``k`` uses the expression of FER2013 label ``k``.
    noise : float, default=12.0
        Standard deviation of the Gaussian pixel noise, on the 0–255 scale.
    max_shift : int, default=3
        Largest random translation in pixels along each axis.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 48, 48), dtype uint8
        The images.
    y : ndarray of shape (n_samples,), dtype int64
        Class codes, ``0`` to ``n_classes - 1`` (names in ``labels.EMOTIONS``).
    """
    if not 2 <= n_classes <= len(EMOTIONS):
        raise ValueError(f"n_classes must be between 2 and {len(EMOTIONS)}, got {n_classes!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples!r}")
    rng = check_random_state(random_state)
    templates = np.stack([_draw_template(code) for code in range(n_classes)])
    y = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)

    images = templates[y]
    shifts = rng.randint(-max_shift, max_shift + 1, size=(n_samples, 2))
    for axis, axis_shifts in ((1, shifts[:, 0]), (2, shifts[:, 1])):
        for shift in np.unique(axis_shifts):
            rows = axis_shifts == shift
            images[rows] = np.roll(images[rows], shift, axis=axis)
    mirrored = rng.rand(n_samples) < 0.5
    images[mirrored] = images[mirrored, :, ::-1]
    contrast = rng.uniform(0.7, 1.3, size=(n_samples, 1, 1))
    brightness = rng.uniform(-30, 30, size=(n_samples, 1, 1))
    images = (images - 100.0) * contrast + 100.0 + brightness
    images += rng.normal(0.0, noise, size=images.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), y
