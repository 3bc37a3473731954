"""The ``fer-estimator`` command line.

Every subcommand is one ``add_<name>_command(subcommands)`` function that adds its parser and
sets ``run`` to the function doing the work; :data:`COMMANDS` lists them. A ``run`` function
returns the exit status: 0 done, 1 done but some inputs were skipped; failures that stop the
command (a missing model, say) exit with 2.

Building the parser imports nothing heavy, so ``--help`` is quick: a ``run`` function imports
what it needs (Keras, OpenCV, pandas...) when it starts. Every subcommand gets ``--verbose``
(TensorFlow's and absl's log lines, and the traceback of an error, hidden otherwise); the network
options (``--preset``, ``--param``, ``--epochs``) come from :mod:`fer_estimator.cli_options`.
"""

import argparse
import dataclasses
import sys
import traceback
from pathlib import Path

from ._paths import DEFAULT_MODEL_PATH
from .cli_options import (add_detector_arguments, add_model_argument, add_model_arguments,
                          add_network_options, add_verbose_option, network_params, positive_int,
                          silence_native_logs)
from .search.cli import DESCRIPTION as SEARCH_DESCRIPTION
from .search.cli import add_arguments as add_search_arguments
from .search.cli import run_search
from .serve.commands import add_live_command, add_serve_command

DEMO_NAME = "astronaut"  # scikit-image's bundled photo, for trying the command without a photo
FOLDER_HELP = ("<class>/<image> folders, or FER2013's image release train|test/<emotion>/<image> "
               "(train: Training, test: PublicTest)")
EXIT_STATUS = """exit status:
  0  every input was processed
  1  done, but some inputs were skipped (each reported on stderr with its reason)
  2  usage or setup error (bad option, missing or untrusted model, unreadable data)"""


class CommandError(Exception):
    """A problem with the command's arguments or setup, reported without a traceback."""


