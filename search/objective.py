"""The objective of a trial: stratified k-fold cross-validation of the whole pipeline."""

import gc
import os
import socket
from collections import Counter

import keras
import numpy as np
import optuna
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from .callbacks import HeldOutAccuracy, TrialEpochCallback
from .space import check_params, final_step, param_prefix, suggest
from .study import InvalidTrialError


def per_sample_subset(fit_params, n_samples, rows):
    """``fit_params`` for the samples ``rows``: arrays of one entry per sample are indexed,
    anything else is passed as it is (scikit-learn's rule for fit parameters in
    cross-validation)."""
    return {name: _safe_indexing(value, rows)
            if hasattr(value, "__len__") and not isinstance(value, (str, dict))
            and len(value) == n_samples else value
            for name, value in fit_params.items()}


def worker_id():
    """``host:pid`` of this process, stored on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CrossValidationObjective:
    """Score one set of parameters by k-fold cross-validation, reporting to the trial.

    Every fold clones the whole pipeline, so the transformer is refit on the training
    fold only (no leakage). Intermediate values for pruning are, with
    ``prune_on="epoch"``, the held-out fold's accuracy after each epoch at step
    ``fold * epoch_stride + epoch``; with ``prune_on="fold"``, the running mean of the fold
    scores at step ``fold``. The report that ends the trial (the last fold's final epoch,
    or the last fold) is made but never pruned: the trial is fully trained by then. Keras
    state is cleared after every fold. Sampled parameters that are invalid together end the
    trial before any training with :class:`~fer_estimator.search.study.InvalidTrialError`.

    Parameters
    ----------
    estimator : Pipeline or scikeras classifier
        Unfitted template; cloned for each fold.
    search_space : mapping of str to optuna.distributions.BaseDistribution
    param_names : mapping of str to str
        Search-space name -> ``set_params`` name (see ``resolve_search_space``).
    X, y : array-like
        The data cross-validated.
    splits : list of (ndarray, ndarray)
        Train and test indices of every fold, the same for every trial and worker.
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.
    prune_on : {"epoch", "fold"} or None
        Where intermediate values are reported; None reports nothing.
    epoch_stride : int or None, default=None
        Steps per fold with ``prune_on="epoch"``: the most epochs any trial trains per fold,
        so that a step is the same fold and epoch in every trial even when ``epochs`` is
        tuned. None: the trial's own epochs.
    fit_params : dict, default=None
        Passed to every fold's ``fit``, one-row-per-sample arrays sliced to the fold.
    """

    def __init__(self, estimator, search_space, param_names, X, y, splits, scorer, prune_on,
                 epoch_stride=None, fit_params=None):
        self.estimator = estimator
        self.search_space = search_space
        self.param_names = param_names
        self.X = X
        self.y = y
        self.splits = splits
        self.scorer = scorer
        self.prune_on = prune_on
        self.epoch_stride = epoch_stride
        self.fit_params = fit_params or {}

    def __call__(self, trial):
        params = {name: suggest(trial, name, distribution)
                  for name, distribution in self.search_space.items()}
        trial.set_user_attr("worker", worker_id())
        template = clone(self.estimator).set_params(
            **{self.param_names[name]: value for name, value in params.items()})
        try:
            check_params(template)
        except (ValueError, TypeError) as error:
            raise InvalidTrialError(f"invalid parameters {params}: {error}") from None
        epochs = final_step(template).get_params()["epochs"]
        scores, tally = [], Counter()
        try:
            for fold, (train, test) in enumerate(self.splits):
                score = self._fit_and_score(trial, template, fold, epochs, tally, train, test)
                scores.append(score)
                trial.set_user_attr(f"split{fold}_test_score", score)
                if self.prune_on == "fold":
                    trial.report(float(np.mean(scores)), fold)
                    # After the last fold the trial is paid for: keep its score.
                    if fold < len(self.splits) - 1 and trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after fold {fold}: running mean "
                                                 f"{np.mean(scores):.4f}")
        finally:
            trial.set_user_attr("epochs_trained", tally["epochs"])
        trial.set_user_attr("mean_test_score", float(np.mean(scores)))
        trial.set_user_attr("std_test_score", float(np.std(scores)))
        return float(np.mean(scores))

    def _fit_and_score(self, trial, template, fold, epochs, tally, train, test):
        X_train, y_train = _safe_indexing(self.X, train), _safe_indexing(self.y, train)
        X_test, y_test = _safe_indexing(self.X, test), _safe_indexing(self.y, test)
        estimator = clone(template)
        held_out = None
        if self.prune_on == "epoch":
            held_out = HeldOutAccuracy(estimator, X_test, y_test)
        reporter = TrialEpochCallback(trial, fold, epochs, tally, held_out,
                                      last_fold=fold == len(self.splits) - 1,
                                      stride=self.epoch_stride)
        callbacks = final_step(estimator).get_params().get("callbacks") or []
        estimator.set_params(**{param_prefix(estimator) + "callbacks": [*callbacks, reporter]})
        try:
            estimator.fit(X_train, y_train,
                          **per_sample_subset(self.fit_params, len(self.y), train))
            return float(self.scorer(estimator, X_test, y_test))
        finally:
            # Free the fold's network before the next one is built (graph, weights, buffers).
            del estimator, held_out, reporter
            keras.backend.clear_session()
            gc.collect()
