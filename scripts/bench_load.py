"""Time loading FER2013 the seed notebooks' way against load_fer2013, cold and cached.

    python scripts/bench_load.py [--path ../shared/data/fer2013.csv.gz]

The cold and cached loads use a fresh temporary cache folder, so the user's cache is untouched.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _shared import SHARED_FER2013_CSV

from fer_estimator.data import load_fer2013


def load_like_seed_notebook(path):
    """pd.read_csv, then a Python loop that splits each pixel string and int()s every value."""
    table = pd.read_csv(path)
    faces = []
    for pixel_sequence in table["pixels"]:
        face = [int(pixel) for pixel in pixel_sequence.split(" ")]
        faces.append(np.asarray(face).reshape(48, 48))
    return np.asarray(faces), table["emotion"].to_numpy()


def timed(load):
    start = time.perf_counter()
    result = load()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SHARED_FER2013_CSV,
                        help="FER2013 CSV (default: %(default)s)")
    args = parser.parse_args(argv)

    seed_s, (seed_X, seed_y) = timed(lambda: load_like_seed_notebook(args.path))
    with tempfile.TemporaryDirectory(prefix="fer-bench-cache-") as cache_dir:
        cold_s, cold = timed(lambda: load_fer2013(args.path, cache_dir=cache_dir))
        cached_s, cached = timed(lambda: load_fer2013(args.path, cache_dir=cache_dir))
    for name, bunch in (("cold", cold), ("cached", cached)):
        if not (np.array_equal(bunch.data, seed_X) and np.array_equal(bunch.target, seed_y)):
            raise SystemExit(f"the {name} load_fer2013 result differs from the seed loop's")

    print(f"{args.path}: {len(seed_y)} rows")
    print(f"seed notebook loop     {seed_s:7.2f} s")
    print(f"load_fer2013, cold     {cold_s:7.2f} s   {seed_s / cold_s:6.1f}x faster")
    print(f"load_fer2013, cached   {cached_s:7.2f} s   {seed_s / cached_s:6.1f}x faster")


if __name__ == "__main__":
    main()
