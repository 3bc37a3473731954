"""Zip members read within bounds: refused when encrypted, compressed otherwise than deflate,
larger than their cap or expanding like a zip bomb, all from the headers, before a byte is
decompressed (zipfile reads no more than the ``file_size`` checked here)."""

import shutil
import zipfile

from . import limits
from .errors import SafeFormatError

_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def checked_member(archive, name, where, max_bytes):
    """The member ``name`` of ``archive``, refused (naming ``where``) unless it is stored or
    deflated, unencrypted, at most ``max_bytes`` and no zip bomb."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SafeFormatError(f"{where} has no {name}") from None
    if info.flag_bits & 0x1:
        raise SafeFormatError(f"{where}: {name} is encrypted, which no model member is")
    if info.compress_type not in _COMPRESSIONS:
        raise SafeFormatError(f"{where}: {name} uses compression method {info.compress_type}; "
                              f"the members of a model file are stored or deflated")
    if (info.file_size > limits.COMPRESSION_RATIO_FLOOR
            and info.file_size > limits.MAX_COMPRESSION_RATIO * info.compress_size):
        raise SafeFormatError(
            f"{where}: {name} expands {info.file_size // max(info.compress_size, 1)} times "
            f"({info.compress_size} to {info.file_size} bytes), more than "
            f"{limits.MAX_COMPRESSION_RATIO} times: not a model's member; refused")
    if info.file_size > max_bytes:
        raise SafeFormatError(f"{where}: {name} expands to {info.file_size} bytes, more than "
                              f"the {max_bytes} a model's {name} may hold; refused")
    return info


def read_member(archive, name, where, max_bytes):
    """The bytes of the member ``name``, checked by :func:`checked_member` first."""
    return archive.read(checked_member(archive, name, where, max_bytes))


def extract_member(archive, name, target, where, max_bytes):
    """Copy the member ``name`` to the file ``target``, checked by :func:`checked_member`."""
    info = checked_member(archive, name, where, max_bytes)
    with archive.open(info) as source, open(target, "wb") as destination:
        shutil.copyfileobj(source, destination, 1 << 20)


def refuse_oversized_networks(archive, names, where, kind="networks"):
    """Refuse an archive whose members ``names`` (the ``kind`` of a model: its Keras networks,
    its ONNX graphs) expand together to more than :data:`limits.MAX_NETWORK_BYTES`, from the
    headers; absent members are left to the reader, which names them."""
    total = sum(archive.getinfo(name).file_size for name in names if name in archive.NameToInfo)
    if total > limits.MAX_NETWORK_BYTES:
        raise SafeFormatError(f"{where}: the {kind} expand to {total} bytes, more than "
                              f"{limits.MAX_NETWORK_BYTES} (no FER network is that large); "
                              f"refused")


def refuse_unnamed_members(archive, named, where):
    """Refuse an archive holding files other than ``named``."""
    unnamed = sorted(info.filename for info in archive.infolist()
                     if not info.is_dir() and info.filename not in set(named))
    if unnamed:
        raise SafeFormatError(f"{where}: the archive holds {unnamed[:10]}"
                              f"{f' and {len(unnamed) - 10} more' if len(unnamed) > 10 else ''}, "
                              f"which a model file does not")
