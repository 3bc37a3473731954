"""FER2013 class names and the 6-class variant that merges Disgust into Angry."""

EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
EMOTIONS_6 = ("Angry", "Fear", "Happy", "Sad", "Surprise", "Neutral")

# 7-class code -> 6-class code: Disgust (1) joins Angry (0), the codes above it shift down by one.
_SEVEN_TO_SIX = (0, 0, 1, 2, 3, 4, 5)


def class_names(n_classes=7):
    """Return the class names for the 7-class FER2013 labels or the 6-class variant."""
    if n_classes == 7:
        return EMOTIONS
    if n_classes == 6:
        return EMOTIONS_6
    raise ValueError(f"n_classes must be 7 or 6 (Disgust merged into Angry), got {n_classes!r}")


def merge_disgust_into_angry(codes):
    """Map 7-class FER2013 codes (0-6) to the 6-class variant (0-5)."""
    import numpy as np  # here: `import fer_estimator` reads this module and stays quick

    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() > 6):
        bad = int(np.flatnonzero((codes < 0) | (codes > 6))[0])
        raise ValueError(f"emotion code {codes[bad]!r} at row {bad} is outside 0-6")
    return np.array(_SEVEN_TO_SIX, dtype=np.int8)[codes]
