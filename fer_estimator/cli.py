"""The ``fer-estimator`` command line.

Every subcommand is one :class:`~fer_estimator.cli_options.Command` entry: its name and help,
an ``add_<name>_arguments(parser)`` function and the ``run_<name>(args)`` function doing the
work; :data:`COMMANDS` lists them, as Optuna's command table does. A ``run`` function returns
the exit status: 0 done, 1 done but some inputs were skipped; :func:`main` turns what
stops a command into the other statuses of :data:`EXIT_STATUS`: a bad option, input or setup
(:class:`CommandError`, ``OSError``, ``ValueError``) 2, Ctrl-C 130, ``SIGTERM`` 143 (after
saving what Ctrl-C saves), any other exception (a bug) 70, each as one line on stderr.

Building the parser imports nothing heavy, so ``--help`` is quick: a ``run`` function imports
what it needs (Keras, OpenCV, pandas...) when it starts. Every subcommand gets ``--verbose``
(TensorFlow's and absl's log lines, and the traceback of an error, hidden otherwise); the network
options (``--preset``, ``--param``, ``--epochs``) come from :mod:`fer_estimator.cli_options`.
"""

import argparse
import dataclasses
import signal
import sys
import threading
import traceback
from pathlib import Path

from ._extras import MissingInstallError
from ._output_paths import check_output_paths, printable
from ._paths import DEFAULT_MODEL_PATH
from ._redact import redact_urls  # a storage URL in an error or traceback shows its password
from .cli_options import (
    Command,
    CommandError,
    add_detector_arguments,
    add_model_argument,
    add_model_arguments,
    add_network_options,
    add_trust_model_option,
    add_verbose_option,
    as_command_line,
    face_pipeline_params,
    needs_keras,
    network_params,
    positive_int,
    silence_native_logs,
)
from .search.cli import SEARCH
from .serve.commands import LIVE, SERVE

DEMO_NAME = "astronaut"  # scikit-image's bundled photo, for trying the command without a photo
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70  # 70: sysexits' EX_SOFTWARE
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM  # 130, 143
FOLDER_HELP = ("<class>/<image> folders, or FER2013's image release train|test/<emotion>/<image> "
               "(train: Training, test: PublicTest)")
EXIT_STATUS = """exit status:
  0    every input was processed
  1    done, but some inputs were skipped (each reported on stderr with its reason), or a
       search ended without a completed trial
  2    usage or setup error (bad option, output path or input file, missing or untrusted
       model, unreadable data, a port in use), found before any work where it can be
  70   internal error (a bug): run again with --verbose for the traceback, and report it
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): the finished inputs are saved"""
# An error message longer than this is cut: a value quoted from a hostile file can be huge.
MAX_MESSAGE_CHARS = 1000


class Terminated(KeyboardInterrupt):
    """``SIGTERM`` received: raised where the command is, so that it stops as on Ctrl-C and
    saves what Ctrl-C saves."""


def add_predict_arguments(parser):
    """``predict``: the emotion of every face in images, folders of images and videos."""
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
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="predict on the workers of the Dask scheduler at ADDRESS "
                             "(tcp://host:8786), each loading the model once; they must see "
                             "the inputs and the model at the same paths (a shared "
                             "filesystem); the outputs are written here, as without --dask. "
                             "Needs pip install \"fer-estimator[dask]\"")


