"""Load labelled image folders (``<class>/<image>``, or FER2013's image release
``train|test/<emotion>/<image>``) as 48×48 gray faces, with an on-disk cache of decoded arrays.

What is skipped and what is refused: a folder that cannot make a data set (missing, empty, no
class folders, split and class folders mixed, a class folder name that is not UTF-8, two
folders naming one emotion) raises a ValueError. Inside a class folder, anything that is not a
readable image (another file type, a folder nested in it, a broken link or a symbolic-link
loop, an image that does not decode) is skipped and named, in ``Bunch.skipped`` and a warning;
``on_error="raise"`` makes an image that does not decode an error instead.
"""

import concurrent.futures
import hashlib
import os
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
from sklearn.utils import Bunch
from tqdm import tqdm

from .data import IMAGE_SIZE, USAGES, _default_cache_dir, check_image_size
from .labels import EMOTIONS, class_names
from .persistence import write_atomically

# FER2013 image release: its split folders -> the CSV's Usage values.
SPLIT_USAGES = {"train": "Training", "training": "Training", "test": "PublicTest",
                "publictest": "PublicTest", "privatetest": "PrivateTest"}
# Folder names (lower case) that mean a FER2013 emotion.
EMOTION_SPELLINGS = {
    "Angry": ("angry", "anger"),
    "Disgust": ("disgust", "disgusted"),
    "Fear": ("fear", "fearful", "afraid", "scared"),
    "Happy": ("happy", "happiness", "joy"),
    "Sad": ("sad", "sadness"),
    "Surprise": ("surprise", "surprised"),
    "Neutral": ("neutral",),
}
_EMOTION_OF = {spelling: emotion for emotion, spellings in EMOTION_SPELLINGS.items()
               for spelling in spellings}
# Folders with at least this many images show a progress bar (on a terminal).
PROGRESS_MIN_FILES = 2000
# Bump when the cached arrays change meaning or layout: older cache files then stop matching.
_CACHE_FORMAT = 1


