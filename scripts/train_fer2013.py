"""Reproduce the shipped FER2013 model with one command, resuming when interrupted.

    python scripts/train_fer2013.py                      # models/fer2013-7class.joblib
    python scripts/train_fer2013.py --epochs 5 --max-train-rows 3000 --out /tmp/quick.joblib

Training rows fit the network; a stratified 10% of them (validation_fraction) drive early
stopping and the learning-rate schedule; PublicTest is used once, for the reported accuracy.
Each finished epoch is checkpointed under --checkpoint-dir: run the same command again after
an interruption and training continues from the last finished epoch.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer_estimator.training import train_and_save  # noqa: E402

# The parameters of the shipped models/fer2013-7class.joblib, chosen to train on a 2-core CPU
# in about two hours (no GPU was available): the reference VGG-like layout at half width.
SHIPPED_PARAMS = dict(
    depth=4, base_filters=32, dense_units=(256, 128), dropout=0.25, l2=1e-4,
    learning_rate=1e-3, label_smoothing=0.1, batch_size=64, epochs=30,
    early_stopping_patience=6, reduce_lr_patience=2, reduce_lr_factor=0.5,
    validation_fraction=0.1, horizontal_flip=True, shift_range=0.1, zoom_range=0.1,
)
SHIPPED_NORMALIZATION = "standardize"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/fer2013.csv.gz",
                        help="FER2013 CSV (default: ../shared/data/fer2013.csv.gz)")
    parser.add_argument("--out", type=Path, default=ROOT / "models/fer2013-7class.joblib")
    parser.add_argument("--classes", type=int, choices=(7, 6), default=7)
    parser.add_argument("--epochs", type=int, default=SHIPPED_PARAMS["epochs"])
    parser.add_argument("--max-train-rows", type=int, default=None,
                        help="train on a stratified subsample (quick checks)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="where per-epoch checkpoints live (default: runs/<out name>)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    checkpoint_dir = args.checkpoint_dir or ROOT / "runs" / args.out.stem
    train_and_save(args.out, args.data, n_classes=args.classes,
                   normalization=SHIPPED_NORMALIZATION,
                   cnn_params={**SHIPPED_PARAMS, "epochs": args.epochs},
                   max_train_rows=args.max_train_rows, checkpoint_dir=checkpoint_dir,
                   random_state=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
