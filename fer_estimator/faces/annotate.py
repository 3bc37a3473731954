"""Drawing face boxes and emotion labels on an image."""

import cv2

from ..labels import EMOTIONS

# BGR colours, one per FER2013 emotion; other class names are drawn in white.
EMOTION_COLOURS = dict(zip(EMOTIONS, [
    (40, 40, 230),    # Angry: red
    (40, 140, 40),    # Disgust: dark green
    (160, 60, 160),   # Fear: purple
    (40, 200, 40),    # Happy: green
    (200, 120, 40),   # Sad: blue
    (0, 200, 255),    # Surprise: amber
    (200, 200, 200),  # Neutral: light grey
], strict=True))
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_faces(image, faces):
    """Return a copy of a BGR image with every face's box and ``label probability`` drawn.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), dtype uint8
    faces : iterable of Face

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8
    """
    canvas = image.copy()
    # Lines and text grow with the image so they stay readable on large photos.
    thickness = max(1, round(min(image.shape[:2]) / 400))
    font_scale = 0.4 * thickness
    for face in faces:
        x, y, w, h = face.box
        colour = EMOTION_COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        text = f"{face.label} {face.probabilities[face.label]:.0%}"
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
        # Above the box, or inside its top edge when the box touches the image's top.
        top = y - text_h - baseline - thickness if y >= text_h + baseline + thickness else y
        cv2.rectangle(canvas, (x, top), (x + text_w + 2 * thickness, top + text_h + baseline),
                      colour, cv2.FILLED)
        cv2.putText(canvas, text, (x + thickness, top + text_h), FONT, font_scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
    return canvas


def draw_probability_bars(image, faces, classes):
    """Draw, in place, a small bar under every face's box: one segment per class, as long as
    its probability, in the class's colour.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), dtype uint8
        BGR; drawn on directly (pass the copy :func:`draw_faces` returns).
    faces : iterable of Face
    classes : sequence of str
        The class names in the order of the segments.

    Returns
    -------
    ndarray
        ``image``.
    """
    height = max(4, round(min(image.shape[:2]) / 80))
    for face in faces:
        x, y, w, h = face.box
        top = min(y + h + 2, image.shape[0] - height)
        left = x
        for name in classes:
            right = left + face.probabilities[name] * w
            if round(right) > round(left):
                cv2.rectangle(image, (round(left), top), (round(right) - 1, top + height - 1),
                              EMOTION_COLOURS.get(name, (255, 255, 255)), cv2.FILLED)
            left = right
    return image