def run_predict(args):
    """Run ``predict``; see :func:`add_predict_arguments`."""
    from .faces import FacePipeline
    from .faces.batch import expand_inputs, log_to_stderr, out_is_a_file, predict_batch
    from .faces.media import DEFAULT_MAX_PIXELS

    if not args.inputs and not args.demo:
        raise CommandError("predict needs at least one INPUT, or --demo")
    if args.demo and args.dask is not None:
        raise CommandError("--demo runs on this machine, not on Dask workers: give the photo's "
                           "file with --dask")
    sources, skipped = expand_inputs(args.inputs)
    if args.demo:
        sources.append(DEMO_NAME)
    try:
        out_file = out_is_a_file(args.out, sources)
    except ValueError as error:
        raise CommandError(as_command_line(error)) from None
    files = [source for source in sources if source != DEMO_NAME]
    check_output_paths(
        files={**({"--out": args.out} if out_file else {}), "--json": args.json,
               "--csv": args.csv},
        folders={} if out_file else {"--out": args.out},
        inputs={"--model": args.model, "--yunet-model": args.yunet_model,
                **{f"INPUT {index + 1}": path for index, path in enumerate(files)}})
    pipeline = FacePipeline(args.model, **face_pipeline_params(args), trust=args.trust_model,
                            max_pixels=DEFAULT_MAX_PIXELS if args.max_pixels is None
                            else args.max_pixels or None)
    # Connected before the model loads: a wrong --dask address fails at once.
    with _dask_client(args.dask) as client:
        # Fail once, before the first input, when the model or the detector cannot be loaded or
        # the model cannot classify face crops (else every face would fail and every input be
        # skipped). The Dask workers check their own copies the same way.
        pipeline.warm_up()
        skipped += predict_batch(
            pipeline, sources,
            None if client is not None else
            lambda source: _predict_source(pipeline, source, args.frame_stride),
            frame_stride=args.frame_stride, client=client, out=args.out, json_path=args.json,
            csv_path=args.csv, log=lambda message: log_to_stderr(as_command_line(message)))
    return 1 if skipped else 0


def _dask_client(address):
    """A client of the Dask scheduler at ``address`` (``--dask``), or a ``with`` block giving
    None without one."""
    from contextlib import nullcontext

    if address is None:
        return nullcontext()
    try:
        from .faces.distributed import connect
    except ImportError as error:  # the module's one import that can fail: Dask's
        raise CommandError(f"--dask: {error}") from None
    return connect(address)


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


def add_train_arguments(parser):
    """``train``: fit, evaluate and save a FER pipeline (synthetic faces when no data is given)."""
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


def run_train(args):
    """Run ``train``; see :func:`add_train_arguments`."""
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


def add_evaluate_arguments(parser):
    """``evaluate``: accuracy, per-class scores and figures of a saved model on a FER2013 CSV."""
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


def run_evaluate(args):
    """Run ``evaluate``; see :func:`add_evaluate_arguments`."""
    from .evaluation import evaluate, format_report, save_figures
    from .persistence import dump_json
    from .safe_format import load, model_stem
    from .training import load_labelled

    # The current folder, not the model's: that may be the package's (site-packages) or the
    # repository's models/, whose committed figures a quick --max-rows run would replace.
    out_dir = args.out_dir or Path.cwd() / f"{model_stem(args.model)}-evaluation"
    check_output_paths(files={"the report": out_dir / "evaluation.json"},
                       folders={"--out-dir": out_dir},
                       inputs={"--model": args.model, "--data": args.data})
    model = load(args.model, trust=args.trust_model)
    if not hasattr(model, "predict_proba") or getattr(model, "classes_", None) is None:
        raise CommandError(f"{args.model} does not hold a fitted classifier (a "
                           f"{type(model).__name__}, without predict_proba or classes_)")
    X, y, usage = load_labelled(args.data, usage=args.usage, classes=model.classes_)
    report = evaluate(model, X[:args.max_rows], y[:args.max_rows])
    report = {"model": str(args.model), "data": str(args.data), "usage": usage, **report}
    dump_json(report, out_dir / "evaluation.json")
    written = save_figures(model, report, out_dir)
    print(format_report(report))
    print(f"saved {out_dir / 'evaluation.json'} and "
          f"{', '.join(path.name for path in written)} in {out_dir}")
    return 0


