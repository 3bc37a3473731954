"""Load the FER2013 Kaggle CSV (``emotion,pixels,Usage``) fast, with an on-disk cache of parsed
arrays.

Rows are counted from 0 after the header line in every error message, blank lines included (a
blank line amid the data is a bad row), so row ``i`` is on line ``i + 2`` of the CSV file.
"""

import contextlib
import difflib
import gzip
import hashlib
import io
import math
import os
import re
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._extras import requires_install
from ._input_files import BoundedLineReader, check_regular_file
from .labels import class_names, merge_disgust_into_angry
from .persistence import write_atomically

IMAGE_SIZE = 48
REQUIRED_COLUMNS = ("emotion", "pixels", "Usage")
USAGES = ("Training", "PublicTest", "PrivateTest")

# Bump when the cached arrays change meaning or layout: older cache files then stop matching.
_CACHE_FORMAT = 1
# Rows parsed per vectorised batch: about 4 MB of text, which keeps the temporaries in CPU cache
# (a whole-file batch measured 5-8x slower than 512-row batches).
_CHUNK_ROWS = 512
_ASCII_ZERO, _ASCII_SPACE = ord("0"), ord(" ")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Bounds on what a CSV may hold, so that no file (a 2 GB file of NUL bytes, a small gzip
# inflating to GiBs) can exhaust memory: the text read in all, decompressed (FER2013 is 287 MB),
# the header line and any other line (a FER2013 row is at most 9.3 kB), and the lines (FER2013
# has 35,888; a valid row holds at least 4.6 kB, so 1 GiB holds fewer than 2**18 of them: more
# are short lines, each costing pandas far more memory than its bytes).
MAX_CSV_BYTES = 2**30
MAX_CSV_LINES = 2**18
MAX_HEADER_BYTES = 4096
MAX_LINE_BYTES = 2**20
_GZIP_MAGIC = b"\x1f\x8b"


def check_image_size(image_size):
    """Raise a ValueError unless ``image_size`` (the side of a square image) is a positive int."""
    if (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
            or image_size < 1):
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")


def parse_pixel_strings(strings, image_size=IMAGE_SIZE):
    """Parse FER2013 pixel strings (space-separated grey levels) into uint8 images.

    Parameters
    ----------
    strings : sequence of str, pandas.Series or 1-D ndarray of shape (n_samples,)
        One string of ``image_size**2`` integers in 0-255 per image, row-major.
    image_size : int, default=48
        Side of the square images the strings hold.

    Returns
    -------
    images : ndarray of shape (n_samples, image_size, image_size), dtype uint8

    Raises
    ------
    ValueError
        Naming the first bad row (counted from 0) and what is wrong with it: a missing (None/NaN)
        or empty string, a token that is not an integer, the wrong number of values, or a value
        outside 0-255.

    Notes
    -----
    Batches of rows are parsed at the byte level with numpy. A batch that is not plain ASCII
    digits and spaces, or fails a check, is parsed again row by row in Python, which accepts
    other whitespace, signs and leading zeros, and reports the first bad row.
    """
    check_image_size(image_size)
    # A Series can only be one when pandas is loaded: the inference install has no pandas, and
    # predicting parses no CSV.
    pandas = sys.modules.get("pandas")
    rows = (strings.to_numpy(dtype=object) if pandas is not None
            and isinstance(strings, pandas.Series) else np.asarray(strings, dtype=object))
    if rows.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of pixel strings, got an array of shape "
                         f"{rows.shape}")
    n_pixels = int(image_size) ** 2
    images = np.empty((rows.size, n_pixels), dtype=np.uint8)
    for start in range(0, rows.size, _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        parsed = _parse_chunk_fast(chunk, n_pixels)
        if parsed is None:
            parsed = np.stack([_parse_row(text, start + i, n_pixels)
                               for i, text in enumerate(chunk)])
        images[start : start + chunk.size] = parsed
    return images.reshape(rows.size, image_size, image_size)


def _parse_chunk_fast(chunk, n_pixels):
    """Parse well-formed rows with whole-batch numpy operations; None when anything looks wrong."""
    try:
        text = " ".join(chunk).encode("ascii")
    except (TypeError, UnicodeEncodeError):  # None/NaN rows or non-ASCII text
        return None
    row_starts = np.cumsum([0] + [len(row) + 1 for row in chunk[:-1]])
    buf = np.frombuffer(text, dtype=np.uint8)
    digits = buf - np.uint8(_ASCII_ZERO)  # non-digits wrap around to values above 9
    is_digit = digits <= 9
    if not (is_digit | (buf == _ASCII_SPACE)).all():
        return None
    # Digit runs are the tokens: the changes of is_digit alternate between token starts and ends.
    edges = np.flatnonzero(np.diff(is_digit, prepend=False, append=False))
    starts, ends = edges[0::2], edges[1::2]
    tokens_per_row = np.diff(np.searchsorted(starts, row_starts), append=starts.size)
    if (tokens_per_row != n_pixels).any():
        return None
    lengths = ends - starts
    if lengths.max() > 3:
        return None
    # Index wrap-around for short tokens at the buffer start is harmless: those terms are
    # multiplied by 0.
    values = digits[ends - 1].astype(np.uint16)
    values += (lengths >= 2) * digits[ends - 2].astype(np.uint16) * 10
    values += (lengths >= 3) * digits[ends - 3].astype(np.uint16) * 100
    if values.max() > 255:
        return None
    return values.astype(np.uint8).reshape(chunk.size, n_pixels)


def _parse_row(text, row, n_pixels):
    """Parse one pixel string in plain Python, raising a ValueError that says what is wrong."""
    if not isinstance(text, str):
        what = "a missing value" if _is_missing(text) else type(text).__name__
        raise ValueError(f"row {row}: expected a pixel string, got {what} ({text!r})")
    tokens = text.split()
    if not tokens:
        raise ValueError(f"row {row}: the pixel string is empty")
    not_number = next((token for token in tokens if not _INTEGER.fullmatch(token)), None)
    if not_number is not None:
        raise ValueError(f"row {row}: {not_number!r} is not an integer pixel value")
    if len(tokens) != n_pixels:
        side = round(n_pixels**0.5)
        raise ValueError(f"row {row}: found {len(tokens)} pixel values, expected {n_pixels} "
                         f"({side}x{side})")
    values = np.array([int(token) for token in tokens], dtype=np.int64)
    outside = np.flatnonzero((values < 0) | (values > 255))
    if outside.size:
        raise ValueError(f"row {row}: pixel value {values[outside[0]]} at position {outside[0]} "
                         f"is outside 0-255")
    return values.astype(np.uint8)


def _is_missing(value):
    """Whether ``value`` is a missing value: None, NaN, or pandas' NA and NaT when pandas is
    loaded (only a pandas object can hold those)."""
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return True
    pandas = sys.modules.get("pandas")
    return (pandas is not None and pandas.api.types.is_scalar(value)
            and bool(pandas.isna(value)))


def _pandas():
    """pandas, which reading a CSV needs (the training install brings it)."""
    with requires_install("load_fer2013"):
        import pandas
    return pandas


def load_fer2013(
    path, *, usage=None, n_classes=7, pixels="images", return_X_y=False, cache=True, cache_dir=None
):
    """Load the FER2013 Kaggle CSV (``emotion,pixels,Usage``; plain or gzip-compressed).

    Parameters
    ----------
    path : str or path-like
        The CSV file, e.g. ``fer2013.csv`` or ``fer2013.csv.gz``.
    usage : str or list of str, default=None
        Keep only these ``Usage`` values (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``);
        None keeps every row.
    n_classes : {7, 6}, default=7
        7: the original labels. 6: Disgust merged into Angry.
    pixels : {"images", "strings"}, default="images"
        ``"images"``: X is uint8 of shape (n_samples, 48, 48). ``"strings"``: X is an object
        array of the file's own pixel strings, for a Pipeline whose PixelTransformer parses them.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    cache : bool, default=True
        Keep the parsed arrays in ``cache_dir`` and reuse them while the file's path, size,
        modification and status-change times and inode are unchanged (an edit in place that
        keeps the size and restores the modification time still changes the status-change
        time, so it is never served from a stale cache).
    cache_dir : str or path-like, default=None
        Where the cache lives. None: ``$FER_ESTIMATOR_CACHE``, else
        ``$XDG_CACHE_HOME/fer-estimator``, else ``~/.cache/fer-estimator``.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (X), ``target`` (int64 class codes), ``target_names``, ``usage`` (the ``Usage``
        of each row) and ``DESCR``.
    (X, y) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The path is not a regular file (a folder, a FIFO, a device); the file is larger than
        its bounds (see Notes); it is not a readable CSV (truncated gzip, binary, empty) or has
        no data rows; a
        required column is missing; a row holds a bad emotion code, a ``Usage`` other than
        Training, PublicTest and PrivateTest, or a bad pixel string; or ``usage`` asks for a
        value the file does not hold. Every message names the file (and the row).

    Notes
    -----
    Every read is bounded before it is parsed: the header line may hold 4,096 bytes, any other
    line 1 MiB, the whole text (after decompression) 1 GiB in at most 262,144 lines
    (:data:`MAX_HEADER_BYTES`, :data:`MAX_LINE_BYTES`, :data:`MAX_CSV_BYTES`,
    :data:`MAX_CSV_LINES`); the file is refused as soon as a read goes beyond.
    A gzip file is known by its first bytes, whatever its name.

    The cache holds the parsed arrays only (emotion codes, uint8 images, usage), written
    atomically so concurrent loaders never see half a file; an unreadable cache file is ignored
    and rewritten. ``pixels="strings"`` re-reads the text from the CSV every time: caching a
    second copy of the text would save little, as reading it is that mode's main cost. Its
    pixel strings are checked by parsing them only when no cache vouches for this exact file.
    """
    class_names(n_classes)  # validates n_classes before any file work
    if pixels not in ("images", "strings"):
        raise ValueError(f"pixels must be 'images' or 'strings', got {pixels!r}")
    path = check_regular_file(path, "FER2013 CSV")

    key = _file_key(path)  # taken before reading, so a file changed meanwhile is never cached
    cache_file = _cache_file(path, cache_dir) if cache else None
    cached = _read_cache(cache_file, key) if cache else None
    if cached is not None and pixels == "images":
        emotion, X, usages = cached
    else:
        table = _read_table(path)
        emotion, usages = _labels_from_table(table, path)
        strings = table["pixels"].to_numpy(dtype=object)
        images = _parse_file_pixels(strings, path) if cached is None else None
        if cached is None and cache and _file_key(path) == key:
            _write_cache(cache_file, key, emotion, images, usages)
        X = images if pixels == "images" else strings

    if usage is not None:
        keep = np.isin(usages, _requested_usages(usage, usages, path))
        X, emotion, usages = X[keep], emotion[keep], usages[keep]
    target = (emotion if n_classes == 7 else merge_disgust_into_angry(emotion)).astype(np.int64)
    if return_X_y:
        return X, target
    return Bunch(
        data=X,
        target=target,
        target_names=np.array(class_names(n_classes)),
        usage=usages,
        DESCR=_describe(path, usages, n_classes),
    )


def _open_bounded(path, stack):
    """A binary stream of the CSV's text (decompressed), bounded as :func:`load_fer2013` says."""
    raw = stack.enter_context(open(path, "rb"))
    compressed = raw.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    raw.seek(0)
    source = stack.enter_context(gzip.GzipFile(fileobj=raw)) if compressed else raw
    if not compressed and path.stat().st_size > MAX_CSV_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size:,} bytes, more than the "
                         f"{MAX_CSV_BYTES:,} a FER2013 CSV may hold")
    bounded = BoundedLineReader(source, str(path), max_bytes=MAX_CSV_BYTES,
                                max_lines=MAX_CSV_LINES,
                                max_header_bytes=MAX_HEADER_BYTES, max_line_bytes=MAX_LINE_BYTES)
    return stack.enter_context(io.BufferedReader(bounded))


