"""The JSON description ``fer_estimator.json``: its layout, the checks of its structure, and
the conversion of Python values to plain JSON ones."""

import json
import re

import numpy as np

from . import limits
from .archive import read_member
from .errors import SafeFormatError, quoted

SUFFIX = ".fer.zip"
FORMAT = "fer-estimator.safe-model"
# Version 1 holds a single model; version 2 added ensembles; version 3 stores every network
# (of a single model or an ensemble) twice, as Keras and as ONNX. Without ONNX a model is still
# written as version 1 or 2, the layout it has always had, so older releases load it.
SINGLE_MODEL_VERSION = 1
ENSEMBLE_VERSION = 2
ONNX_VERSION = 3
FORMAT_VERSION = ONNX_VERSION  # the newest: load reads versions 1 to FORMAT_VERSION
DESCRIPTION_MEMBER = "fer_estimator.json"
NETWORK_MEMBER = "network.keras"
ENSEMBLE_NETWORK_MEMBER = "networks/{}.keras"
_KERAS_SUFFIX, _ONNX_SUFFIX, _INT8_SUFFIX = ".keras", ".onnx", ".int8.onnx"
# A version 3 description saying so holds an int8 copy of each ONNX network too.
INT8_KEY = "onnx_int8"
VOTE_CLASS = "VotingClassifier"
# An ensemble member's name becomes part of an archive member's name: no separators, no
# leading dot, nothing an unzip tool could read as a path elsewhere.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def read_description(archive, path):
    """The description of the archive ``path``, refused unless its structure is a model's."""
    description = parse_json(read_member(archive, DESCRIPTION_MEMBER, path,
                                         limits.MAX_DESCRIPTION_BYTES),
                             f"{path}: {DESCRIPTION_MEMBER}", limits.MAX_NESTING)
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise SafeFormatError(f"{path} is a zip file but not a {SUFFIX} model "
                              f"(no '{FORMAT}' description)")
    version = description.get("format_version")
    if type(version) is not int or version not in range(SINGLE_MODEL_VERSION, FORMAT_VERSION + 1):
        raise SafeFormatError(
            f"{path} has format version {quoted(version, 50)}; this fer-estimator reads "
            f"versions {SINGLE_MODEL_VERSION} to {FORMAT_VERSION}: upgrade fer-estimator")
    versions = description.get("versions")
    if versions is not None and not (isinstance(versions, dict) and all(
            isinstance(key, str) and isinstance(value, str) for key, value in versions.items())):
        raise SafeFormatError(f"{path}: 'versions' must map package names to version strings; "
                              f"it is {quoted(versions)}")
    if not isinstance(description.get(INT8_KEY, False), bool) or (
            description.get(INT8_KEY) and version < ONNX_VERSION):
        raise SafeFormatError(f"{path}: '{INT8_KEY}' must be true or false, and true only from "
                              f"format version {ONNX_VERSION} on; it is "
                              f"{quoted(description.get(INT8_KEY), 50)}")
    if not isinstance(description.get("pipeline"), bool):
        raise SafeFormatError(f"{path}: 'pipeline' must be true or false; it is "
                              f"{quoted(description.get('pipeline'))}")
    steps = description.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
        raise SafeFormatError(f"{path}: 'steps' must be a non-empty list of step tables; it is "
                              f"{quoted(steps)}")
    return description


def parse_json(content, what, max_nesting):
    """``content`` (bytes) parsed as JSON, refused naming ``what`` when it is not JSON or
    nests more than ``max_nesting`` levels."""
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SafeFormatError(f"{what} is not valid JSON: {quoted(str(error))}") from error
    except RecursionError:
        raise SafeFormatError(f"{what} is nested too deeply to be a model's") from None
    if nesting(value, max_nesting) > max_nesting:
        raise SafeFormatError(f"{what} is nested more than {max_nesting} levels deep, which "
                              f"no model's is")
    return value


def nesting(value, limit):
    """How deeply lists and dicts nest in a JSON value (0 for a number or a string), counted
    without recursion, and no further than one level past ``limit``."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= limit:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1)
                           for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def vote_step(description):
    """An ensemble's vote step (the last), or None for a single model."""
    last = description["steps"][-1]
    return last if last.get("class") == VOTE_CLASS else None


def network_members(description, path):
    """The archive members holding the description's networks, in the order of its members."""
    vote = vote_step(description)
    if vote is None:
        return [NETWORK_MEMBER]
    members = vote.get("members")
    if not isinstance(members, list) or not all(isinstance(member, dict) for member in members):
        raise SafeFormatError(f"{path}: the ensemble's vote step has no list of members")
    names = [member.get("name") for member in members]
    check_member_names(names, str(path))
    return [ENSEMBLE_NETWORK_MEMBER.format(name) for name in names]


def has_onnx(description):
    """Whether the file stores each network's ONNX graph beside it (format version 3)."""
    return description["format_version"] >= ONNX_VERSION


def has_int8(description):
    """Whether the file also stores an int8 copy of each network's ONNX graph."""
    return has_onnx(description) and description.get(INT8_KEY) is True


def onnx_member(network_member, int8=False):
    """The archive member holding the ONNX graph of the Keras network ``network_member``:
    ``network.onnx`` beside ``network.keras``; ``network.int8.onnx`` for its int8 copy."""
    return network_member[:-len(_KERAS_SUFFIX)] + (_INT8_SUFFIX if int8 else _ONNX_SUFFIX)


def graph_members(description, network_members):
    """Every ONNX graph member the description says the archive holds beside
    ``network_members``: none before version 3, then one per network, two with int8 copies."""
    if not has_onnx(description):
        return []
    copies = (False, True) if has_int8(description) else (False,)
    return [onnx_member(member, int8) for int8 in copies for member in network_members]


def check_member_names(names, context):
    """Refuse ensemble member names that cannot name a network file, with ``context`` first."""
    if len(names) < 2:
        raise SafeFormatError(f"{context}: an ensemble has at least two members, "
                              f"this one {len(names)}")
    for name in names:
        if not isinstance(name, str) or not _MEMBER_NAME.fullmatch(name):
            raise SafeFormatError(
                f"{context}: invalid ensemble member name {quoted(name)}; a name is 1 to 64 "
                f"letters, digits, '_', '-' or '.', starting with a letter or digit (it names "
                f"the file {ENSEMBLE_NETWORK_MEMBER.format('<name>')} in the archive)")
    if len(set(names)) != len(names):
        raise SafeFormatError(f"{context}: the ensemble member names {names} repeat")


def plain(value, what):
    """``value`` as JSON (tuples become lists, NumPy scalars and arrays Python ones), or refuse
    it naming ``what``."""
    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(item, what) for item in value]
    if isinstance(value, dict) and all(isinstance(key, (str, int)) for key in value):
        return {str(key): plain(item, what) for key, item in value.items()}
    raise SafeFormatError(f"{what} = {quoted(value)} is not a plain JSON value; the safe format "
                          f"stores numbers, strings, lists and dicts only (set a plain value, "
                          f"or save with dump_joblib)")
