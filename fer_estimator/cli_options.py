"""What every ``fer-estimator`` subcommand shares: the :class:`Command` entry that registers it,
one ``NAME=VALUE`` syntax, the same network options (``--preset``, ``--param``, ``--epochs``)
and the silencing of TensorFlow's start-up logs. Imports nothing heavy, so ``--help`` stays
quick."""

import argparse
import ast
import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from .presets import PRESETS


class CommandError(Exception):
    """A problem with a command's arguments or setup, reported without a traceback (exit
    status 2)."""


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``fer-estimator`` subcommand, as Optuna's command line has them: its name and help,
    the function adding its arguments and the one doing its work.

    :data:`fer_estimator.cli.COMMANDS` lists every one; nothing else registers a subcommand.

    Attributes
    ----------
    name : str
        The subcommand (``fer-estimator NAME``).
    help : str
        Its line in ``fer-estimator --help``.
    description : str
        The opening of ``fer-estimator NAME --help``.
    add_arguments : callable
        ``add_arguments(parser)`` adds its arguments to its ``argparse`` parser; imports
        nothing heavy.
    run : callable
        ``run(args)`` does the work for the parsed arguments and returns the exit status; it
        imports what the work needs.
    epilog : str or None
        The end of ``fer-estimator NAME --help``, kept as written (line breaks and all).
    """

    name: str
    help: str
    description: str
    add_arguments: Callable
    run: Callable
    epilog: str | None = None


def int_at_least(minimum, unit=""):
    """An ``argparse`` type: an int of at least ``minimum`` (``unit`` names it in the error)."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be {minimum} or more{' ' + unit if unit else ''}, got {value}")
        return value
    parse.__name__ = f"int of at least {minimum}"  # how argparse names the type in errors
    return parse


positive_int = int_at_least(1)


def positive_float(text):
    """An ``argparse`` type: a positive, finite float (NaN and inf refused)."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number, got {text}")
    return value


def parse_literal(text):
    """Read a command-line value as a Python literal or JSON, else keep it as a string.

    ``0.3``, ``(64,)``, ``[64, 32]``, ``None``/``null``, ``True``/``true`` and ``{"0": 2}``
    are read as values; anything else (``balanced``, ``adam``) stays a string. Lists become
    tuples, the type of FERClassifier's sequence parameters.
    """
    for parse in (ast.literal_eval, json.loads):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, RecursionError):
            continue
        return tuple(value) if isinstance(value, list) else value
    return text


def name_value(text):
    """An ``argparse`` type: ``NAME=VALUE`` as ``(name, value)``, the value read by
    :func:`parse_literal`."""
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), parse_literal(value)


def add_network_options(parser, *, default_preset=None, preset_help=""):
    """Add ``--preset``, ``--param NAME=VALUE`` (alias ``--set``) and ``--epochs`` to ``parser``.

    :func:`network_params` reads them back.
    """
    group = parser.add_argument_group("network")
    group.add_argument("--preset", choices=sorted(PRESETS), default=default_preset,
                       help="named FERClassifier settings of fer_estimator.presets to start "
                            f"from{preset_help}")
    group.add_argument("--param", "--set", dest="params", type=name_value, action="append",
                       default=[], metavar="NAME=VALUE",
                       help="a FERClassifier parameter over the preset (repeatable); VALUE is "
                            "a Python or JSON literal (dropout=0.3, dense_units=[128], "
                            "early_stopping_patience=None), other text a string "
                            "(class_weight=balanced)")
    group.add_argument("--epochs", type=positive_int, help="most training epochs per fit")
    return parser


def network_params(args):
    """The FERClassifier parameters of parsed :func:`add_network_options` arguments: the
    preset's, then ``--param``, then ``--epochs``. Unknown names are rejected here, before any
    data is loaded, with the closest known name."""
    from .classifier import check_param_names  # loads Keras: only once a command runs

    params = dict(PRESETS[args.preset]) if args.preset else {}
    params.update(args.params)
    if args.epochs is not None:
        params["epochs"] = args.epochs
    check_param_names(params)
    return params


def add_verbose_option(parser):
    """``--verbose``: keep the native libraries' log lines (TensorFlow, absl, CUDA), and show
    the traceback of an error the command reports."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and absl's log lines, and the traceback of an "
                             "error (hidden by default)")