def _read_table(path):
    pd = _pandas()
    try:
        with contextlib.ExitStack() as stack:
            # Blank lines stay rows (all NaN, refused as bad rows) so that row i is on line
            # i + 2, as every error message says; skipped, they would shift the rows after them.
            table = pd.read_csv(_open_bounded(path, stack), dtype={"pixels": str, "Usage": str},
                                skip_blank_lines=False)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as error:
        # A truncated .gz (EOFError), a file that is not gzip after all, binary data, a
        # 0-byte file: the library's message alone does not say which file.
        raise ValueError(f"{path}: not a readable FER2013 CSV ({type(error).__name__}: "
                         f"{error})") from error
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    # Blank lines at the end shift no row: dropped, as they were before.
    filled = np.flatnonzero(table.notna().any(axis=1).to_numpy())
    table = table.iloc[:filled[-1] + 1 if filled.size else 0]
    if table.empty:
        raise ValueError(f"{path}: no data rows (only the header line)")
    return table


def _labels_from_table(table, path):
    """Validated emotion codes (int8) and Usage values (str array) of every row."""
    raw = table["emotion"]
    codes = _pandas().to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isin(codes, np.arange(7)))
    if bad.size:
        row = int(bad[0])
        if table.iloc[row].isna().all():
            raise ValueError(f"{path}: row {row} is a blank line (line {row + 2} of the file); "
                             f"expected emotion,pixels,Usage")
        raise ValueError(f"{path}: row {row} has emotion {raw.iloc[row]!r}, expected an integer "
                         f"code 0-6")
    missing_usage = np.flatnonzero(table["Usage"].isna().to_numpy())
    if missing_usage.size:
        raise ValueError(f"{path}: row {int(missing_usage[0])} has no Usage value")
    usages = table["Usage"].to_numpy(dtype=str)
    unknown = np.flatnonzero(~np.isin(usages, USAGES))
    if unknown.size:
        row, value = int(unknown[0]), str(usages[unknown[0]])
        close = difflib.get_close_matches(value, USAGES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{path}: row {row} has Usage {value!r}{hint}; expected one of "
                         f"{', '.join(USAGES)}")
    return codes.astype(np.int8), usages


