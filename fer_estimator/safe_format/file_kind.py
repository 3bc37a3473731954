"""What a file given as a model is, from its first bytes: a zip archive (a ``.fer.zip``
model), a pickle, or something else, named in the error (an image, a folder, a device...)."""

import os
import stat

from .errors import SafeFormatError

ZIP_MAGIC = b"PK\x03\x04"
# What a file that is not a model usually is, by its first bytes.
_OTHER_KINDS = (
    (b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"\x1aE\xdf\xa3", "a WebM video"),
)
# The first bytes of a pickle (protocol 2 and later) and of joblib's compressed pickles (zlib,
# gzip, bz2, xz, lz4).
PICKLE_MAGICS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x78\x01", b"\x78\x5e",
                 b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
                 b"\x04\x22\x4d\x18")
_HEAD_BYTES = 16


def file_head(path):
    """The first bytes of the file ``path``, after refusing what is no regular file (a folder,
    a FIFO, a device: reading those could block or never end) or an empty or image file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path}") from None
    if stat.S_ISDIR(mode):
        raise SafeFormatError(f"{path} is a folder, not a model file")
    if not stat.S_ISREG(mode):
        raise SafeFormatError(f"{path} is not a regular file (it is {_kind_of(mode)}), so not "
                              f"a model file")
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES)
    if not head:
        raise SafeFormatError(f"{path} is empty (0 bytes), not a model file")
    kind = next((kind for magic, kind in _OTHER_KINDS if head.startswith(magic)), None)
    if kind is not None:
        raise SafeFormatError(f"{path} is {kind}, not a model file")
    return head


def _kind_of(mode):
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a plain file")
