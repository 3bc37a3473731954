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
from contextlib import nullcontext
from functools import partial
from numbers import Integral
from pathlib import Path

import cv2
from tqdm import tqdm

from .._output_paths import printable
from .._validation import Interval, check_params
from ..persistence import dump_json, write_atomically
from .media import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    encode_image,
    is_video_path,
    write_encoded_image,
)
from .results import FaceResults

# What one input can fail with, short of a bug: a missing or unreadable file, a refused
# (too large, truncated, undecodable) image, OpenCV failing on its content, memory.
INPUT_ERRORS = (OSError, ValueError, TypeError, cv2.error, MemoryError)
# The format of the annotated copies of video frames.
FRAME_SUFFIX = ".jpg"


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
            name = relative.name if suffix in IMAGE_SUFFIXES else relative.stem + FRAME_SUFFIX
        else:
            stem = relative.stem
            if relative.with_suffix("") in self._shared_stems:
                stem = f"{stem}_{suffix.lstrip('.')}"
            name = f"{stem}_frame{frame:06d}{FRAME_SUFFIX}"
        candidate = self.out_dir / relative.parent / name
        unique, number = candidate, 1
        while unique.resolve() in self._used:
            number += 1
            unique = candidate.with_name(f"{candidate.stem}-{number}{candidate.suffix}")
        self._used.add(unique.resolve())
        return unique


def predict_batch(pipeline, sources, iter_source=None, *, frame_stride=1, client=None, out=None,
                  json_path=None, csv_path=None, log=None, show=tqdm.write):
    """Predict every source, skip and report the failing ones, and save what succeeded.

    Parameters
    ----------
    pipeline : FacePipeline
    sources : list of Path or str
        Files, or names that ``iter_source`` understands (the demo photo).
    iter_source : callable, optional
        ``iter_source(source)`` yields ``(ImageFaces, bgr)`` for each image or frame; default:
        ``pipeline.iter_predict(source, frame_stride=frame_stride, return_images=True)``.
    frame_stride : int, default=1
        Use every ``frame_stride``-th frame of a video, when ``iter_source`` is not given.
    client : distributed.Client, optional
        Read and predict the sources on this Dask cluster's workers, one task per file (a
        video's frames stay on one worker), each worker process loading the pipeline once
        (:class:`fer_estimator.faces.distributed.PipelineOnWorkers`). The paths must name the same
        files on the workers (a shared filesystem); the results, JSON, CSV and annotated copies
        are those of a local run, written here. Summaries and skipped inputs are reported as
        the files finish; an input whose workers keep dying is skipped, with that reason.
    out : Path, optional
        A folder for annotated copies; or a file name (with an image suffix) when there is a
        single still image, other than that image.
    json_path, csv_path : Path, optional
        Where the results of all good inputs go, in the order of ``sources``; written even when
        the run stops early.
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
        a video, or ``out`` is the single input itself (nothing is overwritten); both
        ``client`` and ``iter_source`` are given (``iter_source`` would run here); a worker of
        ``client`` cannot load the pipeline.
    """
    if client is not None and iter_source is not None:
        raise ValueError("iter_source runs on this machine: with client=, the workers read "
                         "each source with pipeline.iter_predict; leave iter_source out")
    if iter_source is None:
        check_params({"frame_stride": [Interval(Integral, 1, None, closed="left")]},
                     {"frame_stride": frame_stride}, "predict_batch")
    outputs = _BatchOutputs(sources, out, log or log_to_stderr, show)
    # Entered before the run: a worker that cannot load the pipeline stops it with no output.
    with _on_workers(client, pipeline) as workers:
        try:
            if workers is None:
                iter_source = iter_source or partial(_predict_frames, pipeline,
                                                     frame_stride=frame_stride)
                for index, source in enumerate(_progress(sources, len(sources))):
                    outputs.add(index, _annotated(pipeline, iter_source, source,
                                                  outputs.suffix(index)))
            else:
                tasks = workers.map(_predict_file, [(source, outputs.suffix(index)) for
                                                    index, source in enumerate(sources)],
                                    frame_stride)
                for index, outcome, lost in _progress(tasks, len(sources)):
                    frames, reason = ([], lost) if lost is not None else outcome
                    outputs.add(index, frames)
                    if reason is not None:
                        outputs.skip(index, reason)
        finally:
            # Whatever stopped the run, the good inputs' results are saved.
            save_results(outputs.results(pipeline.class_names()), json_path, csv_path)
    return outputs.skipped