def _parse_file_pixels(strings, path):
    try:
        return parse_pixel_strings(strings)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def _requested_usages(usage, usages, path):
    requested = [usage] if isinstance(usage, str) else list(usage)
    present = [str(name) for name in np.unique(usages)]
    unknown = [name for name in requested if name not in present]
    if unknown or not requested:
        raise ValueError(f"usage {unknown or requested!r} not in {path}; it holds {present}")
    return requested


def _describe(path, usages, n_classes):
    names, counts = np.unique(usages, return_counts=True)
    per_usage = ", ".join(f"{name}: {count}" for name, count in zip(names, counts, strict=True))
    return (
        f"FER2013 facial expressions from {path}: {usages.size} rows ({per_usage}); "
        f"48x48 grey images; {n_classes} classes: {', '.join(class_names(n_classes))}."
    )


def _default_cache_dir():
    if os.environ.get("FER_ESTIMATOR_CACHE"):
        return Path(os.environ["FER_ESTIMATOR_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "fer-estimator"
    return Path.home() / ".cache" / "fer-estimator"


def _file_key(path):
    """What identifies one version of the file: absolute path, size, mtime, ctime, inode and
    the cache format.

    The status-change time (ctime) cannot be set back by ``touch`` or ``os.utime``: an edit
    that keeps the size and restores the mtime still changes the key.
    """
    stat = path.stat()
    return (f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|"
            f"{stat.st_ino}|{_CACHE_FORMAT}")


def _cache_file(path, cache_dir):
    # One cache file per source path: a changed file overwrites its stale cache instead of piling
    # up.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    return directory / f"{path.name}-{digest}.npz"


def _read_cache(cache_file, key):
    """(emotion, images, usages) from a cache file made for ``key``; None when absent, stale or
    corrupt."""
    try:
        with np.load(cache_file, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            emotion, images, usages = stored["emotion"], stored["images"], stored["usage"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return (emotion, images, usages) if _cache_arrays_valid(emotion, images, usages) else None


def _cache_arrays_valid(emotion, images, usages):
    """Whether cached arrays have the shapes, dtypes and values a load returns: a cache file is
    only as trusted as the folder it sits in."""
    n_rows = len(emotion)
    return (emotion.dtype == np.int8 and emotion.shape == (n_rows,)
            and images.dtype == np.uint8 and images.shape == (n_rows, IMAGE_SIZE, IMAGE_SIZE)
            and usages.dtype.kind == "U" and usages.shape == (n_rows,)
            and bool(np.isin(emotion, np.arange(7)).all()) and bool(np.isin(usages, USAGES).all()))


def _write_cache(cache_file, key, emotion, images, usages):
    """Write the parsed arrays atomically; a failure only warns (the load itself succeeded)."""
    def write(temp_path):
        with open(temp_path, "wb") as file:  # a file object: np.savez would append ".npz" to a name
            np.savez(file, key=np.array(key), emotion=emotion, images=images, usage=usages)

    try:
        write_atomically(cache_file, write)
    except OSError as error:
        warnings.warn(f"could not write the FER2013 cache {cache_file}: {error}", RuntimeWarning,
                      stacklevel=3)
