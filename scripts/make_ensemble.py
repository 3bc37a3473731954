"""Average trained FER2013 networks into one soft-voting ensemble, shipped only if it pays.

    python scripts/make_ensemble.py models/fer2013-7class.fer.zip runs/seed1.fer.zip \\
        runs/seed2.fer.zip --out models/fer2013-7class-ensemble.fer.zip

A member may also be an ensemble this script saved earlier: its networks join as members of
their own, under the names they had there. The members must have held out the same validation
images (train them with ``scripts/train_fer2013.py --seed N`` and the same ``--split-seed``).
The ensemble is scored on those images first; only when it beats its best member there by
``--min-gain`` is it scored on PublicTest (once) and saved, with its report and the derived
6-class ensemble beside it. Otherwise nothing is written and the exit status is 1. With
``--validation-only`` (and no ``--out``) it prints the validation scores and stops there.
"""

import argparse
import sys
from pathlib import Path

from _shared import SHARED_FER2013_CSV

from fer_estimator._versions import current_versions
from fer_estimator.cli_options import add_trust_model_option
from fer_estimator.ensemble import (
    ensemble_members,
    is_ensemble,
    shared_validation_rows,
    soft_voting_ensemble,
)
from fer_estimator.evaluation import evaluate, plot_confusion_matrix
from fer_estimator.persistence import dump_json
from fer_estimator.safe_format import load, model_stem
from fer_estimator.training import load_split, save_model
from fer_estimator.variants import six_class_from_seven


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", type=Path,
                        help="trained 7-class pipelines or ensembles of them (.fer.zip, or "
                             "joblib with --trust-model)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the ensemble (.fer.zip, or joblib by any other name); its report "
                             "is beside it (.json). Required unless --validation-only")
    parser.add_argument("--six-class-out", type=Path, default=None,
                        help="where the derived 6-class ensemble goes (default: --out with "
                             "7class replaced by 6class)")
    parser.add_argument("--data", type=Path, default=SHARED_FER2013_CSV,
                        help="FER2013 CSV (default: ../shared/data/fer2013.csv.gz)")
    parser.add_argument("--min-gain", type=float, default=0.015,
                        help="validation accuracy the ensemble must add to its best member "
                             "(default: 0.015, 1.5 points)")
    parser.add_argument("--validation-only", action="store_true",
                        help="print the validation scores and stop: nothing is saved and "
                             "PublicTest is not looked at (to follow an ensemble as members "
                             "are added)")
    add_trust_model_option(parser, what="member")
    args = parser.parse_args(argv)
    if args.validation_only:
        if args.out or args.six_class_out:
            parser.error("--validation-only saves nothing: drop --out and --six-class-out")
    elif args.out is None:
        parser.error("--out is required (or --validation-only)")
    else:
        six_out = (args.six_class_out
                   or args.out.with_name(args.out.name.replace("7class", "6class")))
        if six_out == args.out:
            parser.error("--six-class-out is needed: --out has no '7class' in its name")

    by_name = {}
    for path in args.members:
        for name, member in _members_in(load(path, trust=args.trust_model), path).items():
            if name in by_name:
                parser.error(f"two members are named {name!r} (the second from {path}): "
                             f"is one network given twice?")
            by_name[name] = member
    names, members = list(by_name), list(by_name.values())
    X_train, y_train, *_, source = load_split(args.data, n_classes=7)
    rows = shared_validation_rows(members, y_train)
    ensemble = soft_voting_ensemble(members, names=names)
    validation = {name: evaluate(model, X_train[rows], y_train[rows], progress=False)
                  for name, model in [*zip(names, members, strict=True), ("ensemble", ensemble)]}
    print(f"validation ({len(rows)} Training images no member trained on):")
    for name, report in validation.items():
        print(f"  {name:32s} accuracy {report['accuracy']:.4f}  "
              f"flip TTA {report['accuracy_tta']:.4f}  balanced {report['balanced_accuracy']:.4f}")
    best_member = max(validation[name]["accuracy"] for name in names)
    gain = validation["ensemble"]["accuracy"] - best_member
    if args.validation_only:
        print(f"the ensemble adds {gain * 100:+.2f} points to its best member on validation; "
              f"nothing saved (--validation-only)")
        return 0
    if gain < args.min_gain:
        print(f"not saved: the ensemble adds {gain * 100:+.2f} points to its best member on "
              f"validation, below --min-gain {args.min_gain * 100:.2f}")
        return 1

    six_class = soft_voting_ensemble([six_class_from_seven(member) for member in members],
                                     names=names)
    # Saved before PublicTest is looked at: a file that cannot be written costs no test run.
    for model, out in ((ensemble, args.out), (six_class, six_out)):
        save_model(model, out)
    for n_classes, model, out in ((7, ensemble, args.out), (6, six_class, six_out)):
        *_, X_test, y_test, _ = load_split(args.data, n_classes=n_classes)
        report = evaluate(model, X_test, y_test, progress=False)
        plot_confusion_matrix(report, out.with_name(f"{model_stem(out)}-evaluation")
                              / "confusion_matrix.png")
        dump_json({"model": out.name, "members": names,
                   "sources": [path.name for path in args.members],
                   "data": source, "n_classes": n_classes, "validation_rows": len(rows),
                   "validation": {name: {key: value[key] for key in
                                         ("accuracy", "accuracy_tta", "balanced_accuracy")}
                                  for name, value in validation.items()},
                   "test_rows": report["n_samples"], **report, "versions": current_versions()},
                  out.with_name(f"{model_stem(out)}.json"))
        print(f"{n_classes}-class ensemble: PublicTest accuracy {report['accuracy']:.4f} "
              f"(flip TTA {report['accuracy_tta']:.4f}, balanced "
              f"{report['balanced_accuracy']:.4f}); saved {out}")
    return 0


def _members_in(model, path):
    """The named member pipelines ``model`` (loaded from ``path``) brings to the ensemble."""
    return ensemble_members(model) if is_ensemble(model) else {model_stem(path): model}


if __name__ == "__main__":
    sys.exit(main())