def _on_workers(client, pipeline):
    """A :class:`~fer_estimator.faces.distributed.PipelineOnWorkers` block on ``client``, or,
    without one, a block giving None."""
    if client is None:
        return nullcontext()
    from .distributed import PipelineOnWorkers  # Dask: only for a run on a cluster

    return PipelineOnWorkers(client, pipeline)


def _predict_file(pipeline, source_and_suffix, frame_stride):
    """On a Dask worker: the results of one input and their annotated copies, encoded.

    Parameters
    ----------
    pipeline : FacePipeline
    source_and_suffix : tuple
        The input, and the suffix (``".jpg"``...) of its annotated copies, or None for none.
    frame_stride : int

    Returns
    -------
    frames : list of (ImageFaces, bytes or None)
        The input's images or frames done, with their annotated copies.
    reason : str or None
        Why the input failed (after ``frames``, when a video fails midway), as a local run
        reports it.
    """
    source, suffix = source_and_suffix
    frames = []
    try:
        frames.extend(_annotated(pipeline, partial(_predict_frames, pipeline,
                                                   frame_stride=frame_stride), source, suffix))
    except INPUT_ERRORS as error:
        return frames, _reason(source, error)
    return frames, None


def _predict_frames(pipeline, source, frame_stride):
    return pipeline.iter_predict(source, frame_stride=frame_stride, return_images=True)


def _annotated(pipeline, iter_source, source, suffix):
    """``(ImageFaces, annotated copy encoded in suffix's format)`` for each ``(ImageFaces,
    bgr)`` that ``iter_source(source)`` gives; no copy (None) when ``suffix`` is None.

    A generator: ``iter_source`` is called, and fails, where it is iterated."""
    for faces, bgr in iter_source(source):
        yield faces, None if suffix is None else encode_image(pipeline.annotate(bgr, faces),
                                                              suffix)


def _progress(iterable, total):
    return tqdm(iterable, total=total, desc="predict", unit="file", disable=total < 2 or None)


class _BatchOutputs:
    """What a batch run keeps on this machine: each input's results (in the inputs' order,
    whatever order they finish in), their summaries, annotated copies and skip reports.

    The annotated copies of still images get their names when the run starts, in the inputs'
    order: which input finishes first on a cluster never changes a name.
    """

    def __init__(self, sources, out, log, show):
        self.sources, self.log, self.show = sources, log, show
        self.skipped = 0
        self._out_file = out if out_is_a_file(out, sources) else None
        self._names = None if out is None or self._out_file else AnnotatedNames(out, sources)
        self._still_targets = {}
        if self._names is not None:
            out.mkdir(parents=True, exist_ok=True)
            self._still_targets = {index: self._names.target(source)
                                   for index, source in enumerate(sources)
                                   if not is_video_path(source)}
        self._out = out
        self._frames = [[] for _ in sources]

    def suffix(self, index):
        """The format (``".jpg"``...) of the annotated copies of ``sources[index]``, or None
        when none is made."""
        if self._out is None:
            return None
        if self._out_file is not None:
            return self._out_file.suffix
        still = self._still_targets.get(index)
        return FRAME_SUFFIX if still is None else still.suffix

    def add(self, index, frames):
        """Keep, show and save ``(ImageFaces, encoded annotated copy or None)`` for each image
        or frame of input ``index``; an input error on the way skips the input, after what it
        gave."""
        try:
            for faces, encoded in frames:
                self._frames[index].append(faces)
                self.show(summary(faces))
                if encoded is not None:
                    write_encoded_image(self._target(index, faces.frame), encoded)
        except INPUT_ERRORS as error:
            self.skip(index, error)

    def skip(self, index, reason):
        """Report input ``index`` as skipped, for ``reason`` (a message or an exception)."""
        self.log(f"skipped {_reason(self.sources[index], reason)}")
        self.skipped += 1

    def results(self, classes):
        """The results of every input, in the inputs' order."""
        return FaceResults([faces for frames in self._frames for faces in frames], classes)

    def _target(self, index, frame):
        if self._out_file is not None:
            return self._out_file
        if frame is None and index in self._still_targets:
            return self._still_targets[index]
        return self._names.target(self.sources[index], frame)


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
        write_atomically(csv_path, results.to_csv)


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