def shown(path):
    """``path`` as text that prints anywhere: bytes that are not UTF-8 as ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def emotion_of(folder_name):
    """The FER2013 emotion a folder name spells (``"happiness"`` -> ``"Happy"``), else None."""
    return _EMOTION_OF.get(folder_name.strip().lower())


def load_image_folder(path, *, n_classes=None, image_size=IMAGE_SIZE, return_X_y=False,
                      on_error="skip", cache=True, cache_dir=None, n_jobs=None, progress=None):
    """Load a folder of class folders of images as uint8 gray faces, like scikit-learn's
    ``load_files``.

    Parameters
    ----------
    path : str or path-like
        ``path/<class>/<image>``: one folder per class holding its images (JPEG, PNG, WebP,
        BMP, TIFF); or FER2013's image release ``path/train/<emotion>/<image>`` and
        ``path/test/<emotion>/<image>``, whose splits become the Usage values ``Training`` and
        ``PublicTest`` (``privatetest`` is ``PrivateTest``).
    n_classes : {None, 7, 6}, default=None
        None: the class folders found. 7 or 6: FER2013's codes and names (6 merges Disgust into
        Angry), as :func:`~fer_estimator.data.load_fer2013` gives them; every class folder must
        then name an emotion.
    image_size : int, default=48
        Side of the square images returned; images of another size are resized (area
        interpolation) and a warning says how many.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    on_error : {"skip", "raise"}, default="skip"
        What an image file that does not decode (damaged, truncated, too large) does: skipped
        and named in ``skipped`` and a warning, or a ValueError naming it.
    cache : bool, default=True
        Keep the decoded images in ``cache_dir`` and reuse them while every file's name, size,
        modification and status-change times and inode are unchanged.
    cache_dir : str or path-like, default=None
        Where the cache lives. None: as for :func:`~fer_estimator.data.load_fer2013`.
    n_jobs : int, default=None
        Threads decoding images (OpenCV releases the GIL). None: the CPU count, at most 8.
    progress : bool, default=None
        Show a progress bar. None: for folders of 2,000 images or more, on a terminal.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (uint8, shape (n, image_size, image_size)), ``target`` (int64 class codes),
        ``target_names``, ``usage`` (each image's Usage for FER2013's release layout, None
        otherwise), ``filenames``, ``skipped`` (``(path, reason)`` of every entry not loaded)
        and ``DESCR``.
    (X, y) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a folder.
    ValueError
        The folder has no class folders, mixes split and class folders, has a class folder whose
        name is not UTF-8 or two naming the same emotion, holds no image at all, or (with
        ``n_classes``) has a class folder naming no emotion; or, with ``on_error="raise"``, an
        image does not decode.

    Notes
    -----
    Class names follow FER2013's order (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral)
    when every class folder spells an emotion (``angry``, ``Happy``, ``happiness``,
    ``surprised``...: see :data:`EMOTION_SPELLINGS`); otherwise they are the folder names,
    sorted. The rows are in the order of split (Training, PublicTest, PrivateTest), then file
    name, then class folder: the same on every machine, and the CSV's row order for a folder
    whose file names number its rows (as :func:`save_image_folder` writes them).
    """
    if n_classes is not None:
        class_names(n_classes)  # validates it before any file work
    check_image_size(image_size)
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {shown(root)}")

    splits, classes, files, skipped = _scan(root)
    key = _folder_key(files, image_size)
    cache_file = _cache_file(root, cache_dir) if cache else None
    decoded = _read_cache(cache_file, key) if cache else None
    if decoded is None:
        decoded = _decode_all(files, image_size, n_jobs, progress)
        if cache and _folder_key(files, image_size) == key:  # unchanged while decoding
            _write_cache(cache_file, key, decoded)
    images, failed, resized = decoded
    if failed and on_error == "raise":
        raise ValueError(f"{shown(failed[0][0])}: {failed[0][1]}")
    if skipped or failed:
        _warn_skipped(root, skipped + failed)
    if resized:
        warnings.warn(f"{shown(root)}: {resized} image(s) were not {image_size}x{image_size}; "
                      f"resized to {image_size}x{image_size}", UserWarning, stacklevel=2)

    failed_paths = {path for path, _ in failed}
    files = [file for file in files if file[2] not in failed_paths]
    if not files:
        example = f" (e.g. {shown(skipped[0][0])}: {skipped[0][1]})" if skipped else ""
        raise ValueError(f"{shown(root)} holds no readable image in its class folders{example}")
    target_names, code_of = _class_codes(root, classes, n_classes)
    target = np.array([code_of[folder] for _, folder, _ in files], dtype=np.int64)
    usage = np.array([SPLIT_USAGES[split.lower()] for split, _, _ in files]) if splits else None
    if return_X_y:
        return images, target
    skipped = skipped + failed
    return Bunch(data=images, target=target, target_names=np.array(target_names), usage=usage,
                 filenames=np.array([path for _, _, path in files]), skipped=skipped,
                 DESCR=_describe(root, target_names, usage, len(target), len(skipped)))


def _scan(root):
    """``(splits, classes, files, skipped)``: the split folders (empty unless FER2013's release
    layout), every class folder name (empty ones too: they still name a class),
    ``(split, class_folder, path)`` of every image file, and ``(path, reason)``
    of every other entry of a class folder."""
    top = _subfolders(root)
    split_folders = [name for name in top if name.lower() in SPLIT_USAGES]
    if split_folders and len(split_folders) < len(top):
        others = sorted(set(top) - set(split_folders))
        raise ValueError(f"{shown(root)} mixes split folders {split_folders} with class "
                         f"folders {[shown(name) for name in others]}; expected either "
                         f"<class>/<image> or train|test/<class>/<image>")
    classes, files, skipped = set(), [], []
    for split in split_folders or [None]:
        base = root / split if split else root
        above = {base.resolve(), *base.resolve().parents}
        folders = _subfolders(base)
        if not folders:
            _refuse_no_classes(base)
        skipped += [(entry.path, "an image outside the class folders: it has no label")
                    for entry in sorted(os.scandir(base), key=lambda entry: entry.name)
                    if _is_image_file(entry)]
        for folder in folders:
            if (base / folder).resolve() in above:
                skipped.append((str(base / folder), "a symbolic link to a folder above it "
                                "(a loop): not a class folder"))
                continue
            _check_folder_name(base / folder)
            classes.add(folder)
            for entry in sorted(os.scandir(base / folder), key=lambda entry: entry.name):
                reason = _not_an_image(entry)
                if reason:
                    skipped.append((entry.path, reason))
                else:
                    files.append((split, folder, entry.path))
    # By split in the CSV's Usage order, then file name across the classes: numbered files
    # (an export of the CSV's rows) load in their numbers' order, whatever their classes.
    files.sort(key=lambda file: (USAGES.index(SPLIT_USAGES[file[0].lower()]) if file[0] else 0,
                                 os.path.basename(file[2]), file[1]))
    return split_folders, sorted(classes), files, skipped


def _subfolders(folder):
    """Sorted names of the folders (or links to folders) in ``folder``, hidden ones left out."""
    return sorted(entry.name for entry in os.scandir(folder)
                  if not entry.name.startswith(".") and entry.is_dir())


def _refuse_no_classes(folder):
    entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    if not entries:
        raise ValueError(f"{shown(folder)} is empty; expected one folder per class "
                         f"({shown(folder)}/<class>/<image>)")
    raise ValueError(f"{shown(folder)} holds {len(entries)} entries but no class folders "
                     f"(e.g. {shown(entries[0].name)}); put each class's images in a folder "
                     f"named after the class: {shown(folder)}/<class>/<image>")


def _check_folder_name(folder):
    try:
        folder.name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the class folder {shown(folder)} has a name that is not UTF-8 "
                         f"text, so it cannot be a class name; rename it") from None


def _not_an_image(entry):
    """Why ``entry`` of a class folder is not loaded, or None for an image file."""
    try:
        if entry.is_dir():
            return ("a folder inside a class folder: not loaded (nested folders are not "
                    "classes; move its images up or make it a class folder)")
        if not entry.is_file():
            os.stat(entry.path)  # raises for a broken link or a loop
            return "not a regular file"
    except OSError as error:  # a broken symbolic link, or one in a loop
        return f"unreadable entry ({error.strerror or error})"
    if not _is_image_file(entry):
        suffix = Path(entry.name).suffix.lower()
        return f"not an image file (suffix {suffix or 'none'!r})"
    return None


def _is_image_file(entry):
    from .faces.media import IMAGE_SUFFIXES

    return Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and entry.is_file()


def _decode_all(files, image_size, n_jobs, progress):
    """``(images, failed, resized)``: the images that decode, ``(path, reason)`` of those that
    do not, and how many were resized."""
    workers = n_jobs or min(8, os.cpu_count() or 1)
    if progress is None:
        progress = len(files) >= PROGRESS_MIN_FILES and sys.stderr.isatty()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(lambda item: _decode(item[2], image_size), files),
                            total=len(files), desc="decoding images", unit="image",
                            disable=not progress))
    images = np.array([image for image, _ in results if image is not None], dtype=np.uint8)
    images = images.reshape(-1, image_size, image_size)
    failed = [(name, reason) for (_, _, name), (image, reason) in zip(files, results, strict=True)
              if image is None]
    resized = sum(reason == "resized" for image, reason in results if image is not None)
    return images, failed, int(resized)


def _decode(path, image_size):
    """``(gray image, None | "resized")``, or ``(None, reason)`` for a file that fails."""
    from .faces.media import read_image

    try:
        bgr = read_image(path)
    except (OSError, ValueError) as error:
        return None, str(error).removeprefix(f"{path}: ")
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if gray.shape == (image_size, image_size):
        return gray, None
    return cv2.resize(gray, (image_size, image_size), interpolation=cv2.INTER_AREA), "resized"


def _class_codes(root, folders, n_classes):
    """``(target_names, {folder: code})``."""
    emotions = {folder: emotion_of(folder) for folder in folders}
    if n_classes is None and not all(emotions.values()):
        return folders, {folder: code for code, folder in enumerate(folders)}
    not_emotions = [shown(folder) for folder, emotion in emotions.items() if emotion is None]
    if not_emotions:
        raise ValueError(f"{shown(root)}: with n_classes={n_classes} every class folder must "
                         f"name a FER2013 emotion ({', '.join(EMOTIONS)}); "
                         f"{not_emotions} do not (n_classes=None keeps the folders as classes)")
    by_emotion = {}
    for folder, emotion in emotions.items():
        by_emotion.setdefault(emotion, []).append(folder)
    twice = {emotion: names for emotion, names in by_emotion.items() if len(names) > 1}
    if twice:
        emotion, names = next(iter(twice.items()))
        raise ValueError(f"{shown(root)}: the class folders {names} all mean {emotion}; "
                         f"merge them into one")
    if n_classes is None:
        names = [emotion for emotion in EMOTIONS if emotion in by_emotion]
        return names, {folder: names.index(emotion) for folder, emotion in emotions.items()}
    names = class_names(n_classes)
    merged = {"Disgust": "Angry"} if n_classes == 6 else {}
    return names, {folder: names.index(merged.get(emotion, emotion))
                   for folder, emotion in emotions.items()}


def _warn_skipped(root, skipped):
    listed = "; ".join(f"{shown(path)}: {reason}" for path, reason in skipped[:20])
    more = (f"; and {len(skipped) - 20} more (Bunch.skipped lists them)" if len(skipped) > 20
            else "")
    warnings.warn(f"{shown(root)}: skipped {len(skipped)} entries: {listed}{more}", UserWarning,
                  stacklevel=3)


def _describe(root, target_names, usage, n_images, n_skipped):
    per_usage = ""
    if usage is not None:
        names, counts = np.unique(usage, return_counts=True)
        counted = ", ".join(f"{name}: {count}" for name, count in zip(names, counts, strict=True))
        per_usage = f" ({counted})"
    return (f"Image folder {shown(root)}: {n_images} images{per_usage}, {n_skipped} entries "
            f"skipped; {len(target_names)} classes: {', '.join(map(shown, target_names))}.")


def _folder_key(files, image_size):
    """A digest of every image file's path, size, mtime, ctime and inode (see
    :func:`fer_estimator.data.load_fer2013`'s cache), the image size and the cache format."""
    digest = hashlib.sha256(f"{_CACHE_FORMAT}|{image_size}".encode())
    for _, _, name in files:
        stat = os.stat(name)
        digest.update(os.fsencode(f"\0{name}|{stat.st_size}|{stat.st_mtime_ns}|"
                                  f"{stat.st_ctime_ns}|{stat.st_ino}"))
    return digest.hexdigest()


