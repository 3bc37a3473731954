"""What every ``fer-estimator`` subcommand shares: one ``NAME=VALUE`` syntax, the same network
options (``--preset``, ``--param``, ``--epochs``) and the silencing of TensorFlow's start-up
logs. Imports nothing heavy, so ``--help`` stays quick."""

import argparse
from pathlib import Path
import ast
import contextlib
import json
import logging
import os
import sys

from .presets import PRESETS


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


def silence_native_logs():
    """Hide TensorFlow's C++, absl and Python warnings (oneDNN notices, "could not find cuda
    drivers", the ``failed call to cuInit`` error of CPU-only machines, tf.function retracing)
    for the rest of the process.

    ``TF_CPP_MIN_LOG_LEVEL=3`` hides what TensorFlow logs once it has read it; the lines its
    libraries print while they load come before that, so Keras (and with it the backend) is
    imported here with the stderr file descriptor pointing to /dev/null. A failing import is
    left to the command, whose own import then raises it with stderr back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" not in sys.modules:
        try:
            with _stderr_descriptor_muted():
                import keras  # noqa: F401
        except Exception:
            pass  # the command's own import raises it again, with stderr back
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
    parser.add_argument("--trust-model", action="store_true",
                        help="allow a joblib (pickle) --model file: loading one runs any code it "
                             "holds, so use only files you trust (.fer.zip files never run code)")


def add_model_arguments(parser):
    """``--model``, ``--trust-model``, ``--detector``, ``--yunet-model`` and ``--min-face-size``:
    the model and face detector of a :class:`~fer_estimator.faces.FacePipeline`."""
    add_model_argument(parser)
    add_detector_arguments(parser)


def add_detector_arguments(parser):
    """``--detector``, ``--yunet-model`` and ``--min-face-size``: the face detector of a
    :class:`~fer_estimator.faces.FacePipeline`."""
    parser.add_argument("--detector", choices=("haar", "yunet"), default="haar",
                        help="face detector (default: haar, bundled with OpenCV)")
    parser.add_argument("--yunet-model", type=Path,
                        help="YuNet ONNX file for --detector yunet (face_detection_yunet_*.onnx "
                             "from OpenCV Zoo)")
    parser.add_argument("--min-face-size", type=float, default=48,
                        help="smallest face to find, in pixels (default: 48)")
