"""Batch runs over many files (``fer-estimator predict``): no input's failure loses the others.

Every input that fails (unreadable, truncated, too large, an OpenCV error) is reported with its
reason and skipped; the results of every good input are still written to JSON and CSV, even when
the run stops on an unexpected error; annotated copies mirror the inputs' relative paths, so two
inputs never write the same file, and no annotated copy replaces an input (``--out`` may be the
inputs' own folder).
"""

import os
import sys
from collections import Counter
from pathlib import Path

import cv2
from tqdm import tqdm

from .._output_paths import printable
from ..persistence import dump_json, write_atomically
from .media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, is_video_path, write_image
from .results import FaceResults

# What one input can fail with, short of a bug: a missing or unreadable file, a refused
# (too large, truncated, undecodable) image, OpenCV failing on its content, memory.
INPUT_ERRORS = (OSError, ValueError, TypeError, cv2.error, MemoryError)


def expand_inputs(inputs, log=None):
    """Files as given, and the images and videos of folders (sorted); count empty folders.

    ``log(message)`` reports an empty folder; default: stderr.
    """
    log = log or log_to_stderr
    sources, skipped = [], 0
    for path in inputs:
        if not path.is_dir():
            sources.append(path)
            continue
        media = sorted(child for child in path.iterdir() if child.is_file()
                       and child.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        if not media:
            log(f"skipped {path}: no images or videos in this folder")
            skipped += 1
        sources.extend(media)
    return sources, skipped


class AnnotatedNames:
    """Unique paths for the annotated copies of a batch's inputs, inside ``out_dir``.

    Each input keeps its path relative to the inputs' common folder (``a/IMG_1.jpg`` and
    ``b/IMG_1.jpg`` become ``out/a/IMG_1.jpg`` and ``out/b/IMG_1.jpg``); video frames are
    ``<stem>_frame<NNNNNN>.jpg``, with the video's suffix in the name when two videos share a
    stem (``clip_avi_frame000000.jpg``, ``clip_mp4_frame000000.jpg``). Any remaining clash
    (the same file given twice, or ``out_dir`` being the inputs' folder, where a copy would
    replace its input) gets ``-2``, ``-3``... before the suffix.
    """

    def __init__(self, out_dir, sources):
        self.out_dir = Path(out_dir)
        files = [Path(source) for source in sources if isinstance(source, Path)]
        parents = [str(path.resolve().parent) for path in files]
        self._root = Path(os.path.commonpath(parents)) if parents else None
        video_stems = Counter(self._relative(path).with_suffix("") for path in files
                              if is_video_path(path))
        self._shared_stems = {stem for stem, count in video_stems.items() if count > 1}
        # Resolved paths taken: the inputs themselves, then every copy written.
        self._used = {path.resolve() for path in files}

    def _relative(self, path):
        if self._root is None or not isinstance(path, Path):
            return Path(Path(str(path)).name)
        return path.resolve().relative_to(self._root)

    def target(self, source, frame=None):
        """The path for the annotated ``source`` (frame ``frame`` of a video)."""
        relative = self._relative(source)
        suffix = relative.suffix.lower()
        if frame is None:
            name = relative.name if suffix in IMAGE_SUFFIXES else f"{relative.stem}.jpg"
        else:
            stem = relative.stem
            if relative.with_suffix("") in self._shared_stems:
                stem = f"{stem}_{suffix.lstrip('.')}"
            name = f"{stem}_frame{frame:06d}.jpg"
        candidate = self.out_dir / relative.parent / name
        unique, number = candidate, 1
        while unique.resolve() in self._used:
            number += 1
            unique = candidate.with_name(f"{candidate.stem}-{number}{candidate.suffix}")
        self._used.add(unique.resolve())
        return unique


def predict_batch(pipeline, sources, iter_source, *, out=None, json_path=None, csv_path=None,
                  log=None, show=tqdm.write):
    """Predict every source, skip and report the failing ones, and save what succeeded.

    Parameters
    ----------
    pipeline : FacePipeline
    sources : list of Path or str
        Files, or names that ``iter_source`` understands (the demo photo).
    iter_source : callable
        ``iter_source(source)`` yields ``(ImageFaces, bgr)`` for each image or frame.
    out : Path, optional
        A folder for annotated copies; or a file name (with an image suffix) when there is a
        single still image, other than that image.
    json_path, csv_path : Path, optional
        Where the results of all good inputs go; written even when the run stops early.
    log : callable, optional
        ``log(message)`` for skipped inputs; default: stderr with a ``fer-estimator:`` prefix.
    show : callable
        ``show(line)`` for the per-image summaries.

    Returns
    -------
    int
        The number of inputs skipped.

    Raises
    ------
    ValueError
        Before any input is read: ``out`` names an image file but there are several inputs or
        a video, or ``out`` is the single input itself (nothing is overwritten).
    """
    log = log or log_to_stderr
    single_out = out_is_a_file(out, sources)
    names = None if out is None or single_out else AnnotatedNames(out, sources)
    if names is not None:
        out.mkdir(parents=True, exist_ok=True)
    results, skipped = [], 0
    try:
        for source in tqdm(sources, desc="predict", unit="file",
                           disable=len(sources) < 2 or None):
            try:
                for faces, bgr in iter_source(source):
                    results.append(faces)
                    show(summary(faces))
                    if out is not None:
                        target = out if single_out else names.target(source, faces.frame)
                        write_image(target, pipeline.annotate(bgr, faces))
            except INPUT_ERRORS as error:
                log(f"skipped {_reason(source, error)}")
                skipped += 1
    finally:
        # Whatever stopped the run, the good inputs' results are saved.
        save_results(FaceResults(results, pipeline.class_names()), json_path, csv_path)
    return skipped


def out_is_a_file(out, sources):
    """Whether ``out`` (Path or None) names the annotated copy of a single still image, not a
    folder: it has an image suffix.

    Raises
    ------
    ValueError
        ``out`` has an image suffix but there are several sources or a video, or it is the
        single source itself.
    """
    if out is None or out.suffix.lower() not in IMAGE_SUFFIXES:
        return False
    if len(sources) != 1:
        raise ValueError(f"out={out} names a file but there are {len(sources)} inputs: give "
                         f"a folder (a name without an image suffix)")
    if is_video_path(sources[0]):
        raise ValueError(f"out={out} names a file but {sources[0]} is a video, one annotated "
                         f"image per frame: give a folder (a name without an image suffix)")
    source = sources[0]
    if isinstance(source, Path) and out.resolve() == source.resolve():
        raise ValueError(f"out={out} is the input itself: the annotated copy would overwrite "
                         f"it; give another file name or a folder")
    return True


def save_results(results, json_path=None, csv_path=None):
    """Write ``results`` (FaceResults) as JSON and/or CSV, atomically.

    A file name that is not valid UTF-8 (Python holds its bad bytes as lone surrogates, as
    ``os.fsdecode`` does) is written as it is on disk: in the CSV as its own bytes (read it back
    with ``encoding_errors="surrogateescape"``), in the JSON as ``\\udcXX`` escapes, which
    Python's ``json`` reads back to the same string; ``os.fsencode`` of either gives the name.
    """
    if json_path is not None:
        dump_json(results.to_dict(), json_path)
    if csv_path is not None:
        frame = results.to_frame()
        write_atomically(csv_path, lambda temp: frame.to_csv(temp, index=False,
                                                             errors="surrogateescape"))


def summary(faces):
    """One line for one image's faces: where, how many, and each label with its box."""
    where = faces.image if faces.frame is None else f"{faces.image} frame {faces.frame}"
    found = ", ".join(f"{face.label} {face.probabilities[face.label]:.0%} at {face.box}"
                      for face in faces)
    return printable(f"{where}: {len(faces)} face{'' if len(faces) == 1 else 's'}" +
                     (f": {found}" if found else ""))


def _reason(source, error):
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, cv2.error):
        text = f"OpenCV could not process it ({text})"
    return text if str(source) in text else f"{source}: {text}"


def log_to_stderr(message):
    """Print ``message`` on stderr, with a ``fer-estimator:`` prefix, above any progress bar."""
    tqdm.write(f"fer-estimator: {printable(message)}", file=sys.stderr)