def _cache_file(root, cache_dir):
    digest = hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:16]
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    return directory / f"folder-{digest}.npz"


def _read_cache(cache_file, key):
    """``(images, failed, resized)`` from a cache file made for ``key``; None when absent,
    stale or unreadable."""
    try:
        with np.load(cache_file, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            failed = list(zip(stored["failed_paths"].tolist(), stored["failed_reasons"].tolist(),
                              strict=True))
            return stored["images"], failed, int(stored["resized"])
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _write_cache(cache_file, key, decoded):
    """Write the decoded arrays atomically; a failure only warns (the load itself succeeded)."""
    images, failed, resized = decoded

    def write(temp_path):
        with open(temp_path, "wb") as file:  # a file object: np.savez would append ".npz"
            np.savez(file, key=np.array(key), images=images, resized=np.array(resized),
                     failed_paths=np.array([path for path, _ in failed], dtype=str),
                     failed_reasons=np.array([reason for _, reason in failed], dtype=str))

    try:
        write_atomically(cache_file, write)
    except OSError as error:
        warnings.warn(f"could not write the image-folder cache {cache_file}: {error}",
                      RuntimeWarning, stacklevel=3)


def save_image_folder(folder, images, labels, usage=None, *, suffix=".png"):
    """Write images as a labelled image folder that :func:`load_image_folder` reads back.

    Parameters
    ----------
    folder : str or path-like
        Created when missing; the images go to ``folder/<label>/<index><suffix>``, or with
        ``usage`` to FER2013's release layout ``folder/train|test/<label>/...``.
    images : ndarray of shape (n, height, width), dtype uint8
    labels : array-like of shape (n,)
        Class names (``str`` of each label names its folder).
    usage : array-like of shape (n,), default=None
        Each image's FER2013 Usage (``Training``, ``PublicTest``, ``PrivateTest``).
    suffix : str, default=".png"
        The file format; PNG is lossless, so the folder loads back to the same pixels.

    Returns
    -------
    list of Path
        The files written, in the order of ``images``.
    """
    from .faces.media import write_image

    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(f"expected uint8 images (n, height, width) and n labels; got images "
                         f"{images.dtype} {images.shape} and {len(labels)} labels")
    folder_of_usage = {usage: split for split, usage in
                       (("train", "Training"), ("test", "PublicTest"),
                        ("privatetest", "PrivateTest"))}
    written = []
    width = len(str(len(images)))
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        base = Path(folder) if usage is None else Path(folder) / folder_of_usage[usage[index]]
        path = base / str(label) / f"{index:0{width}d}{suffix}"
        write_image(path, image)
        written.append(path)
    return written
