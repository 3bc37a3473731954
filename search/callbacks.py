"""Keras callback that links one fold's training to its Optuna trial."""

import keras
import numpy as np
import optuna
from sklearn.pipeline import Pipeline


class HeldOutAccuracy:
    """Accuracy of the network being trained on the held-out fold, computed at an epoch end.

    Parameters
    ----------
    estimator : Pipeline or scikeras classifier
        The fold's estimator while it fits: its transformers are already fitted when the
        first epoch ends, so the held-out images go through exactly the same preprocessing.
    X : array-like
        Held-out samples, in the form the estimator takes.
    y : array-like
        Their labels.
    classes : array-like
        Sorted labels of the training fold: the network's output ``i`` is ``classes[i]``.
    """

    def __init__(self, estimator, X, y, classes):
        self.estimator = estimator
        self.X = X
        self.codes = np.searchsorted(np.asarray(classes), np.asarray(y))
        self._features = None

    def _network_input(self):
        features = self.X
        if isinstance(self.estimator, Pipeline):
            # Step by step: Pipeline.transform would refuse a pipeline whose last step is
            # still fitting.
            for _, transformer in self.estimator.steps[:-1]:
                features = transformer.transform(features)
            classifier = self.estimator.steps[-1][1]
        else:
            classifier = self.estimator
        return classifier.feature_encoder_.transform(np.asarray(features, dtype="float32"))

    def __call__(self, model):
        if self._features is None:
            self._features = self._network_input()
        # Direct calls, not model.predict: predict would trace a new function for every
        # fold's network, which costs more than the forward pass on a small fold.
        predicted = np.concatenate([
            np.argmax(keras.ops.convert_to_numpy(model(batch, training=False)), axis=1)
            for batch in np.array_split(self._features, max(1, len(self._features) // 256))])
        return float(np.mean(predicted == self.codes))


class TrialEpochCallback(keras.callbacks.Callback):
    """Count the epochs of one fold; optionally report each to the trial and prune.

    Parameters
    ----------
    trial : optuna.Trial
    first_step : int
        Step of this fold's first epoch (``fold * epochs``), so every epoch of every fold
        reports at its own step.
    held_out : callable or None
        ``held_out(model) -> float``, the intermediate value. None only counts epochs.
    fold : int
        Fold number, for the pruning message.
    tally : collections.Counter or None
        Shared by all folds of a trial: ``tally["epochs"]`` counts every epoch trained,
        including those of a fold that is pruned.
    last_step : int or None
        The trial's final step (last fold, last epoch). It is reported but never pruned: the
        whole trial is trained by then, so pruning would save nothing and lose its score.
    """

    def __init__(self, trial, first_step=0, held_out=None, fold=0, tally=None, last_step=None):
        super().__init__()
        self.trial = trial
        self.first_step = first_step
        self.held_out = held_out
        self.fold = fold
        self.tally = tally
        self.last_step = last_step

    def on_epoch_end(self, epoch, logs=None):
        if self.tally is not None:
            self.tally["epochs"] += 1
        if self.held_out is None:
            return
        step = self.first_step + epoch
        self.trial.report(self.held_out(self.model), step)
        if step != self.last_step and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned in fold {self.fold} after epoch {epoch + 1}")
