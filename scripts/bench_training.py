"""Training speed: FERClassifier.fit against a plain keras Model.fit, float32 against bfloat16.

    python scripts/bench_training.py [--images 4096] [--epochs 3] [--rounds 2] [--depth 4]
        [--base-filters 32] [--architecture vgg]

The same network (the shipped recipe's half-width VGG by default), the same images and batch
size, trained four ways in interleaved rounds so that whatever else runs on the machine weighs
on all of them alike: {plain ``keras.Model.fit``, ``FERClassifier.fit``} × {float32,
mixed_bfloat16}. Each fit's first epoch (graph tracing) is left out; the figure is the median
training images/s of the other epochs over the rounds. Uses FER2013 Training rows when the
shared CSV is there, synthetic faces otherwise (the speed does not depend on the pixels).
"""

import argparse
import statistics
import sys
import time

import keras
import numpy as np
from _shared import SHARED_FER2013_CSV

from fer_estimator.architecture import ARCHITECTURES, build_network
from fer_estimator.classifier import FERClassifier
from fer_estimator.data import load_fer2013
from fer_estimator.synthetic import make_synthetic_faces

PRECISIONS = ("float32", "mixed_bfloat16")


class EpochTimer(keras.callbacks.Callback):
    """Wall time of every epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def benchmark_images(n_images, random_state=0):
    """``(images, codes)``: float32 (n, 48, 48, 1) in [0, 1] and their 7-class labels."""
    if SHARED_FER2013_CSV.exists():
        X, y = load_fer2013(SHARED_FER2013_CSV, usage="Training", return_X_y=True)
        X, y = X[:n_images], y[:n_images]
    else:
        X, y = make_synthetic_faces(n_images, random_state=random_state)
    return (X[..., np.newaxis] / 255.0).astype(np.float32), np.asarray(y)


def classifier_params(args, precision):
    """FERClassifier parameters: the network under test, no validation split or schedule, so
    both ways do the same work per epoch."""
    return dict(architecture=args.architecture, depth=args.depth, base_filters=args.base_filters,
                dense_units=(8 * args.base_filters, 4 * args.base_filters), dropout=0.1,
                batch_size=args.batch_size, epochs=args.epochs, validation_fraction=0.0,
                early_stopping_patience=None, reduce_lr_patience=None, precision=precision,
                random_state=0)


def fit_plain_keras(X, y, params):
    """Images/s of every epoch of ``keras.Model.fit`` on the network FERClassifier builds."""
    model = build_network(params["architecture"], X.shape[1:], 7, depth=params["depth"],
                          base_filters=params["base_filters"], dropout=params["dropout"], l2=0.0,
                          dense_units=params["dense_units"], dtype_policy=params["precision"])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(X, keras.utils.to_categorical(y, 7), batch_size=params["batch_size"],
              epochs=params["epochs"], callbacks=[timer], verbose=0)
    return [len(X) / seconds for seconds in timer.seconds]


def fit_fer_classifier(X, y, params):
    """Images/s of every epoch of ``FERClassifier.fit`` with the same settings."""
    timer = EpochTimer()
    FERClassifier(**params).fit(X, y, callbacks=[timer])
    return [len(X) / seconds for seconds in timer.seconds]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3, help="per fit; the first is not timed")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="vgg")
    parser.add_argument("--base-filters", type=int, default=32,
                        help="32: the shipped half-width network; 64: the reference width")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch of every fit is not timed")

    X, y = benchmark_images(args.images)
    ways = {"keras Model.fit": fit_plain_keras, "FERClassifier.fit": fit_fer_classifier}
    speeds = {(way, precision): [] for way in ways for precision in PRECISIONS}
    for round_index in range(args.rounds):
        order = list(speeds) if round_index % 2 == 0 else list(reversed(speeds))
        for way, precision in order:
            per_epoch = ways[way](X, y, classifier_params(args, precision))
            speeds[way, precision].extend(per_epoch[1:])
            print(f"round {round_index + 1}: {way:<18} {precision:<15} "
                  f"{statistics.median(per_epoch[1:]):7.1f} images/s", flush=True)

    median = {key: statistics.median(values) for key, values in speeds.items()}
    print(f"\n{args.architecture}: {len(X)} images, batch {args.batch_size}, base_filters "
          f"{args.base_filters}, "
          f"{args.rounds} rounds × {args.epochs - 1} timed epochs; median training images/s:")
    print(f"{'':<18}" + "".join(f"{precision:>16}" for precision in PRECISIONS)
          + f"{'bf16 / fp32':>14}")
    for way in ways:
        row = [median[way, precision] for precision in PRECISIONS]
        print(f"{way:<18}" + "".join(f"{value:>16.1f}" for value in row)
              + f"{row[1] / row[0]:>13.2f}×")
    for precision in PRECISIONS:
        ratio = median["FERClassifier.fit", precision] / median["keras Model.fit", precision]
        print(f"FERClassifier.fit / keras Model.fit, {precision}: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