def add_export_arguments(parser):
    """``export``: a saved model as one ONNX graph, or as a ``.fer.zip`` with ONNX networks."""
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a .fer.zip model, or a joblib one with --trust-model")
    parser.add_argument("out", type=Path, metavar="OUT",
                        help="OUT.onnx: one ONNX graph of the whole model (input 'pixels': 0-255 "
                             "grey faces, output 'probabilities'); OUT.fer.zip: the model with "
                             "ONNX networks beside its Keras ones, for the ONNX runtime")
    parser.add_argument("--format", choices=("onnx", "fer.zip"),
                        help="the format of OUT (default: from its suffix)")
    parser.add_argument("--int8-calibration", type=Path, metavar="DATA",
                        help=f"OUT.fer.zip: also store int8 copies of the networks (--runtime "
                             f"onnx-int8), calibrated on Training images of DATA: a FER2013 CSV "
                             f"or an image folder ({FOLDER_HELP})")
    parser.add_argument("--calibration-rows", type=positive_int, default=1000, metavar="N",
                        help="Training images drawn at random (seed 0) to calibrate on "
                             "(default: 1000)")
    add_trust_model_option(parser)


def run_export(args):
    """Run ``export``; see :func:`add_export_arguments`."""
    import numpy as np

    from .export import export
    from .safe_format import load
    from .training import load_labelled

    check_output_paths(files={"OUT": args.out}, folders={},
                       inputs={"MODEL": args.model, "--int8-calibration": args.int8_calibration})
    model = load(args.model, trust=args.trust_model)
    calibration = None
    if args.int8_calibration is not None:
        X, _, _ = load_labelled(args.int8_calibration, usage="Training", classes=model.classes_)
        rows = np.random.default_rng(0).permutation(len(X))[:args.calibration_rows]
        calibration = X[np.sort(rows)]
    try:
        export(model, args.out, format=args.format, int8_calibration=calibration)
    except ValueError as error:
        raise CommandError(as_command_line(error)) from None
    print(f"saved {args.out}")
    return 0


def add_cut_faces_arguments(parser):
    """Arguments of ``cut-faces``: a training set of face crops from labelled photos."""
    parser.add_argument("photos", type=Path, metavar="PHOTOS",
                        help="a folder of label folders of photos (<label>/<photo>)")
    parser.add_argument("--out", type=Path, required=True,
                        help="a new or empty folder for the crops (outside PHOTOS)")
    parser.add_argument("--several", choices=("skip", "largest", "all"), default="skip",
                        help="a photo with several faces: skip it (default), keep its largest "
                             "face, or keep all its faces")
    add_detector_arguments(parser)


def run_cut_faces(args):
    """Run ``cut-faces``; see :func:`add_cut_faces_arguments`."""
    from .faces import FacePipeline
    from .faces.training_set import cut_faces

    pipeline = FacePipeline(**face_pipeline_params(args))
    report = cut_faces(args.photos, args.out, pipeline=pipeline, several=args.several,
                       log=lambda message: print(message, file=sys.stderr))
    print(f"wrote {report.written} face crops to {args.out} ({len(report.no_face)} photos "
          f"without a face, {len(report.several_faces)} with several, {len(report.failed)} "
          f"entries not read); train on them with: fer-estimator train --data {args.out}")
    kept_all = not (report.no_face or report.failed or
                    (report.several_faces and args.several == "skip"))
    return 0 if kept_all else 1


PREDICT = Command(
    "predict", help="find the faces in images, folders or videos and predict their emotions",
    description="Find every face in the given images, folders (their images and videos) and "
                "videos, and predict its emotion. Prints one line per image; --out, --json and "
                "--csv save annotated images and the results. An input that fails is reported "
                "and skipped; the results of the others are still saved.",
    add_arguments=add_predict_arguments, run=run_predict, epilog=EXIT_STATUS)
TRAIN = Command(
    "train", help="train, evaluate and save a FER pipeline",
    description="Train a FER pipeline on the Training rows of a FER2013-format CSV or image "
                "folder (or on synthetic faces when --data is not given), evaluate it on the "
                "PublicTest rows, and save it next to a JSON report: in the safe .fer.zip "
                "format, or with joblib when --out ends in .joblib.",
    add_arguments=add_train_arguments, run=run_train)
EVALUATE = Command(
    "evaluate", help="score a saved model on FER2013-format data",
    description="Accuracy with and without test-time augmentation, per-class precision, recall "
                "and F1, a confusion-matrix heatmap and (when the model kept them) training "
                "curves, for a saved model on the rows of one Usage.",
    add_arguments=add_evaluate_arguments, run=run_evaluate)
