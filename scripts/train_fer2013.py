"""Reproduce the shipped FER2013 model with one command, resuming when interrupted.

    python scripts/train_fer2013.py                      # models/fer2013-{7,6}class.joblib
    python scripts/train_fer2013.py --epochs 5 --max-train-rows 3000 --out /tmp/quick.joblib
    python scripts/train_fer2013.py --pilot mixup --epochs 12 --param mixup_alpha=0.2

``--pilot NAME`` is for choosing a recipe: it trains, scores the held-out validation images
(plain and flip TTA) and appends one line to ``--pilot-log``, and never reads PublicTest.

Training rows fit the network; a stratified 10% of them (validation_fraction) drive early
stopping and the learning-rate schedule; PublicTest is used once, for the reported accuracy.
Each finished epoch is checkpointed under --checkpoint-dir: run the same command again after
an interruption and training continues from the last finished epoch. The 6-class model is the
7-class network with Disgust's probability added to Angry's (fer_estimator.variants).
"""

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from _shared import PROJECT_ROOT, SHARED_FER2013_CSV

from fer_estimator._paths import MODELS_DIR
from fer_estimator.ensemble import shared_validation_rows
from fer_estimator.evaluation import evaluate
from fer_estimator.persistence import dump_joblib, dump_json, load_joblib, write_atomically
from fer_estimator.pipeline import make_fer_pipeline
from fer_estimator.training import fit_resumable, load_split, train_and_save
from fer_estimator.variants import six_class_from_seven

# The recipe of the shipped models/fer2013-7class.joblib, chosen for a 2-core CPU (no GPU is
# available; see models/README.md for the pilots behind it): the reference VGG-like layout at
# half width, trained in mixed bfloat16 with AdamW and a fixed-length warm-up + cosine schedule;
# light regularisation, because shorter pilots under-fitted.
SHIPPED_PARAMS = dict(
    depth=4, base_filters=32, dense_units=(256, 128), dropout=0.1, l2=0.0,
    optimizer="adamw", learning_rate=2e-3, weight_decay=0.05, lr_schedule="cosine",
    warmup_epochs=3, label_smoothing=0.1, batch_size=128, epochs=60,
    early_stopping_patience=None, validation_fraction=0.1, horizontal_flip=True,
    shift_range=0.1, zoom_range=0.1, precision="auto",
)
SHIPPED_NORMALIZATION = "standardize"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_FER2013_CSV,
                        help="FER2013 CSV (default: ../shared/data/fer2013.csv.gz)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "fer2013-7class.joblib",
                        help="the joblib pipeline (then: python scripts/make_safe_models.py)")
    parser.add_argument("--classes", type=int, choices=(7, 6), default=7)
    parser.add_argument("--six-class-out", type=Path,
                        default=MODELS_DIR / "fer2013-6class.joblib",
                        help="where the derived 6-class variant goes (7-class training only)")
    parser.add_argument("--epochs", type=int, default=SHIPPED_PARAMS["epochs"])
    parser.add_argument("--max-train-rows", type=int, default=None,
                        help="train on a stratified subsample (quick checks)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="where per-epoch checkpoints live (default: checkpoints/<out "
                             "name>, committed so a campaign can go on in a later session)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds weights, shuffling and augmentation: ensemble members "
                             "differ by it")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seeds the validation split alone; keep it for every member of "
                             "an ensemble so they hold out the same images")
    parser.add_argument("--derive-only", action="store_true",
                        help="skip training: only derive the 6-class variant from --out")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="distil from this fitted model (.fer.zip; e.g. the shipped "
                             "ensemble): its probabilities of every training image and its "
                             "mirror, computed once and cached beside the checkpoints")
    parser.add_argument("--teacher-cache-dir", type=Path,
                        default=PROJECT_ROOT / "checkpoints" / "teacher",
                        help="where the teacher's probabilities are cached (keyed on the "
                             "teacher file and the training images)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                        help="override one FERClassifier parameter of the recipe, e.g. "
                             "--param mixup_alpha=0.2 --param architecture='\"resnet\"' "
                             "(repeatable; pilots)")
    parser.add_argument("--pilot", metavar="NAME", default=None,
                        help="a pilot of a recipe: train, score on the validation images only "
                             "(PublicTest is never read), append the result to --pilot-log; "
                             "saves no model")
    parser.add_argument("--pilot-log", type=Path, default=PROJECT_ROOT / "models" / "pilots.jsonl",
                        help="where pilots append their results (one JSON object a line)")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param takes NAME=JSON, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value  # a bare string: --param optimizer=sgd
    checkpoint_dir = args.checkpoint_dir or PROJECT_ROOT / "checkpoints" / (
        f"pilot-{args.pilot}" if args.pilot else args.out.stem)
    if args.derive_only:
        save_six_class_variant(args.out, args.six_class_out, args.data)
        return 0
    teacher_proba = None
    if args.teacher is not None:
        teacher_proba = cached_teacher_probabilities(
            args.teacher, args.data, n_classes=args.classes,
            max_train_rows=args.max_train_rows, random_state=args.seed,
            cache_dir=args.teacher_cache_dir)
    cnn_params = {**SHIPPED_PARAMS, "epochs": args.epochs,
                  "validation_random_state": args.split_seed, **overrides}
    if args.pilot:
        run_pilot(args.pilot, args.pilot_log, args.data, cnn_params, n_classes=args.classes,
                  max_train_rows=args.max_train_rows, checkpoint_dir=checkpoint_dir,
                  random_state=args.seed, teacher=args.teacher, teacher_proba=teacher_proba)
        return 0
    train_and_save(args.out, args.data, n_classes=args.classes,
                   normalization=SHIPPED_NORMALIZATION,
                   cnn_params=cnn_params,
                   max_train_rows=args.max_train_rows, checkpoint_dir=checkpoint_dir,
                   random_state=args.seed, teacher_proba=teacher_proba)
    if args.classes == 7:
        save_six_class_variant(args.out, args.six_class_out, args.data)
    return 0


