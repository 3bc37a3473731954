"""Measure the face detectors: faces found, false detections and ms per image, by setting.

Every registered detector runs at several settings (Haar's ``min_neighbors``, YuNet's
``score_threshold``) on the photos at hand, with FacePipeline's other defaults:

- three photos with hand-marked faces: scikit-image's astronaut (1 face) and cameraman (1), and
  the shared group photo (6, 2048x1536; skipped when ``shared/`` is absent);
- a mosaic of scikit-image's 100 LFW faces (25x25 crops, enlarged to 100x100 with a border);
- eight scikit-image photos without a face (cat, coffee, rocket, Hubble, coins, a micrograph,
  bricks, gravel), where every detection is false.

A detection is true when its box holds the centre of a marked face not yet found; any other
is false. Times are the best of ``--repeats`` runs (the least disturbed by other processes), in
milliseconds per image, on images already in memory.

Usage::

    python scripts/bench_detectors.py [--repeats 5] [--draw FOLDER]
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from _shared import SHARED_GROUP_PHOTO

from fer_estimator.faces.detectors import DETECTORS, make_detector

# Settings measured per detector; the first is the default.
SETTINGS = {
    "haar": [{"min_neighbors": n} for n in (5, 3, 8)],
    "yunet": [{"score_threshold": t} for t in (0.6, 0.3, 0.5, 0.7, 0.8, 0.9)],
}
# Hand-marked face centres (x, y), from a look at each photo.
GROUP_FACES = [(362, 405), (631, 477), (897, 425), (1239, 452), (1584, 435), (1066, 1164)]
NO_FACES = ("chelsea", "coffee", "rocket", "hubble_deep_field", "coins", "immunohistochemistry",
            "brick", "gravel")
LFW_SIDE, LFW_BORDER = 100, 30


def photos():
    """``name -> (bgr, face centres)``: the photos the table is measured on."""
    from skimage import data

    found = {"astronaut": (data.astronaut()[:, :, ::-1], [(225, 123)]),
             "cameraman": (cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR), [(226, 157)])}
    if SHARED_GROUP_PHOTO.is_file():
        found["group"] = (cv2.imread(str(SHARED_GROUP_PHOTO)), GROUP_FACES)
    found["lfw mosaic"] = _lfw_mosaic(data.lfw_subset()[:100])
    for name in NO_FACES:
        image = getattr(data, name)()
        image = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        found[name] = (np.ascontiguousarray(image[:, :, 2::-1]), [])
    return found


def _lfw_mosaic(faces, columns=10):
    """The 25x25 float faces, each enlarged and framed in mid-grey, in a grid."""
    cell = LFW_SIDE + 2 * LFW_BORDER
    rows = -(-len(faces) // columns)
    mosaic = np.full((rows * cell, columns * cell), 128, dtype=np.uint8)
    centres = []
    for index, face in enumerate(faces):
        row, column = divmod(index, columns)
        y, x = row * cell + LFW_BORDER, column * cell + LFW_BORDER
        mosaic[y:y + LFW_SIDE, x:x + LFW_SIDE] = cv2.resize(
            (face * 255).astype(np.uint8), (LFW_SIDE, LFW_SIDE), interpolation=cv2.INTER_CUBIC)
        centres.append((x + LFW_SIDE // 2, y + LFW_SIDE // 2))
    return cv2.cvtColor(mosaic, cv2.COLOR_GRAY2BGR), centres


def score(boxes, centres):
    """``(true, false)`` detections: a box is true when it holds a centre not yet claimed."""
    left = list(centres)
    true = 0
    for x, y, w, h in boxes:
        hit = next((c for c in left if x <= c[0] < x + w and y <= c[1] < y + h), None)
        if hit is not None:
            left.remove(hit)
            true += 1
    return true, len(boxes) - true


def measure(detector, images, repeats):
    """Per image: ``(boxes, true, false, ms)``."""
    rows = {}
    for name, (image, centres) in images.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            boxes, _ = detector(image)
            times.append(time.perf_counter() - start)
        rows[name] = (boxes, *score(boxes, centres), 1000 * min(times))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--draw", type=Path, help="save every image with its boxes here")
    args = parser.parse_args(argv)
    images = photos()
    marked = sum(len(centres) for _, centres in images.values())
    face_photos = [name for name, (_, centres) in images.items() if centres]
    print(f"{marked} marked faces in {', '.join(face_photos)}; "
          f"{len(images) - len(face_photos)} photos without a face\n")
    header = ["detector", "setting", *(f"{name} found/false" for name in face_photos),
              "false on no-face photos", "ms per image (group or astronaut)"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    timed = "group" if "group" in images else "astronaut"
    for name in DETECTORS:
        for setting in SETTINGS.get(name, [{}]):
            rows = measure(make_detector(name, setting), images, args.repeats)
            cells = [f"{rows[p][1]}/{len(images[p][1])} ({rows[p][2]})" for p in face_photos]
            no_face_false = sum(rows[p][2] for p in images if p not in face_photos)
            label = ", ".join(f"{key}={value}" for key, value in setting.items())
            print(f"| {name} | {label} | {' | '.join(cells)} | {no_face_false} | "
                  f"{rows[timed][3]:.1f} |", flush=True)
            if args.draw:
                _draw(args.draw, name, label, images, rows)
    return 0


def _draw(folder, name, label, images, rows):
    folder.mkdir(parents=True, exist_ok=True)
    for photo, (image, _) in images.items():
        drawing = image.copy()
        for x, y, w, h in rows[photo][0]:
            cv2.rectangle(drawing, (int(x), int(y)), (int(x + w), int(y + h)), (0, 0, 255), 3)
        stem = f"{name}-{label}-{photo}".replace(" ", "_").replace("=", "")
        cv2.imwrite(str(folder / f"{stem}.png"), drawing)


if __name__ == "__main__":
    sys.exit(main())
