"""Fine-tuning the shipped network against training from scratch, on a few thousand images.

    python scripts/bench_finetune.py [--train-rows 2400] [--test-rows 1000] [--epochs 8]

PublicTest rows of the shared FER2013 CSV, which the shipped model never trained on (the shared
CSV has no PrivateTest rows), become an image folder (FER2013's release layout, PNG):
``--train-rows`` of them as its ``train/`` split and ``--test-rows`` others as its ``test/``
split (both stratified), on a class list that differs from the shipped model's (6 classes,
Disgust merged into Angry: a new output layer). The same recipe and epochs train two pipelines
on ``train/``: one from the shipped model's weights (``FERClassifier(init_model=...)``), one
from a random start; both are scored on ``test/``.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _shared import SHARED_FER2013_CSV
from sklearn.model_selection import train_test_split

from fer_estimator._paths import DEFAULT_MODEL_PATH
from fer_estimator.data import load_fer2013
from fer_estimator.folders import save_image_folder
from fer_estimator.labels import EMOTIONS_6
from fer_estimator.pipeline import make_fer_pipeline
from fer_estimator.safe_format import load
from fer_estimator.training import load_split


def recipe(shipped, epochs, seed, verbose):
    """The shipped network's architecture with a short cosine schedule, the same for both."""
    params = shipped[-1].get_params()
    architecture = {name: params[name] for name in ("depth", "base_filters", "dense_units")}
    return dict(architecture, optimizer="adamw", learning_rate=1e-3, weight_decay=0.05,
                lr_schedule="cosine", warmup_epochs=1, label_smoothing=0.1, batch_size=64,
                epochs=epochs, early_stopping_patience=None, validation_fraction=0.0,
                random_state=seed, verbose=verbose)


def make_folder(folder, train_rows, test_rows, seed):
    X, y = load_fer2013(SHARED_FER2013_CSV, usage="PublicTest", n_classes=6, return_X_y=True)
    train, test = train_test_split(np.arange(len(y)), train_size=train_rows,
                                   test_size=test_rows, stratify=y, random_state=seed)
    rows = np.concatenate([np.sort(train), np.sort(test)])
    usages = np.repeat(["Training", "PublicTest"], [len(train), len(test)])
    save_image_folder(folder, X[rows], np.array(EMOTIONS_6)[y[rows]], usages)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-rows", type=int, default=2400)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--json", type=Path, help="save the figures here")
    parser.add_argument("--verbose", type=int, default=2,
                        help="Keras verbosity (default: 2, a line per epoch)")
    args = parser.parse_args(argv)

    shipped = load(args.init_model)
    normalization = shipped[0].normalization
    results = {"train_rows": args.train_rows, "test_rows": args.test_rows,
               "epochs": args.epochs, "seed": args.seed, "init_model": str(args.init_model)}
    with tempfile.TemporaryDirectory() as folder:
        make_folder(folder, args.train_rows, args.test_rows, args.seed)
        X_train, y_train, X_test, y_test, source = load_split(folder)
        print(f"{len(y_train)} training and {len(y_test)} test images, classes "
              f"{sorted(map(str, set(y_train)))}, from {source}")
        for name, init_model in (("fine-tuned", args.init_model), ("from scratch", None)):
            pipeline = make_fer_pipeline(normalization, init_model=init_model,
                                         **recipe(shipped, args.epochs, args.seed, args.verbose))
            started = time.perf_counter()
            pipeline.fit(X_train, y_train)
            seconds = time.perf_counter() - started
            accuracy = float(np.mean(pipeline.predict(X_test) == y_test))
            results[name] = {"accuracy": accuracy, "train_seconds": round(seconds, 1)}
            print(f"{name:>13}: accuracy {accuracy:.4f} on the held-out test/ split, "
                  f"{seconds:.0f} s of training", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