def add_predict_command(subcommands):
    """``predict``: the emotion of every face in images, folders of images and videos."""
    parser = subcommands.add_parser(
        "predict", help="find the faces in images, folders or videos and predict their emotions",
        description="Find every face in the given images, folders (their images and videos) and "
                    "videos, and predict its emotion. Prints one line per image; --out, --json "
                    "and --csv save annotated images and the results. An input that fails "
                    "is reported and skipped; the results of the others are still saved.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="an image, a folder of images or a video")
    parser.add_argument("--demo", action="store_true",
                        help="also run on scikit-image's astronaut photo (needs scikit-image)")
    add_model_arguments(parser)
    parser.add_argument("--max-pixels", type=int,
                        help="refuse images larger than this many pixels, read from the file "
                             "header before decoding; 0: no limit (default: 89,478,485, "
                             "Pillow's decompression-bomb limit)")
    parser.add_argument("--frame-stride", type=positive_int, default=1,
                        help="use every N-th frame of a video (default: 1)")
    parser.add_argument("--out", type=Path,
                        help="where to save annotated images: a file name for a single image, "
                             "otherwise a folder, where they keep the inputs' relative paths "
                             "(no input is overwritten, even in the inputs' own folder: a copy "
                             "that would replace its input gets a -2 name)")
    parser.add_argument("--json", type=Path, help="save the results as JSON")
    parser.add_argument("--csv", type=Path, help="save the results as CSV, one row per face")
    parser.set_defaults(run=run_predict)


def run_predict(args):
    """Run ``predict``; see :func:`add_predict_command`."""
    from .faces import FacePipeline
    from .faces.batch import expand_inputs, out_is_a_file, predict_batch
    from .faces.media import DEFAULT_MAX_PIXELS

    if not args.inputs and not args.demo:
        raise CommandError("predict needs at least one INPUT, or --demo")
    sources, skipped = expand_inputs(args.inputs)
    if args.demo:
        sources.append(DEMO_NAME)
    try:
        out_is_a_file(args.out, sources)
    except ValueError as error:
        raise CommandError(str(error)) from None
    pipeline = FacePipeline(args.model, args.detector, yunet_model=args.yunet_model,
                            min_face_size=args.min_face_size, trust=args.trust_model,
                            max_pixels=DEFAULT_MAX_PIXELS if args.max_pixels is None
                            else args.max_pixels or None)
    # Fail once, before the first input, when the model or the detector cannot be loaded or the
    # model cannot classify face crops (else every face would fail and every input be skipped).
    pipeline.warm_up()
    skipped += predict_batch(
        pipeline, sources, lambda source: _predict_source(pipeline, source, args.frame_stride),
        out=args.out, json_path=args.json, csv_path=args.csv)
    return 1 if skipped else 0




def _predict_source(pipeline, source, frame_stride):
    """``(ImageFaces, bgr)`` for every image or used frame of one input."""
    if source != DEMO_NAME:
        return pipeline.iter_predict(source, frame_stride=frame_stride, return_images=True)
    [(faces, bgr)] = pipeline.iter_predict(_demo_image(), rgb=True, return_images=True)
    return [(dataclasses.replace(faces, image=DEMO_NAME), bgr)]


def _demo_image():
    try:
        from skimage.data import astronaut  # only --demo needs scikit-image
    except ImportError:
        raise CommandError("--demo needs scikit-image: pip install scikit-image") from None
    return astronaut()  # RGB




def add_train_command(subcommands):
    """``train``: fit, evaluate and save a FER pipeline (synthetic faces when no data is given)."""
    parser = subcommands.add_parser(
        "train", help="train, evaluate and save a FER pipeline",
        description="Train a FER pipeline on the Training rows of a FER2013-format CSV or "
                    "image folder (or on synthetic faces when --data is not given), evaluate "
                    "it on the PublicTest rows, and save it next to a JSON report: in the safe "
                    ".fer.zip format, or with joblib when --out ends in .joblib.")
    parser.add_argument("--data", type=Path,
                        help=f"FER2013-format CSV, or an image folder: {FOLDER_HELP} "
                             f"(default: synthetic faces)")
    parser.add_argument("--out", type=Path, default=Path("models/demo.fer.zip"),
                        help="where to save the pipeline: .fer.zip (safe format) or .joblib "
                             "(default: models/demo.fer.zip)")
    parser.add_argument("--classes", type=int, choices=(7, 6),
                        help="7 classes, or 6 with Disgust merged into Angry (default: 7 for a "
                             "CSV, the class folders found for an image folder)")
    parser.add_argument("--normalization", default="scale",
                        help="of the PixelTransformer: scale (default), standardize or per_image")
    parser.add_argument("--max-train-rows", type=positive_int, metavar="N",
                        help="train on a stratified subsample of N training rows")
    parser.add_argument("--checkpoint-dir", type=Path,
                        help="checkpoint every epoch here; rerun to resume after an interruption")
    parser.add_argument("--seed", type=int, default=0)
    add_network_options(parser, preset_help=" (default: synthetic-demo on synthetic faces, "
                                            "FERClassifier's defaults on --data)")
    parser.set_defaults(run=run_train)


def run_train(args):
    """Run ``train``; see :func:`add_train_command`."""
    from .training import train_and_save
    from .transform import NORMALIZATIONS

    if args.normalization not in NORMALIZATIONS:
        raise CommandError(f"--normalization must be one of {', '.join(NORMALIZATIONS)}, got "
                           f"{args.normalization!r}")
    if args.preset is None and args.data is None:
        args.preset = "synthetic-demo"
    params = network_params(args)
    train_and_save(args.out, args.data, n_classes=args.classes,
                   normalization=args.normalization, cnn_params=params,
                   max_train_rows=args.max_train_rows, checkpoint_dir=args.checkpoint_dir,
                   random_state=args.seed)
    return 0


def add_evaluate_command(subcommands):
    """``evaluate``: accuracy, per-class scores and figures of a saved model on a FER2013 CSV."""
    parser = subcommands.add_parser(
        "evaluate", help="score a saved model on FER2013-format data",
        description="Accuracy with and without test-time augmentation, per-class precision, "
                    "recall and F1, a confusion-matrix heatmap and (when the model kept them) "
                    "training curves, for a saved model on the rows of one Usage.")
    add_model_argument(parser, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data", type=Path, required=True,
                        help=f"FER2013-format CSV, or an image folder: {FOLDER_HELP}")
    parser.add_argument("--usage",
                        help="which rows to score (default: PublicTest; every image of an "
                             "image folder without train/ and test/ folders)")
    parser.add_argument("--max-rows", type=positive_int, metavar="N",
                        help="score only the first N rows")
    parser.add_argument("--out-dir", type=Path,
                        help="where the report and figures go (default: <model name>-evaluation/ "
                             "in the current folder, never beside the model)")
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args):
    """Run ``evaluate``; see :func:`add_evaluate_command`."""
    from .evaluation import evaluate, format_report, save_figures
    from .persistence import dump_json
    from .safe_format import load, model_stem
    from .training import load_labelled

    model = load(args.model, trust=args.trust_model)
    if not hasattr(model, "predict_proba") or getattr(model, "classes_", None) is None:
        raise CommandError(f"{args.model} does not hold a fitted classifier (a "
                           f"{type(model).__name__}, without predict_proba or classes_)")
    X, y, usage = load_labelled(args.data, usage=args.usage, classes=model.classes_)
    report = evaluate(model, X[:args.max_rows], y[:args.max_rows])
    # The current folder, not the model's: that may be the package's (site-packages) or the
    # repository's models/, whose committed figures a quick --max-rows run would replace.
    out_dir = args.out_dir or Path.cwd() / f"{model_stem(args.model)}-evaluation"
    report = {"model": str(args.model), "data": str(args.data), "usage": usage, **report}
    dump_json(report, out_dir / "evaluation.json")
    written = save_figures(model, report, out_dir)
    print(format_report(report))
    print(f"saved {out_dir / 'evaluation.json'} and "
          f"{', '.join(path.name for path in written)} in {out_dir}")
    return 0


