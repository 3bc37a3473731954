"""The ``search`` subcommand: run (or join, or resume) a study, refit the best pipeline, save
model, report and plots. ``fer-estimator search ...``, ``fer-search ...`` and ``python
scripts/run_search.py ...`` are the same command (:data:`SEARCH`, registered in
:data:`fer_estimator.cli.COMMANDS`).

The options are added by :func:`add_arguments` without importing Optuna or Keras (``--help``
stays quick); :func:`run_search` imports them when the search starts.
"""

import json
import sys
import time
from pathlib import Path

from fer_estimator._extras import requires_install
from fer_estimator._input_files import read_text_bounded
from fer_estimator._output_paths import check_output_paths
from fer_estimator.cli_options import (
    Command,
    add_network_options,
    int_at_least,
    network_params,
    positive_float,
    positive_int,
)

from .options import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_RETRY,
    PRUNE_ON,
    PRUNERS,
    default_storage_url,
)

DEFAULT_PRESET = "quick"
# A search space is a few lines of JSON: a bigger --space @FILE is not one.
MAX_SPACE_FILE_BYTES = 2**20
DESCRIPTION = ("Optuna search of FER pipeline hyperparameters by cross-validation. Start it "
               "several times with the same --study-name and --storage to run several workers "
               "on one study; start it again to resume a study.")


def add_arguments(parser):
    """Add the search options to ``parser`` (an ``argparse.ArgumentParser``)."""
    data = parser.add_argument_group("data (one of --data and --synthetic is required)")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path,
                        help="FER2013 CSV(.gz), or an image folder (<class>/<image>, or "
                             "FER2013's release train|test/<emotion>/<image>): trains on "
                             "'Training', tests on --test-usage; a folder without train/ and "
                             "test/ holds out 20%% for the test")
    source.add_argument("--synthetic", action="store_true",
                        help="use synthetic faces instead of --data (a quick try-out)")
    data.add_argument("--test-usage", default="PublicTest",
                      help="FER2013 split held out for the final test (default: %(default)s)")
    # --max-rows: its name before `fer-estimator search`, kept for existing scripts.
    data.add_argument("--max-train-rows", "--max-rows", type=positive_int, metavar="N",
                      help="keep a stratified sample of N training rows (the refit uses them too)")

    study = parser.add_argument_group("study")
    study.add_argument("--study-name", default="fer-search")
    study.add_argument("--storage", default=None,
                       help=f"Optuna storage URL (default: {default_storage_url()}; "
                            f"postgresql://user:password@host:5432/db for many machines)")
    study.add_argument("--n-trials", type=positive_int, default=20,
                       help="finished trials the study should hold, all workers and runs "
                            "together (default: %(default)s)")
    study.add_argument("--timeout", type=positive_float,
                       help="seconds after which no trial starts")
    study.add_argument("--cv", type=int_at_least(2, "folds"), default=3,
                       help="folds (default: %(default)s)")
    study.add_argument("--subsample", type=positive_float,
                       help="cross-validate on this fraction (<=1) or number (>1) of rows")
    study.add_argument("--scoring", help="scikit-learn scorer name (default: accuracy)")
    study.add_argument("--pruner", choices=PRUNERS, default="median")
    study.add_argument("--prune-on", choices=PRUNE_ON, default="epoch")
    study.add_argument("--heartbeat-interval", type=positive_int,
                       default=DEFAULT_HEARTBEAT_INTERVAL, metavar="SECONDS",
                       help="seconds between heartbeats of a running trial; a trial silent for "
                            "twice as long is failed and retried (default: %(default)s)")
    study.add_argument("--max-retry", type=int_at_least(0), default=DEFAULT_MAX_RETRY,
                       metavar="N", help="retries of a dead worker's trial (default: "
                                         "%(default)s)")
    study.add_argument("--seed", type=int, default=0,
                       help="seed of the folds, the subsample and the networks (unless --param "
                            "random_state=... says otherwise)")
    study.add_argument("--sampler-seed", type=int,
                       help="seed of the TPE sampler, for a reproducible single-worker study "
                            "(leave it unset with several workers: they would all sample alike)")

    add_network_options(parser, default_preset=DEFAULT_PRESET,
                        preset_help=f" (default: {DEFAULT_PRESET})")
    model = parser.add_argument_group("space")
    model.add_argument("--space", metavar="JSON",
                       help="search space replacing the default, e.g. '{\"dropout\": {\"low\": "
                            "0.1, \"high\": 0.4}, \"depth\": [2, 3]}'; @file reads a file "
                            "(at most 1 MiB)")
    model.add_argument("--tune-base-filters", action="store_true",
                       help="also tune base_filters (16, 32, 64) in the default space; not "
                            "with --space")
    model.add_argument("--tune-batch-size", action="store_true",
                       help="also tune batch_size (32, 64, 128) in the default space; not "
                            "with --space")

    output = parser.add_argument_group("output")
    output.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="where <study-name>.fer.zip/.json/-*.png go (default: %(default)s)")
    output.add_argument("--no-refit", action="store_true",
                        help="only run trials (an extra worker): no refit, model or report")
    output.add_argument("--quiet", action="store_true", help="no per-trial progress lines")
    return parser


