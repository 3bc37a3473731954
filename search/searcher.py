"""FERSearchCV: a GridSearchCV-like Optuna search over the FER pipeline."""

import math
import sys
import time
import warnings
from numbers import Integral, Real
from typing import ClassVar

import joblib
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, check_cv, train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    import optuna
    from optuna.trial import TrialState

from fer_estimator._validation import HasMethods, Interval, StrOptions
from fer_estimator.pipeline import make_fer_pipeline

from .objective import CrossValidationObjective, per_sample_subset
from .options import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_RETRY,
    PRUNE_ON,
    default_storage_url,
)
from .pruners import make_pruner
from .report import ProgressPrinter
from .space import (
    check_params,
    check_search_space,
    default_search_space,
    final_step,
    most_epochs,
    resolve_search_space,
)
from .storage import describe_storage, heartbeat_interval_of, open_storage
from .study import check_study_context, create_or_load_study, run_trials


class NoCompletedTrialError(RuntimeError):
    """A search with ``refit=True`` ended without a completed trial to refit."""


class FERSearchCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Optuna search of FER pipeline hyperparameters by stratified k-fold cross-validation.

    Like :class:`~sklearn.model_selection.GridSearchCV`, but the candidates come from an
    Optuna sampler, unpromising ones are pruned while they train, and the trials live in
    an Optuna storage: a study survives a crash and many worker processes (on many
    machines, with a database URL) can fill the same study.

    Not built on ``optuna_integration.OptunaSearchCV``: its pruning needs an estimator
    with ``partial_fit`` (a Pipeline has none, and it would keep one network per fold
    in memory), its ``n_trials`` counts per call rather than per study (no resume, no
    exact total with several workers), and it has no per-epoch reports or heartbeats.

    Parameters
    ----------
    estimator : Pipeline or scikeras classifier, default=None
        Template to tune, with the fixed parameters set (epochs, dense units...). None:
        ``make_fer_pipeline()``. Its final step needs ``epochs`` and ``callbacks``
        parameters (any scikeras classifier, e.g. ``FERClassifier``).
    search_space : mapping of str to optuna distribution, default=None
        Parameters to tune. Names are parameters of the estimator (``"cnn__dropout"``) or,
        for a Pipeline, of its final step (``"dropout"``). None:
        :func:`~fer_estimator.search.default_search_space`. Every value a range or a list
        allows must be valid (``fit`` checks them first); a trial that samples values
        invalid *together* fails untrained (user attribute ``fail_reason``) and the worker
        goes on.
    n_trials : int, default=20
        Finished trials (COMPLETE or PRUNED) the *study* should hold, counting earlier
        runs and every worker: a rerun after a crash runs only the missing ones.
    timeout : float or None, default=None
        Seconds after which this worker starts no new trial.
    cv : int or cross-validation splitter, default=3
        An int gives shuffled ``StratifiedKFold`` folds seeded by ``random_state``.
    scoring : str, callable or None, default=None
        Any scikit-learn scorer; None: accuracy.
    subsample : int, float or None, default=None
        Cross-validate on a stratified sample of this many rows (int) or this fraction
        (float) of the data; the refit uses all of it. None: all rows.
    pruner : {"median", "hyperband", "none"} or optuna.pruners.BasePruner, default="median"
        See :func:`~fer_estimator.search.make_pruner`. Optuna does not store a study's pruner: each
        worker prunes with its own.
    prune_on : {"epoch", "fold"}, default="epoch"
        ``"epoch"``: after each epoch, the held-out fold's accuracy is reported at step
        ``fold * max_epochs + epoch``, where ``max_epochs`` is the estimator's ``epochs``
        or, when the space tunes ``epochs``, the largest value it allows (so a step is the
        same fold and epoch in every trial). ``"fold"``: after each fold, the running mean of the
        fold scores is reported at step ``fold``. Nothing is reported (nor evaluated per
        epoch) when the pruner never prunes (``"none"``).
    sampler : optuna.samplers.BaseSampler or None, default=None
        None: TPE with the constant-liar heuristic (good with concurrent workers).
    storage : str, optuna storage or None, default=None
        None: ``sqlite:///studies/fer-search.db`` under the working directory. Any Optuna
        database URL otherwise, e.g. ``postgresql://user:password@host/db``. A storage
        object is used with its own heartbeat settings.
    study_name : str, default="fer-search"
        Workers with the same study name and storage share the study.
    heartbeat_interval : int or None, default=60
        Seconds between heartbeats of running trials; a trial silent for twice as long
        belongs to a dead worker and is retried. None disables heartbeats. Ignored, with a
        warning when set, if ``storage`` is a storage object.
    max_retry : int or None, default=2
        Retries of a dead worker's trial. Ignored, with a warning when set, if ``storage``
        is a storage object.
    refit : bool, default=True
        Refit the best parameters on all of ``X, y`` into ``best_estimator_``.
    random_state : int, default=0
        Seeds the folds and the subsample. Fixed by default: every worker of a study
        must cross-validate on the same folds for their scores to be comparable.
    verbose : int, default=0
        1: print one line per finished trial of this worker.
    callbacks : list of callable or None, default=None
        Extra ``callback(study, frozen_trial)`` run after every trial of this worker.
    data_source : str or None, default=None
        Where X comes from (a file, "synthetic faces"), recorded with the study and shown when
        a resume is refused. A study records the digest and size of its data and its fixed
        settings (the estimator's untuned parameters, cv, subsample, scoring, random_state);
        ``fit`` on an existing study with other ones raises
        :class:`~search.study.StudyMismatchError` before any trial.

    Attributes
    ----------
    study_ : optuna.Study
        The study (all workers' trials).

    The ``best_*`` attributes below exist once the study has a COMPLETE trial (with
    ``refit=False`` and none, ``fit`` warns and leaves them unset).

    best_trial_ : optuna.trial.FrozenTrial
    best_params_ : dict
        Best parameters, keyed by the search-space names.
    best_score_ : float
        Mean cross-validated score of the best trial.
    best_estimator_ : estimator
        ``estimator`` with ``best_params_``, fitted on all data (when ``refit``).
    refit_time_ : float
        Seconds the refit took.
    scorer_ : callable
    n_splits_ : int
    sample_indices_ : ndarray
        Rows used for cross-validation.
    classes_ : ndarray
        Class labels (when ``refit``).
    n_features_in_ : int
        Features seen by ``best_estimator_`` (when ``refit`` and it records them).

    Examples
    --------
    >>> from fer_estimator._validation import HasMethods, Interval, StrOptions
from fer_estimator.pipeline import make_fer_pipeline
    >>> from fer_estimator.search import FERSearchCV
    >>> search = FERSearchCV(make_fer_pipeline(epochs=5), n_trials=10,
    ...                      storage="sqlite:///studies/demo.db")  # doctest: +SKIP
    >>> search.fit(X, y).best_params_  # doctest: +SKIP
    """

    # Checked when fit starts, with scikit-learn's messages. Not here: subsample, pruner,
    # sampler and storage, checked by the code that reads them, which knows more (a subsample
    # against the data, the pruners' names, a storage URL).
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "get_params"]), None],
        "search_space": [dict, None],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "study_name": [str],
        "random_state": ["random_state"],
        "callbacks": [list, None],
        "data_source": [str, None],
        # A finite, positive number of seconds: -1 or inf would otherwise show only as a study
        # without a completed trial.
        "timeout": [Interval(Real, 0, math.inf, closed="neither"), None],
        "subsample": [Interval(Integral, 1, None, closed="left"),
                      Interval(Real, 0, 1, closed="right"), None],
        "prune_on": [StrOptions(set(PRUNE_ON))],
        "heartbeat_interval": [Interval(Integral, 1, None, closed="left"), None],
        "max_retry": [Interval(Integral, 0, None, closed="left"), None],
        "refit": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, search_space=None, *, n_trials=20, timeout=None, cv=3,
                 scoring=None, subsample=None, pruner="median", prune_on="epoch",
                 sampler=None, storage=None, study_name="fer-search",
                 heartbeat_interval=DEFAULT_HEARTBEAT_INTERVAL, max_retry=DEFAULT_MAX_RETRY,
                 refit=True, random_state=0, verbose=0, callbacks=None, data_source=None):
        self.estimator = estimator
        self.search_space = search_space
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.subsample = subsample
        self.pruner = pruner
        self.prune_on = prune_on
        self.sampler = sampler
        self.storage = storage
        self.study_name = study_name
        self.heartbeat_interval = heartbeat_interval
        self.max_retry = max_retry
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.data_source = data_source

    def fit(self, X, y, **fit_params):
        """Run (or continue) the study, then refit the best parameters on all data.

        Everything that can be checked is checked before the study is opened: parameter
        names and values (the estimator's, and every value the search space allows),
        options and data; then the storage connection, before the first trial.

        Parameters
        ----------
        X : array-like of length n_samples
            Images in any form the estimator takes (for the FER pipeline: pixel strings,
            flat rows or image arrays).
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params
            Passed to the estimator's ``fit`` in every fold and in the refit; one-row-per-sample
            arrays are sliced like ``X`` (for a distilled student:
            ``cnn__teacher_proba=proba``, see :mod:`fer_estimator.distillation`).

        Returns
        -------
        self
        """
        self._validate_params()
        estimator = make_fer_pipeline() if self.estimator is None else self.estimator
        search_space = (default_search_space() if self.search_space is None
                        else dict(self.search_space))
        param_names = resolve_search_space(estimator, search_space)
        self._check_options(estimator)
        # Before the study is opened: a study records its settings, so a run that failed on a
        # bad value would leave a study its corrected rerun may not resume.
        check_params(estimator)
        y = self._check_data(X, y)
        head = np.arange(min(2, len(y)))
        check_search_space(estimator, search_space, param_names, _safe_indexing(X, head),
                           y[head])
        # One stride for all trials when epochs are tuned: a step is then the same fold and
        # epoch in every trial, and the pruner compares like with like.
        epoch_stride = most_epochs(estimator, search_space, param_names)

        self.sample_indices_ = self._sample_indices(y)
        X_cv, y_cv = _safe_indexing(X, self.sample_indices_), y[self.sample_indices_]
        fit_params_cv = per_sample_subset(fit_params, len(y), self.sample_indices_)
        self._check_class_counts(y_cv)
        cv = self._splitter(y_cv)
        splits = list(cv.split(X_cv, y_cv))
        self.n_splits_ = len(splits)
        self.scorer_ = check_scoring(estimator, scoring=self.scoring)
        n_steps = self.n_splits_ * epoch_stride if self.prune_on == "epoch" else self.n_splits_
        pruner = make_pruner(self.pruner, n_steps=n_steps)

        storage = open_storage(self.storage, heartbeat_interval=self.heartbeat_interval,
                               max_retry=self.max_retry)
        self.study_ = create_or_load_study(self.study_name, storage, sampler=self.sampler,
                                           pruner=pruner)
        check_study_context(
            self.study_, self._study_context(estimator, param_names, X, y),
            storage_description=describe_storage(
                default_storage_url() if self.storage is None else self.storage))
        # A pruner that never prunes needs no intermediate values: skip their evaluation.
        prune_on = None if isinstance(pruner, optuna.pruners.NopPruner) else self.prune_on
        objective = CrossValidationObjective(estimator, search_space, param_names, X_cv, y_cv,
                                             splits, self.scorer_, prune_on,
                                             epoch_stride=epoch_stride,
                                             fit_params=fit_params_cv)
        callbacks = list(self.callbacks or [])
        if self.verbose:
            callbacks.append(ProgressPrinter(self.n_trials, stream=sys.stdout))
        # Other workers' running trials are waited for only when a dead worker's trial would be
        # found (by its missing heartbeats): without them it stays RUNNING forever. The opened
        # storage says, not heartbeat_interval, which a storage object ignores.
        run_trials(self.study_, objective, self.n_trials, timeout=self.timeout,
                   callbacks=callbacks,
                   wait_for_running=heartbeat_interval_of(storage) is not None)

        if not self.study_.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            message = (f"study {self.study_name!r} has no completed trial (all pruned, failed "
                       f"or timed out); run more trials or prune less")
            if self.refit:
                raise NoCompletedTrialError(message)
            warnings.warn(message + "; best_* attributes are not set", RuntimeWarning,
                          stacklevel=2)
            return self
        self.best_trial_ = self.study_.best_trial
        self.best_params_ = {name: value for name, value in self.best_trial_.params.items()
                             if name in param_names}
        self.best_score_ = float(self.best_trial_.value)
        if self.refit:
            start = time.perf_counter()
            self.best_estimator_ = clone(estimator).set_params(
                **{param_names[name]: value for name, value in self.best_params_.items()})
            self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.classes_ = self.best_estimator_.classes_
            if hasattr(self.best_estimator_, "n_features_in_"):
                self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _study_context(self, estimator, param_names, X, y):
        """What the study's trials are run on: the data's digest and the fixed settings."""
        tuned = set(param_names.values())
        params = {name: value for name, value in estimator.get_params(deep=True).items()
                  if name not in tuned and _is_plain(value)}
        return {
            "data": {"source": self.data_source, "rows": len(y),
                     "digest": joblib.hash((X, y), hash_name="sha1")},
            "settings": {"params": params,
                         **{name: getattr(self, name) if _is_plain(getattr(self, name))
                            else type(getattr(self, name)).__name__
                            for name in ("cv", "subsample", "scoring", "random_state")}},
        }

    def _check_options(self, estimator):
        """Check that the estimator is a scikeras classifier the search can prune, and the
        counts the constraint table cannot tell from a bool (True is an Integral)."""
        for name in ("n_trials", "heartbeat_interval", "max_retry", "subsample", "timeout"):
            if isinstance(getattr(self, name), bool):
                raise ValueError(f"The {name!r} parameter of FERSearchCV must be a number, not a "
                                 f"bool. Got {getattr(self, name)!r} instead.")
        params = final_step(estimator).get_params()
        if "epochs" not in params or "callbacks" not in params:
            raise ValueError(f"the estimator must be a scikeras classifier (or a Pipeline ending "
                             f"in one) with 'epochs' and 'callbacks' parameters, got "
                             f"{type(final_step(estimator)).__name__}")

    def _check_data(self, X, y):
        """Check X and y can be cross-validated; return y as an array."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels")
        if len(y) == 0:
            raise ValueError("cannot search on an empty dataset (0 samples)")
        classes, _counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError(f"the dataset has a single class ({classes[0]!r}); a classifier "
                             f"search needs at least two")
        return y

    def _check_class_counts(self, y_cv):
        """Check every class of the cross-validated rows (the subsample) fills the folds."""
        n_splits = self.cv if isinstance(self.cv, (int, np.integer)) else None
        classes, counts = np.unique(y_cv, return_counts=True)
        if n_splits is not None and counts.min() < n_splits:
            rare = classes[counts < n_splits].tolist()
            where = ("the cross-validation sample (subsample="
                     f"{self.subsample!r}, {len(y_cv)} rows)" if self.subsample is not None
                     else "the data")
            raise ValueError(f"class(es) {rare} have fewer samples than cv={n_splits} folds "
                             f"in {where} (counts: "
                             f"{dict(zip(classes.tolist(), counts.tolist(), strict=True))})")

    def _sample_indices(self, y):
        every = np.arange(len(y))
        if self.subsample is None:
            return every
        size = self.subsample  # checked by _check_options
        if size == 1.0 or (isinstance(size, (int, np.integer)) and size >= len(y)):
            return every
        sample, _ = train_test_split(every, train_size=size, stratify=y,
                                     random_state=self.random_state)
        return np.sort(sample)

    def _splitter(self, y):
        if isinstance(self.cv, (int, np.integer)):
            return StratifiedKFold(n_splits=self.cv, shuffle=True,
                                   random_state=self.random_state)
        return check_cv(self.cv, y, classifier=True)

    def predict(self, X):
        """Predict labels with ``best_estimator_``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Predict class probabilities with ``best_estimator_``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def score(self, X, y):
        """Score ``best_estimator_`` on ``X, y`` with the search's scorer."""
        check_is_fitted(self, "best_estimator_")
        return float(self.scorer_(self.best_estimator_, X, y))


def _is_plain(value):
    """Whether ``value`` is a JSON-able constant (not an object whose repr changes per run)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False
