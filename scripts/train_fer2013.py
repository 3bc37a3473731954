"""Reproduce the shipped FER2013 model with one command, resuming when interrupted.

    python scripts/train_fer2013.py                      # models/fer2013-{7,6}class.joblib
    python scripts/train_fer2013.py --epochs 5 --max-train-rows 3000 --out /tmp/quick.joblib

Training rows fit the network; a stratified 10% of them (validation_fraction) drive early
stopping and the learning-rate schedule; PublicTest is used once, for the reported accuracy.
Each finished epoch is checkpointed under --checkpoint-dir: run the same command again after
an interruption and training continues from the last finished epoch. The 6-class model is the
7-class network with Disgust's probability added to Angry's (fer_estimator.variants).
"""

import argparse
import sys
from pathlib import Path

from _shared import PROJECT_ROOT, SHARED_FER2013_CSV
from fer_estimator._paths import MODELS_DIR
from fer_estimator.evaluation import evaluate
from fer_estimator.persistence import dump_joblib, dump_json, load_joblib
from fer_estimator.training import load_split, train_and_save
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
    args = parser.parse_args(argv)
    checkpoint_dir = args.checkpoint_dir or PROJECT_ROOT / "checkpoints" / args.out.stem
    if args.derive_only:
        save_six_class_variant(args.out, args.six_class_out, args.data)
        return 0
    train_and_save(args.out, args.data, n_classes=args.classes,
                   normalization=SHIPPED_NORMALIZATION,
                   cnn_params={**SHIPPED_PARAMS, "epochs": args.epochs,
                               "validation_random_state": args.split_seed},
                   max_train_rows=args.max_train_rows, checkpoint_dir=checkpoint_dir,
                   random_state=args.seed)
    if args.classes == 7:
        save_six_class_variant(args.out, args.six_class_out, args.data)
    return 0


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