def _search_space(args):
    from .space import default_search_space, distribution_from_spec

    if args.space is None:
        return default_search_space(tune_base_filters=args.tune_base_filters,
                                    tune_batch_size=args.tune_batch_size)
    # They add to the default space; a --space replaces it: say so rather than drop them.
    extras = [option for option, given in (("--tune-base-filters", args.tune_base_filters),
                                           ("--tune-batch-size", args.tune_batch_size)) if given]
    if extras:
        raise ValueError(f"{' and '.join(extras)} add to the default search space and cannot "
                         f"be combined with --space: write base_filters or batch_size in the "
                         f"--space JSON instead (e.g. \"batch_size\": [32, 64, 128])")
    text = (read_text_bounded(args.space[1:], MAX_SPACE_FILE_BYTES, "--space file")
            if args.space.startswith("@") else args.space)
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--space is not valid JSON: {error}") from error
    if not isinstance(spec, dict):
        raise ValueError(f"--space must be a JSON object of parameter names, got {spec!r}")
    return {name: distribution_from_spec(name, value) for name, value in spec.items()}


def run_search(args):
    """Run the search described by parsed ``args``; return the exit status: 0, or 1 when the
    study ends without a completed trial to refit."""
    with requires_install("the search"):
        import optuna
    from sklearn.metrics import accuracy_score

    from fer_estimator.persistence import dump_json
    from fer_estimator.pipeline import make_fer_pipeline
    from fer_estimator.safe_format import save
    from fer_estimator.training import load_split

    from .plots import save_study_plots, study_plot_names
    from .report import build_report, device_summary, summary_table
    from .searcher import FERSearchCV, NoCompletedTrialError
    from .space import check_params
    from .storage import describe_storage

    start = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress lines instead
    subsample = args.subsample
    if subsample is not None and subsample > 1:
        subsample = int(subsample)
    fixed_params = network_params(args)
    fixed_params.setdefault("random_state", args.seed)
    pipeline = make_fer_pipeline(**fixed_params)
    check_params(pipeline)  # a bad --param value ends here, before the data is read
    sampler = None
    if args.sampler_seed is not None:
        sampler = optuna.samplers.TPESampler(seed=args.sampler_seed)
    search = FERSearchCV(
        pipeline, _search_space(args),
        n_trials=args.n_trials, timeout=args.timeout, cv=args.cv, scoring=args.scoring,
        subsample=subsample, pruner=args.pruner, prune_on=args.prune_on, sampler=sampler,
        storage=args.storage, study_name=args.study_name,
        heartbeat_interval=args.heartbeat_interval, max_retry=args.max_retry,
        refit=not args.no_refit, random_state=args.seed, verbose=0 if args.quiet else 1,
        data_source="synthetic faces" if args.synthetic else str(args.data))
    if not args.synthetic and not args.data.exists():
        raise FileNotFoundError(f"FER2013 data not found at {args.data}: pass the path of a "
                                f"FER2013 CSV, or --synthetic instead")
    model_path = args.models_dir / f"{args.study_name}.fer.zip"
    if not args.no_refit:
        check_output_paths(
            files={"the model": model_path,
                   "the report": args.models_dir / f"{args.study_name}.json",
                   **{f"the plot {name}": args.models_dir / name
                      for name in study_plot_names(args.study_name)}},
            folders={"--models-dir": args.models_dir},
            inputs={"--data": None if args.synthetic else args.data})
    X_train, y_train, X_test, y_test, source = load_split(
        None if args.synthetic else args.data, test_usage=args.test_usage,
        max_train_rows=args.max_train_rows, random_state=args.seed)
    storage = describe_storage(args.storage or default_storage_url())
    devices = device_summary()
    print(f"study {args.study_name!r} in {storage}: {args.n_trials} trials, {args.cv} folds, "
          f"{len(y_train)} training rows from {source}; Keras {devices['backend']} on "
          f"{', '.join(devices['devices'])}", flush=True)

    try:
        search.fit(X_train, y_train)
    except NoCompletedTrialError as error:
        print(summary_table(search.study_), flush=True)
        print(f"fer-estimator search: {error}", file=sys.stderr)
        return 1
    print(summary_table(search.study_), flush=True)
    if args.no_refit:
        return 0

    test_accuracy = float(accuracy_score(y_test, search.predict(X_test)))
    report = build_report(
        search, storage=storage, wall_time_s=time.perf_counter() - start,
        test_accuracy=test_accuracy,
        extra={"data": source, "test_usage": args.test_usage, "train_rows": len(y_train),
               "test_rows": len(y_test), "fixed_params": fixed_params, "pruner": args.pruner,
               "prune_on": args.prune_on, "model": str(model_path)})
    save(search.best_estimator_, model_path)
    report_path = dump_json(report, args.models_dir / f"{args.study_name}.json")
    plots = save_study_plots(search.study_, args.models_dir, args.study_name)
    print(f"best CV score {search.best_score_:.4f} (trial {search.best_trial_.number}), "
          f"test accuracy {test_accuracy:.4f} on {len(y_test)} held-out rows\n"
          f"saved {model_path}, {report_path}, {', '.join(map(str, plots))}", flush=True)
    return 0


SEARCH = Command("search", help="search hyperparameters with Optuna by cross-validation",
                 description=DESCRIPTION, add_arguments=add_arguments, run=run_search)