def add_cut_faces_command(subcommands):
    """``cut-faces``: a training set of face crops from a folder of labelled photos."""
    parser = subcommands.add_parser(
        "cut-faces", help="make a training set of 48x48 face crops from labelled photos",
        description="Find the faces in PHOTOS/<label>/<photo> and write each as a 48x48 gray "
                    "crop in OUT/<label>/, with OUT/faces.csv naming every crop's photo and "
                    "box; `train --data OUT` then trains on them. Photos with no face, with "
                    "several faces (see --several) and files that are not images are "
                    "reported on stderr.", epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, metavar="PHOTOS",
                        help="a folder of label folders of photos (<label>/<photo>)")
    parser.add_argument("--out", type=Path, required=True,
                        help="a new or empty folder for the crops (outside PHOTOS)")
    parser.add_argument("--several", choices=("skip", "largest", "all"), default="skip",
                        help="a photo with several faces: skip it (default), keep its largest "
                             "face, or keep all its faces")
    add_detector_arguments(parser)
    parser.set_defaults(run=run_cut_faces)


def run_cut_faces(args):
    """Run ``cut-faces``; see :func:`add_cut_faces_command`."""
    from .faces import FacePipeline
    from .faces.training_set import cut_faces

    pipeline = FacePipeline(detector=args.detector, yunet_model=args.yunet_model,
                            min_face_size=args.min_face_size)
    report = cut_faces(args.photos, args.out, pipeline=pipeline, several=args.several,
                       log=lambda message: print(message, file=sys.stderr))
    print(f"wrote {report.written} face crops to {args.out} ({len(report.no_face)} photos "
          f"without a face, {len(report.several_faces)} with several, {len(report.failed)} "
          f"entries not read); train on them with: fer-estimator train --data {args.out}")
    kept_all = not (report.no_face or report.failed or
                    (report.several_faces and args.several == "skip"))
    return 0 if kept_all else 1


def add_search_command(subcommands):
    """``search``: an Optuna hyperparameter search (``fer-search`` is the same command)."""
    parser = subcommands.add_parser(
        "search", help="search hyperparameters with Optuna by cross-validation",
        description=SEARCH_DESCRIPTION)
    add_search_arguments(parser)
    parser.set_defaults(run=run_search)


COMMANDS = (add_predict_command, add_train_command, add_evaluate_command, add_search_command,
            add_cut_faces_command, add_serve_command, add_live_command)


def build_parser():
    """The ``fer-estimator`` argument parser with every subcommand of :data:`COMMANDS`, each
    with ``--verbose``."""
    parser = argparse.ArgumentParser(
        prog="fer-estimator",
        description="Facial expression recognition (FER2013) with scikit-learn and Keras.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subcommands)
    for command_parser in subcommands.choices.values():
        add_verbose_option(command_parser)
    return parser


def main(argv=None):
    """Entry point of the ``fer-estimator`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if not args.verbose:
        silence_native_logs()
    try:
        return args.run(args)
    except (CommandError, OSError, ValueError, TypeError, RuntimeError) as error:
        # A storage URL in a message would show its password.
        from .search.storage import redact_urls

        if args.verbose and not isinstance(error, CommandError):
            # A bug raises these too: --verbose shows where (with the same exit status).
            print(redact_urls("".join(traceback.format_exception(error))).rstrip(),
                  file=sys.stderr)
        print(f"fer-estimator {args.command}: error: {redact_urls(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