def cached_teacher_probabilities(teacher_path, data, *, n_classes, max_train_rows,
                                 random_state, cache_dir):
    """The teacher's probabilities of the training images (columns in the student's class
    order), from ``cache_dir`` when an earlier run computed them for the same teacher file and
    images (the five-network ensemble needs ~7 minutes for FER2013's Training rows)."""
    from fer_estimator import load
    from fer_estimator.distillation import teacher_probabilities

    X_train, y_train, *_ = load_split(data, n_classes=n_classes, max_train_rows=max_train_rows,
                                      random_state=random_state)
    digest = hashlib.sha256(Path(teacher_path).read_bytes())
    digest.update(np.ascontiguousarray(X_train).tobytes())
    cache = Path(cache_dir) / f"teacher-{digest.hexdigest()[:16]}.npy"
    if cache.is_file():
        return np.load(cache)
    print(f"computing {teacher_path.name}'s probabilities of {len(X_train)} training images "
          f"and their mirrors")
    proba = teacher_probabilities(load(teacher_path), X_train, classes=np.unique(y_train))
    cache.parent.mkdir(parents=True, exist_ok=True)
    def write(temp_path):
        with open(temp_path, "wb") as file:
            np.save(file, proba)

    write_atomically(cache, write)
    return proba


def run_pilot(name, log_path, data, cnn_params, *, n_classes, max_train_rows, checkpoint_dir,
              random_state, teacher, teacher_proba):
    """Train one recipe and append its validation scores (never PublicTest's) to ``log_path``."""
    X_train, y_train, *_ = load_split(data, n_classes=n_classes, max_train_rows=max_train_rows,
                                      random_state=random_state)
    pipeline = make_fer_pipeline(SHIPPED_NORMALIZATION, **cnn_params, random_state=random_state,
                                 verbose=2)
    started = time.perf_counter()
    fit_resumable(pipeline, X_train, y_train, checkpoint_dir, teacher_proba=teacher_proba)
    seconds = time.perf_counter() - started
    rows = shared_validation_rows([pipeline], y_train)
    pipeline.set_params(cnn__verbose=0)
    scores = evaluate(pipeline, X_train[rows], y_train[rows], progress=False)
    history = pipeline.named_steps["cnn"].history_
    result = {"pilot": name, "params": {key: value for key, value in cnn_params.items()
                                        if SHIPPED_PARAMS.get(key, object()) != value},
              "teacher": None if teacher is None else Path(teacher).name,
              "seed": random_state, "epochs": len(history["loss"]),
              "validation_rows": len(rows),
              "validation_accuracy": scores["accuracy"],
              "validation_accuracy_tta": scores["accuracy_tta"],
              "balanced_accuracy": scores["balanced_accuracy"],
              "train_accuracy_last_epoch": float(history["accuracy"][-1]),
              "train_seconds": round(seconds, 1)}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps(result) + "\n")
    print(f"pilot {name}: validation accuracy {scores['accuracy']:.4f} (flip TTA "
          f"{scores['accuracy_tta']:.4f}) after {result['epochs']} epochs, {seconds:.0f} s")


def save_six_class_variant(seven_path, six_path, data):
    """Derive the 6-class model from the saved 7-class one, score it on PublicTest, save both."""
    six = six_class_from_seven(load_joblib(seven_path))
    *_, X_test, y_test, source = load_split(data, n_classes=6)
    report = evaluate(six, X_test, y_test, progress=False)
    dump_joblib(six, six_path)
    dump_json({"model": six_path.name, "derived_from": seven_path.name, "data": source,
               "n_classes": 6, "test_rows": report["n_samples"], **report},
              six_path.with_suffix(".json"))
    print(f"6-class variant: test accuracy {report['accuracy']:.4f} (with flip TTA "
          f"{report['accuracy_tta']:.4f}); saved {six_path}")


if __name__ == "__main__":
    sys.exit(main())