CUT_FACES = Command(
    "cut-faces", help="make a training set of 48x48 face crops from labelled photos",
    description="Find the faces in PHOTOS/<label>/<photo> and write each as a 48x48 gray crop "
                "in OUT/<label>/, with OUT/faces.csv naming every crop's photo and box; `train "
                "--data OUT` then trains on them. Photos with no face, with several faces (see "
                "--several) and files that are not images are reported on stderr.",
    add_arguments=add_cut_faces_arguments, run=run_cut_faces, epilog=EXIT_STATUS)
EXPORT = Command(
    "export", help="write a saved model as one ONNX graph, or as a .fer.zip with ONNX networks",
    description="Export a saved FER model: OUT.onnx is one ONNX graph computing its "
                "probabilities from grey 48x48 faces (any ONNX runtime); OUT.fer.zip is the "
                "model with ONNX networks beside its Keras ones, which predict, serve and live "
                "run in onnxruntime without TensorFlow.",
    add_arguments=add_export_arguments, run=run_export, epilog=EXIT_STATUS)
# The subcommands, in the order of `fer-estimator --help`; nothing else registers one.
COMMANDS = (PREDICT, TRAIN, EVALUATE, SEARCH, CUT_FACES, EXPORT, SERVE, LIVE)


def build_parser():
    """The ``fer-estimator`` argument parser with every subcommand of :data:`COMMANDS`, each
    with ``--verbose``."""
    parser = argparse.ArgumentParser(
        prog="fer-estimator",
        description="Facial expression recognition (FER2013) with scikit-learn and Keras.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command_parser = subcommands.add_parser(
            command.name, help=command.help, description=command.description,
            epilog=command.epilog,
            # An epilog keeps its line breaks (the exit status table).
            formatter_class=(argparse.RawDescriptionHelpFormatter if command.epilog
                             else argparse.HelpFormatter))
        command.add_arguments(command_parser)
        command_parser.set_defaults(run=command.run)
        add_verbose_option(command_parser)
    return parser


def main(argv=None):
    """Entry point of the ``fer-estimator`` console script; returns the exit status (see
    :data:`EXIT_STATUS`)."""
    args = build_parser().parse_args(argv)
    if not args.verbose:
        silence_native_logs(import_keras=needs_keras(args))
    restore_sigterm = _sigterm_as_interrupt()
    try:
        return args.run(args)
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated)
        _report(args, "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except (CommandError, MissingInstallError, OSError, ValueError) as error:
        if args.verbose and not isinstance(error, CommandError):
            _report_traceback(error)
        _report(args, f"error: {error}")
        return EXIT_USAGE
    except Exception as error:  # a bug: say so, rather than blame the user's input
        if args.verbose:
            _report_traceback(error)
        _report(args, f"internal error ({type(error).__name__}: {error}); run again with "
                      f"--verbose for the traceback, and report it")
        return EXIT_INTERNAL
    finally:
        restore_sigterm()


def _sigterm_as_interrupt():
    """Make ``SIGTERM`` raise :class:`Terminated` (in the main thread, where signal handlers
    run); return the function that puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _report(args, text):
    print(f"fer-estimator {args.command}: {cap_message(text)}", file=sys.stderr)


def _report_traceback(error):
    print(redact_urls("".join(traceback.format_exception(error))).rstrip(), file=sys.stderr)


def cap_message(text, limit=MAX_MESSAGE_CHARS):
    """``text`` with its passwords redacted, cut to ``limit`` characters (the rest counted),
    printable whatever file names it quotes."""
    text = str(text)
    # Redacting a message of millions of characters takes minutes: only what is shown is, with
    # a margin so that a URL cut at the limit is still recognised.
    shown = printable(redact_urls(text[:2 * limit]))
    if len(text) <= limit and len(shown) <= limit:
        return shown
    return f"{shown[:limit]}... ({max(len(text), len(shown)) - limit:,} more characters)"


def search_main(argv=None):
    """Entry point of ``fer-search`` and ``scripts/run_search.py``: ``fer-estimator search``
    with the same arguments; return the exit status.

    Bad options, data or storage end with a one-line error and status 2, before training.
    """
    return main(["search", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
