"""Training sets cut from labelled photos: every face of ``<label>/<photo>`` detected and
written as a 48×48 gray crop in the same folder layout, which
:func:`fer_estimator.folders.load_image_folder` (and ``train --data``) then reads."""

import dataclasses
import os
from pathlib import Path

from .._extras import requires_install

with requires_install("cut_faces"):
    import pandas as pd

from ..folders import _scan, shown
from ..persistence import write_atomically
from .crops import crop_faces
from .media import read_image, write_image
from .pipeline import FacePipeline

# What a photo with several faces gives: nothing, its largest face, or every face.
SEVERAL_FACES = ("skip", "largest", "all")
FACES_CSV = "faces.csv"
FACES_COLUMNS = ("file", "label", "source", "face", "x", "y", "width", "height",
                 "faces_in_photo")


@dataclasses.dataclass
class CutReport:
    """What :func:`cut_faces` did.

    Attributes
    ----------
    written : int
        Face crops written.
    no_face : list of str
        Photos in which no face was found (nothing written).
    several_faces : list of str
        Photos with more than one face (skipped, or cut as ``several`` said).
    failed : list of (str, str)
        Entries not read, with the reason: files that are not images or do not decode,
        folders nested in a label folder.
    """

    written: int = 0
    no_face: list = dataclasses.field(default_factory=list)
    several_faces: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)


def cut_faces(photos, out, *, pipeline=None, several="skip", log=None):
    """Detect the faces of labelled photos and write each as a 48×48 gray training image.

    Parameters
    ----------
    photos : str or path-like
        ``photos/<label>/<photo>`` (or ``photos/train|test/<label>/<photo>``), as
        :func:`~fer_estimator.folders.load_image_folder` reads folders.
    out : str or path-like
        Where the crops go: ``out/<label>/<photo name>-face<i>.png`` (the same split folders),
        and ``out/faces.csv``: for every crop its file, label, source photo, face index, box
        (``x, y, width, height`` in the photo) and the number of faces in the photo. A new or
        empty folder (crops of an earlier run would mix with these), outside ``photos``.
    pipeline : FacePipeline, default=None
        Its detector settings (``detector``, ``yunet_model``, ``min_face_size``,
        ``box_margin``, ``max_pixels``...) find and crop the faces; its estimator is not used.
        None: ``FacePipeline()`` (OpenCV's Haar cascade).
    several : {"skip", "largest", "all"}, default="skip"
        A photo with several faces: skipped (one cannot tell which face the label is about),
        its largest face kept, or every face kept. Each is listed in the report either way.
    log : callable, default=None
        Called with one line per photo skipped or cut with several faces.

    Returns
    -------
    CutReport

    Raises
    ------
    ValueError
        ``several`` is not one of its values, ``out`` is not empty or inside ``photos``, or
        ``photos`` is
        not a folder of label folders (see ``load_image_folder``).
    """
    if several not in SEVERAL_FACES:
        raise ValueError(f"several must be one of {', '.join(SEVERAL_FACES)}; got {several!r}")
    photos, out = Path(photos), Path(out)
    if not photos.is_dir():
        raise FileNotFoundError(f"photo folder not found: {shown(photos)}")
    if out.resolve() == photos.resolve() or photos.resolve() in out.resolve().parents:
        raise ValueError(f"the crops' folder {shown(out)} is inside the photos' folder "
                         f"{shown(photos)}: choose a folder outside it")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{shown(out)} is not empty: cut the faces into a new or empty folder "
                         f"(an earlier run's crops would mix with these)")
    pipeline = FacePipeline() if pipeline is None else pipeline
    detect = pipeline._face_detector()
    log = log or (lambda message: None)
    _, _, files, skipped = _scan(photos)
    report = CutReport(failed=list(skipped))
    rows = []
    for split, label, path in files:
        try:
            bgr = read_image(path, pipeline.max_pixels)
        except (OSError, ValueError) as error:
            report.failed.append((path, str(error)))
            log(f"skipped {shown(path)}: {error}")
            continue
        boxes, _ = detect(bgr)
        if len(boxes) == 0:
            report.no_face.append(path)
            log(f"skipped {shown(path)}: no face found")
            continue
        faces = range(len(boxes))
        if len(boxes) > 1:
            report.several_faces.append(path)
            if several == "skip":
                log(f"skipped {shown(path)}: {len(boxes)} faces (--several largest or all "
                    f"keeps them)")
                continue
            if several == "largest":
                faces = [int((boxes[:, 2] * boxes[:, 3]).argmax())]
            log(f"{shown(path)}: {len(boxes)} faces, kept {len(faces)}")
        crops = crop_faces(bgr, boxes[list(faces)], pipeline.box_margin, pipeline.square_boxes)
        folder = out / split / label if split else out / label
        for face, crop in zip(faces, crops, strict=True):
            target = folder / f"{os.path.basename(path)}-face{face}.png"
            write_image(target, crop)
            x, y, width, height = (int(value) for value in boxes[face])
            rows.append((shown(target.relative_to(out)), label, shown(path), face, x, y, width,
                         height, len(boxes)))
        report.written += len(crops)
    table = pd.DataFrame(rows, columns=FACES_COLUMNS)
    write_atomically(out / FACES_CSV, lambda temp: table.to_csv(temp, index=False))
    return report
