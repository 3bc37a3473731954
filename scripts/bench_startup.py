#!/usr/bin/env python
"""Benchmark start-up: ``import fer_estimator``, ``fer-estimator --help``, ``fer-search --help``,
each in a fresh process, against the import of Keras that a command pays once it runs.

Prints the median and the slowest of ``--repeat`` runs of each. The console scripts are used
when they are on PATH, ``python -m``/``-c`` equivalents otherwise.

Usage::

    python scripts/bench_startup.py [--repeat 7]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def commands():
    """``(label, argv)`` of every timed command."""
    python = sys.executable
    fer_estimator = shutil.which("fer-estimator")
    fer_search = shutil.which("fer-search")
    return [
        ("python -c 'pass' (the interpreter alone)", [python, "-c", "pass"]),
        ("import fer_estimator", [python, "-c", "import fer_estimator"]),
        ("fer-estimator --help",
         [fer_estimator, "--help"] if fer_estimator else [python, "-m", "fer_estimator.cli",
                                                          "--help"]),
        ("fer-estimator search --help",
         [fer_estimator, "search", "--help"] if fer_estimator
         else [python, "-m", "fer_estimator.cli", "search", "--help"]),
        ("fer-search --help",
         [fer_search, "--help"] if fer_search
         else [python, "-c",
               "from fer_estimator.cli import search_main; search_main(['--help'])"]),
        ("import keras (what a command then loads)", [python, "-c", "import keras"]),
    ]


def time_command(argv, repeat):
    """Wall-clock seconds of ``repeat`` runs of ``argv``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command")
    args = parser.parse_args(argv)
    print(f"{'command':<45} {'median s':>8} {'max s':>7}")
    for label, command in commands():
        times = time_command(command, args.repeat)
        print(f"{label:<45} {statistics.median(times):>8.2f} {max(times):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
