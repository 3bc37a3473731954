"""Keras callback that links one fold's training to its Optuna trial."""

import keras
import numpy as np
import optuna
from sklearn.pipeline import Pipeline

from .space import final_step


class HeldOutAccuracy:
    """Accuracy of the network being trained on the held-out fold, computed at an epoch end.

    It is the intermediate value pruning compares, whatever the study's ``scoring``.

    Parameters
    ----------
    estimator : Pipeline or scikeras classifier
        The fold's estimator while it fits: its transformers are already fitted when the
        first epoch ends, so the held-out images go through exactly the same preprocessing.
    X : array-like
        Held-out samples, in the form the estimator takes.
    y : array-like
        Their labels.
    """

    def __init__(self, estimator, X, y):
        self.estimator = estimator
        self.X = X
        self.y = np.asarray(y)
        self._features = None
        self._codes = None

    def _prepare(self):
        """The held-out network input and label codes, made once per fold."""
        classifier = final_step(self.estimator)
        features = self.X
        if isinstance(self.estimator, Pipeline):
            # Slicing, not Pipeline.transform: that refuses a pipeline whose last step is
            # still fitting.
            features = self.estimator[:-1].transform(features)
        self._features = classifier.feature_encoder_.transform(
            np.asarray(features, dtype="float32"))
        # The network's output i is classes_[i] (set before training starts).
        self._codes = np.searchsorted(classifier.classes_, self.y)

    def __call__(self, model):
        if self._features is None:
            self._prepare()
        # Direct calls, not model.predict: predict would trace a new function for every
        # fold's network, which costs more than the forward pass on a small fold.
        predicted = np.concatenate([
            np.argmax(keras.ops.convert_to_numpy(model(batch, training=False)), axis=1)
            for batch in np.array_split(self._features, max(1, len(self._features) // 256))])
        return float(np.mean(predicted == self._codes))


class TrialEpochCallback(keras.callbacks.Callback):
    """Count the epochs of one fold; optionally report each to the trial and prune.

    Parameters
    ----------
    trial : optuna.Trial
    fold : int
        The fold: its epoch ``e`` reports at step ``fold * stride + e``, a step of its own.
    epochs : int
        Epochs of this fit.
    tally : collections.Counter
        Shared by all folds of a trial: ``tally["epochs"]`` counts every epoch trained,
        including those of a fold that is pruned.
    held_out : callable or None, default=None
        ``held_out(model) -> float``, the intermediate value. None only counts epochs.
    last_fold : bool, default=False
        Whether this is the trial's last fold. Its final epoch (the last one, or the one early
        stopping ends the fit on) is reported but never pruned: the whole trial is trained by
        then, so pruning would save nothing and lose its score. For the stop to be seen, this
        callback must run after early stopping (FERClassifier runs its own first).
    stride : int or None, default=None
        Steps per fold, the same for every trial of a study: the most epochs any of its trials
        trains (``epochs`` may be tuned), so a step means the same fold and epoch in every
        trial and a pruner compares like with like. None: ``epochs``.
    """

    def __init__(self, trial, fold, epochs, tally, held_out=None, last_fold=False, stride=None):
        super().__init__()
        self.trial = trial
        self.fold = fold
        self.epochs = epochs
        self.tally = tally
        self.held_out = held_out
        self.last_fold = last_fold
        self.stride = epochs if stride is None else stride
        if self.stride < epochs:
            raise ValueError(f"stride={stride} is below epochs={epochs}: the folds' steps would "
                             f"overlap")

    def on_epoch_end(self, epoch, logs=None):
        self.tally["epochs"] += 1
        if self.held_out is None:
            return
        self.trial.report(self.held_out(self.model), self.fold * self.stride + epoch)
        completes_trial = self.last_fold and (epoch + 1 == self.epochs or self.model.stop_training)
        if not completes_trial and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned in fold {self.fold} after epoch {epoch + 1}")
