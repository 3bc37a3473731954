"""Command-line arguments that several ``fer-estimator`` subcommands share."""

import argparse
from pathlib import Path


def positive_int(text):
    """An argparse type: an int of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_trust_model_argument(parser):
    """``--trust-model``: the explicit consent that loading a pickled ``--model`` needs."""
    parser.add_argument("--trust-model", action="store_true",
                        help="allow a joblib (pickle) --model file: loading one runs any code it "
                             "holds, so use only files you trust (.fer.zip files never run code)")


def add_model_arguments(parser):
    """``--model``, ``--trust-model``, ``--detector``, ``--yunet-model`` and ``--min-face-size``:
    the model and face detector of a :class:`~fer_estimator.faces.FacePipeline`."""
    parser.add_argument("--model", type=Path,
                        help="fitted FER pipeline: a .fer.zip file, or a joblib file with "
                             "--trust-model (default: the shipped model)")
    add_trust_model_argument(parser)
    parser.add_argument("--detector", choices=("haar", "yunet"), default="haar",
                        help="face detector (default: haar, bundled with OpenCV)")
    parser.add_argument("--yunet-model", type=Path,
                        help="YuNet ONNX file for --detector yunet (face_detection_yunet_*.onnx "
                             "from OpenCV Zoo)")
    parser.add_argument("--min-face-size", type=float, default=48,
                        help="smallest face to find, in pixels (default: 48)")
