"""The error the safe format raises, and the cap on what of a file's content it quotes."""

# A message quotes at most this many characters of any value it read from a file: a tampered
# file gets a readable error, never one the size of the file.
MAX_QUOTED_CHARS = 200


class SafeFormatError(ValueError):
    """A model cannot be saved in, or a file cannot be loaded from, the safe format."""


def quoted(value, limit=MAX_QUOTED_CHARS):
    """``repr(value)``, cut to ``limit`` characters (with ``...`` when cut)."""
    return shortened(repr(value), limit)


def shortened(text, limit=MAX_QUOTED_CHARS):
    """``text``, cut to ``limit`` characters (with ``...`` when cut)."""
    return text if len(text) <= limit else text[:limit] + "..."
