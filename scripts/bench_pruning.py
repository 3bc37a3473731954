"""Benchmark pruning: the same seeded study with each pruner and without pruning.

Runs ``scripts/run_search.py`` on identical settings (same data sample, folds, sampler seed
and network seed, so the studies start from the same parameters) with ``--pruner none`` and
with each pruner asked for (default: all of them), then prints, for each pruner, the
epochs and trial time it saved and how far its best CV score (and test accuracy) is from the
unpruned study's.

The default settings are the closing-note figure: 5,000 stratified FER2013 Training rows,
3 folds, 4 epochs per fit, a tiny CNN, 30 trials. The studies run at once (``--parallel``,
one process each) or one after the other. Studies live in SQLite files under ``--work-dir``:
rerunning the script resumes them, and ``--compare-only`` reprints the figures from their
JSON reports.

Usage::

    python scripts/bench_pruning.py [--pruners median hyperband] [--parallel]
        [--work-dir runs/bench-pruning] [--compare-only]
        [-- extra run_search options, which override the defaults]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

# Neither import loads Keras or Optuna: this parent process only launches the studies.
from _shared import PROJECT_ROOT

from fer_estimator.search import PRUNERS

RUN_SEARCH = PROJECT_ROOT / "scripts" / "run_search.py"
BASELINE = "none"
PRUNED = tuple(pruner for pruner in PRUNERS if pruner != BASELINE)
DEFAULT_STUDY_OPTIONS = [
    "--max-train-rows", "5000", "--cv", "3", "--epochs", "4", "--n-trials", "30",
    "--sampler-seed", "0", "--seed", "0", "--set", "random_state=0",
    # A tiny CNN without augmentation: a 30-trial study fits in about 1.5 hours on 2 CPU cores.
    "--set", "base_filters=8", "--set", "dense_units=[32]", "--set", "horizontal_flip=false",
    "--set", "shift_range=0.0", "--set", "zoom_range=0.0",
]


def study_command(pruner, work_dir, extra_options):
    """The ``run_search.py`` command line of the study using ``pruner``."""
    name = f"bench-pruning-{pruner}"
    return [sys.executable, str(RUN_SEARCH), *DEFAULT_STUDY_OPTIONS, *extra_options,
            "--study-name", name, "--storage", f"sqlite:///{work_dir / name}.db",
            "--pruner", pruner, "--models-dir", str(work_dir)]


def run_studies(pruners, work_dir, extra_options, parallel):
    """Run the studies, each logging to ``<work_dir>/bench-pruning-<pruner>.log``."""
    processes = []
    for pruner in pruners:
        log_path = work_dir / f"bench-pruning-{pruner}.log"
        print(f"study with pruner={pruner}: log in {log_path}", flush=True)
        with open(log_path, "a") as log:
            process = subprocess.Popen(study_command(pruner, work_dir, extra_options),
                                       stdout=log, stderr=subprocess.STDOUT)
        processes.append((pruner, process))
        if not parallel:
            process.wait()
    failed = [pruner for pruner, process in processes if process.wait() != 0]
    if failed:
        sys.exit(f"the study with pruner={failed[0]} failed: see its log in {work_dir}")


def load_report(work_dir, pruner):
    path = work_dir / f"bench-pruning-{pruner}.json"
    if not path.exists():
        sys.exit(f"no report {path}: run the studies first (without --compare-only)")
    return json.loads(path.read_text())


def print_comparison(reports):
    """Print the studies side by side, then what each pruner saved and what it cost."""
    print(f"{'pruner':<9} {'trials':>6} {'pruned':>6} {'epochs':>6} {'trial s':>7} "
          f"{'best CV':>7} {'test':>6}")
    for pruner, report in reports.items():
        counts = report["trial_counts"]
        print(f"{pruner:<9} {sum(counts.values()):>6} {counts.get('PRUNED', 0):>6} "
              f"{report['epochs_trained']:>6} {report['trials_time_s']:>7.0f} "
              f"{report['cv_score']:>7.4f} {report['test_accuracy']:>6.4f}")
    baseline = reports[BASELINE]
    for pruner, report in reports.items():
        if pruner == BASELINE:
            continue
        epochs_saved = 1 - report["epochs_trained"] / baseline["epochs_trained"]
        time_saved = 1 - report["trials_time_s"] / baseline["trials_time_s"]
        cv_gap = 100 * (report["cv_score"] - baseline["cv_score"])
        test_gap = 100 * (report["test_accuracy"] - baseline["test_accuracy"])
        print(f"{pruner}: saved {epochs_saved:.0%} of the epochs and {time_saved:.0%} of the "
              f"trials' time; best CV score {cv_gap:+.1f} points, test accuracy "
              f"{test_gap:+.1f} points")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pruners", nargs="+", choices=PRUNED, default=list(PRUNED),
                        help="pruners to compare with none (default: all)")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "runs" / "bench-pruning",
                        help="where the studies, logs, models and reports go")
    parser.add_argument("--parallel", action="store_true",
                        help="run the studies at once (they then share the CPU)")
    parser.add_argument("--compare-only", action="store_true",
                        help="only print the figures of studies already run")
    args, extra_options = parser.parse_known_args(argv)
    extra_options = [option for option in extra_options if option != "--"]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    pruners = [BASELINE, *args.pruners]
    if not args.compare_only:
        run_studies(pruners, args.work_dir, extra_options, args.parallel)
    print_comparison({pruner: load_report(args.work_dir, pruner) for pruner in pruners})


if __name__ == "__main__":
    main()
