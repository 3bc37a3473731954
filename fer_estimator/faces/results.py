"""What a FacePipeline finds: faces per image, as objects, JSON, CSV or a pandas DataFrame.

Only :meth:`FaceResults.to_frame` needs pandas, which the inference install leaves out.
"""

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .._extras import requires_install

BOX_COLUMNS = ("x", "y", "w", "h")


@dataclass(frozen=True)
class Face:
    """One detected face and its predicted emotion.

    Attributes
    ----------
    box : tuple of int
        ``(x, y, w, h)`` of the detector's box, in pixels of the image.
    label : str
        The most probable class.
    probabilities : dict of str to float
        The probability of every class, in the estimator's class order.
    score : float
        The detector's score (YuNet: confidence in [0, 1]; Haar: number of merged raw
        detections; a callable detector: its fifth column, or NaN).
    """

    box: tuple
    label: str
    probabilities: dict
    score: float

    def to_dict(self):
        """A JSON-ready dict (a NaN score becomes None)."""
        return {"box": list(self.box), "label": self.label,
                "score": None if math.isnan(self.score) else self.score,
                "probabilities": dict(self.probabilities)}


@dataclass(frozen=True)
class ImageFaces(Sequence):
    """The faces of one image or video frame: a sequence of :class:`Face`.

    Attributes
    ----------
    image : str or int
        The image's path, or its position in the input when it was given as an array.
    frame : int or None
        The frame's index in a video or frame iterable; None for still images.
    width, height : int
        The image's size in pixels.
    faces : list of Face
    """

    image: object
    frame: object
    width: int
    height: int
    faces: list = field(default_factory=list)

    def __len__(self):
        return len(self.faces)

    def __getitem__(self, index):
        return self.faces[index]

    def to_dict(self):
        """A JSON-ready dict."""
        return {"image": self.image, "frame": self.frame, "width": self.width,
                "height": self.height, "faces": [face.to_dict() for face in self.faces]}


class FaceResults(Sequence):
    """The results for several images or frames: a sequence of :class:`ImageFaces`.

    Parameters
    ----------
    images : iterable of ImageFaces
    classes : sequence of str
        The class names, in the estimator's order (the probability columns of :meth:`to_frame`).
    """

    def __init__(self, images, classes):
        self.images = list(images)
        self.classes = tuple(classes)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index]

    def __repr__(self):
        faces = sum(len(image) for image in self.images)
        return f"FaceResults({len(self.images)} images, {faces} faces)"

    def _columns(self):
        """The names of :meth:`_rows`' columns."""
        return ["image", "frame", "face", *BOX_COLUMNS, "score", "label", *self.classes]

    def _rows(self):
        """One list per face: image, frame, face (index in its image), box, score, label and
        one probability per class."""
        return [
            [image.image, image.frame, number, *face.box, face.score, face.label,
             *(face.probabilities[name] for name in self.classes)]
            for image in self.images for number, face in enumerate(image.faces)
        ]

    def to_csv(self, path):
        """Write one row per face, the columns of :meth:`to_frame`, as a UTF-8 CSV file.

        Needs no pandas, and writes what ``to_frame().to_csv(path, index=False)`` writes: a
        still image's frame and a NaN score are empty fields. A file name that is not valid
        UTF-8 (held as lone surrogates) is written as its own bytes.

        Parameters
        ----------
        path : str or path-like
        """
        with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(self._columns())
            writer.writerows([_csv_field(value) for value in row] for row in self._rows())

    def to_frame(self):
        """One row per face: image, frame, face (index in its image), box, score, label and
        one probability column per class.

        Raises
        ------
        MissingInstallError
            pandas is not installed (the inference install leaves it out).
        """
        with requires_install("FaceResults.to_frame", needs="pandas",
                              command="pip install pandas", modules={"pandas"}):
            import pandas as pd

        frame = pd.DataFrame(self._rows(), columns=self._columns())
        # Nullable ints: still images have no frame index, and boxes must not turn into floats.
        return frame.astype({"frame": "Int64", "face": "int64",
                             **dict.fromkeys(BOX_COLUMNS, "int64"), "score": "float64",
                             **dict.fromkeys(self.classes, "float64")})

    def to_dict(self):
        """A JSON-ready dict: ``{"classes": [...], "images": [...]}``."""
        return {"classes": list(self.classes),
                "images": [image.to_dict() for image in self.images]}

    def to_json(self, indent=None):
        """The results as a JSON string (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent)


def _csv_field(value):
    """``value`` as pandas writes it in a CSV: a missing value (None, NaN) as an empty field."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else value