@contextlib.contextmanager
def _stderr_descriptor_muted():
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def silence_native_logs(import_keras=True):
    """Hide TensorFlow's C++, absl and Python warnings (oneDNN notices, "could not find cuda
    drivers", the ``failed call to cuInit`` error of CPU-only machines, tf.function retracing)
    for the rest of the process.

    ``TF_CPP_MIN_LOG_LEVEL=3`` hides what TensorFlow logs once it has read it; the lines its
    libraries print while they load come before that, so Keras (and with it the backend) is
    imported here with the stderr file descriptor pointing to /dev/null, unless
    ``import_keras`` is false (a command on the ONNX runtime, which never loads it). A failing
    import is left to the command, whose own import then raises it with stderr back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if import_keras and "keras" not in sys.modules:
        try:
            with _stderr_descriptor_muted():
                import keras  # noqa: F401
        except Exception:
            pass
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    # TensorFlow's Python-side warnings, such as "triggered tf.function retracing" when an
    # ensemble's networks each trace their predict function: expected there, noise to a user.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def add_model_argument(parser, *, default=None):
    """``--model`` and ``--trust-model``, the explicit consent that loading a pickled model
    needs. When ``--model`` is not given it is ``default``: the shipped model's path, or None
    for the caller to load the shipped model itself."""
    parser.add_argument("--model", type=Path, default=default,
                        help="fitted FER pipeline: a .fer.zip file, or a joblib file with "
                             "--trust-model (default: the shipped model)")
    add_trust_model_option(parser)


def add_trust_model_option(parser, what="model file"):
    """``--trust-model``: the explicit consent that loading a pickled model (``what``) needs;
    the one spelling of it, in the command line and the scripts."""
    parser.add_argument("--trust-model", action="store_true",
                        help=f"allow a joblib (pickle) {what}: loading one runs any code it "
                             "holds, so use only files you trust (.fer.zip files never run code)")


def add_model_arguments(parser):
    """``--model``, ``--trust-model``, ``--runtime``, ``--detector``, ``--yunet-model`` and
    ``--min-face-size``: the model and face detector of a
    :class:`~fer_estimator.faces.FacePipeline`. :func:`face_pipeline_params` reads the
    runtime's and the detector's back."""
    add_model_argument(parser)
    # fer_estimator.runtime.RUNTIMES (importing it here would load scikit-learn for --help).
    parser.add_argument("--runtime", choices=("auto", "onnx", "onnx-int8", "keras"),
                        default="auto",
                        help="how the model runs: onnx, its ONNX networks in onnxruntime "
                             "(no TensorFlow); onnx-int8, their int8 copies (faster, close but "
                             "not equal); keras, its Keras networks (the full install); auto "
                             "(default): onnx when the model file holds ONNX networks and "
                             "onnxruntime is installed")
    add_detector_arguments(parser)


def needs_keras(args):
    """Whether the command of parsed arguments ``args`` will load Keras: every command but
    those whose ``--runtime`` resolves to ONNX for their ``--model``. A model file that cannot
    be read is the command's to report."""
    if getattr(args, "runtime", None) is None:
        return True
    from .runtime import chosen_runtime

    try:
        return chosen_runtime(args.model, args.runtime) == "keras"
    except (OSError, ValueError):
        return True


def add_detector_arguments(parser):
    """``--detector``, ``--yunet-model`` and ``--min-face-size``: the face detector of a
    :class:`~fer_estimator.faces.FacePipeline`."""
    # OpenCV, not Keras: --detector offers what the registry holds.
    from .faces.detectors import DEFAULT_DETECTOR, DETECTORS

    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR,
                        help=f"face detector (default: {DEFAULT_DETECTOR}); yunet: OpenCV "
                             "Zoo's YuNet, shipped in the package; haar: OpenCV's frontal-face "
                             "Haar cascade")
    parser.add_argument("--yunet-model", type=Path,
                        help="another YuNet ONNX file than the shipped one "
                             "(face_detection_yunet_*.onnx from OpenCV Zoo)")
    parser.add_argument("--min-face-size", type=float, default=48,
                        help="smallest face to find, in pixels (default: 48)")


def as_command_line(message):
    """A library error message in the command line's words: the parameters it names
    (``out=x.jpg``, ``max_pixels=``) become the options that set them (``--out x.jpg``,
    ``--max-pixels``)."""
    def option(match):
        value = match.group(2)
        return PARAMETER_OPTIONS[match.group(1)] + (f" {value}" if value else "")

    return re.sub(rf"\b({'|'.join(PARAMETER_OPTIONS)})=(\S*)", option, str(message))


# FacePipeline parameters -> the options of add_model_arguments that set them.
FACE_PIPELINE_OPTIONS = {"detector": "--detector", "yunet_model": "--yunet-model",
                         "min_face_size": "--min-face-size", "runtime": "--runtime"}


# Library parameters named in error messages -> the options that set them.
PARAMETER_OPTIONS = {**FACE_PIPELINE_OPTIONS, "estimator": "--model", "out": "--out",
                     "format": "--format", "max_pixels": "--max-pixels"}


def face_pipeline_params(args):
    """The :class:`~fer_estimator.faces.FacePipeline` parameters that parsed
    :func:`add_model_arguments` (or :func:`add_detector_arguments`) arguments set."""
    return {name: getattr(args, name) for name in FACE_PIPELINE_OPTIONS if hasattr(args, name)}
