"""Reading files a user did not make: the kind of file checked first (a FIFO or a device would
block or never end), then every read bounded, so that no file can exhaust memory or time.
Imports nothing heavy: the command line reads ``--space @FILE`` through it."""

import io
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class InputTooLargeError(ValueError):
    """A file, a line of it or its decompressed content is larger than its bound."""


def check_regular_file(path, what="file"):
    """Return ``path`` (a Path) if it names a regular file (links followed), else raise.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    ValueError
        Something other than a regular file is: ``"/dev/zero is not a regular file (a
        character device)"``.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise ValueError(f"{what} {path} is not a regular file ({kind})")
    return path


def read_text_bounded(path, max_bytes, what="file"):
    """The whole text (UTF-8) of the regular file ``path``, refused beyond ``max_bytes``.

    At most ``max_bytes + 1`` bytes are read, whatever the file's size says (``/proc`` files
    report 0).
    """
    path = check_regular_file(path, what)
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputTooLargeError(f"{what} {path} is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path} is not UTF-8 text ({error})") from None


class BoundedLineReader(io.RawIOBase):
    """A binary stream over ``source`` that refuses more than ``max_bytes`` in all, more than
    ``max_lines`` lines, a first line longer than ``max_header_bytes`` or another line longer
    than ``max_line_bytes``.

    It hands out at most ``max_line_bytes`` per read, so a line that does not cross a read's
    edge is shorter than the bound: only the line running across edges needs counting.
    ``name`` names the file in the errors (:class:`InputTooLargeError`).
    """

    def __init__(self, source, name, *, max_bytes, max_lines, max_header_bytes, max_line_bytes):
        super().__init__()
        self._source, self._name = source, name
        self._max_bytes, self._max_lines, self._max_line = max_bytes, max_lines, max_line_bytes
        self._max_header = max_header_bytes
        self._total = 0
        self._line_run = 0  # bytes of the current, unfinished line
        self._line = 1  # number of the current line

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._source.read(min(len(buffer), self._max_line))
        self._check(data)
        buffer[:len(data)] = data
        return len(data)

    def _check(self, data):
        self._total += len(data)
        if self._total > self._max_bytes:
            raise InputTooLargeError(f"{self._name}: more than {self._max_bytes:,} bytes of "
                                     f"text (decompressed)")
        first_newline = data.find(b"\n")
        run_end = len(data) if first_newline < 0 else first_newline
        limit = self._max_header if self._line == 1 else self._max_line
        if self._line_run + run_end > limit:
            which = "line 1 (the header)" if self._line == 1 else f"line {self._line}"
            raise InputTooLargeError(f"{self._name}: {which} is longer than {limit:,} bytes")
        if first_newline < 0:
            self._line_run += len(data)
            return
        self._line += data.count(b"\n")
        if self._line > self._max_lines + 1:
            raise InputTooLargeError(f"{self._name}: more than {self._max_lines:,} lines")
        self._line_run = len(data) - data.rfind(b"\n") - 1
