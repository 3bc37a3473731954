"""The adapter between FERClassifier and its libraries: scikeras' ``BaseWrapper`` made a
scikit-learn classifier with mixins in scikit-learn's order, public hooks for a subclass, and
scikit-learn's parameter validation.

This is the only module that uses private names of scikeras or scikit-learn; the names are
listed below and ``tests/test_scikeras_adapter.py`` fails, naming the one that moved, when an
upgrade changes them. Why each is needed:

- scikeras' ``KerasClassifier`` inherits ``(BaseWrapper, ClassifierMixin)``, so in every
  subclass ``BaseEstimator`` comes before ``ClassifierMixin`` (scikit-learn's
  ``check_mixin_order`` fails and no subclass can reorder it). :class:`ScikerasClassifier`
  therefore redoes KerasClassifier's classifier part (class weights, label encoding, accuracy
  scorer, ``predict_proba``: about forty lines) on ``BaseWrapper`` instead.
- scikeras documents ``_keras_build_fn``, ``target_encoder``, ``feature_encoder`` and
  ``scorer`` as its extension points; FERClassifier uses them as documented. It has none for
  callbacks built from hyperparameters, a validation split, seeding before the network is
  built, or the prediction path, so the overrides of ``_initialize``,
  ``_initialize_callbacks``, ``_fit_keras_model``, ``_predict_raw`` and the use of
  ``_validate_data``, ``_fit_callbacks`` and ``_predict_callbacks`` live here, behind the
  hooks :meth:`ScikerasClassifier.on_initialize`, :meth:`~ScikerasClassifier.default_callbacks`,
  :meth:`~ScikerasClassifier.split_validation`, :meth:`~ScikerasClassifier.training_batches` and
  :meth:`~ScikerasClassifier.network_proba`.
- Parameters are validated in scikit-learn's style, through :mod:`fer_estimator._validation`
  (the one module importing scikit-learn's private validation names), so the errors read like
  scikit-learn's own ("The 'dropout' parameter of FERClassifier must be a float in the range
  [0.0, 1.0). Got 'x' instead.").
"""

import difflib
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import accuracy_score
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target

from ._extras import requires_install

with requires_install("FERClassifier"):
    from scikeras.utils.transformers import ClassifierLabelEncoder
    from scikeras.wrappers import BaseWrapper

from ._validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    check_params,
)

__all__ = [
    "SINGLE_CALL_BATCH",
    "HasMethods",
    "Interval",
    "Options",
    "ScikerasClassifier",
    "StrOptions",
]

# What this module relies on; tests/test_scikeras_adapter.py checks every entry.
# BaseWrapper methods overridden or called -> the parameters they must still take.
SCIKERAS_METHODS = {
    "_initialize": ("self", "X", "y"),
    "_initialize_callbacks": ("self",),
    "_fit_keras_model": ("self", "X", "y", "sample_weight", "warm_start", "epochs",
                         "initial_epoch", "kwargs"),
    "_predict_raw": ("self", "X", "kwargs"),
    "_type_of_target": ("self", "y"),
    "_validate_data": ("self", "X", "y", "reset", "y_numeric"),
    "set_params": ("self", "params"),
}
# BaseWrapper class attributes read.
SCIKERAS_CLASS_ATTRIBUTES = ("_fit_kwargs", "_routing_prefixes")
# Instance attributes BaseWrapper._initialize_callbacks sets and _fit_keras_model and
# _predict_raw read.
SCIKERAS_CALLBACK_LISTS = ("_fit_callbacks", "_predict_callbacks")
# ClassifierLabelEncoder method overridden.
SCIKERAS_ENCODER_METHODS = {"_type_of_target": ("self", "y")}

# Batches up to this size are predicted in one direct call instead of through Model.predict.
SINGLE_CALL_BATCH = 256


class _OneHotLabelEncoder(ClassifierLabelEncoder):
    """scikeras' label encoder, one-hot for two classes too (the network always ends in a
    softmax over every class)."""

    def _type_of_target(self, y):
        target_type = super()._type_of_target(y)
        return "multiclass" if target_type == "binary" else target_type


class ScikerasClassifier(ClassifierMixin, BaseWrapper):
    """A scikeras wrapper that is a scikit-learn classifier, for a subclass to complete.

    The subclass provides the network (scikeras' documented ``_keras_build_fn``) and may
    override the hooks :meth:`on_initialize`, :meth:`default_callbacks`,
    :meth:`split_validation`, :meth:`training_batches`, :meth:`network_proba` and
    :meth:`check_params`, and extend
    ``_parameter_constraints``. Parameters are validated when ``fit``, ``partial_fit`` or
    ``initialize`` starts; unknown names are rejected with the closest known one.

    Parameters
    ----------
    model : callable, keras.Model or None, default=None
        scikeras' ``model`` (unused when the subclass defines ``_keras_build_fn``).
    class_weight : dict, "balanced" or None, default=None
        Class weights, applied as sample weights.
    **kwargs
        scikeras' parameters (``optimizer``, ``batch_size``, ``epochs``, ``callbacks``,
        ``fit__*``...).
    """

    # scikeras' parameters; a subclass adds its own:
    # {**ScikerasClassifier._parameter_constraints, "depth": [...], ...}.
    _parameter_constraints: ClassVar[dict] = {
        "model": [None, callable],
        "build_fn": [None, callable],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "optimizer": [str, type, HasMethods(["apply_gradients"])],
        "loss": [None, str, callable],
        "metrics": [None, list, tuple],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1}), None],
        "validation_batch_size": [Interval(Integral, 1, None, closed="left"),
                                  Options(Integral, {-1}), None],
        "verbose": ["verbose"],
        "callbacks": [None, list, dict, HasMethods(["set_model"])],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "shuffle": ["boolean"],
        "run_eagerly": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    # KerasClassifier turns class_weight into sample weights instead of passing it to Keras.
    _fit_kwargs = BaseWrapper._fit_kwargs - {"class_weight"}

    def __init__(self, model=None, *, class_weight=None, **kwargs):
        super().__init__(model=model, **kwargs)
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # ClassifierMixin's: a classifier, with its tags
        tags.target_tags.required = True
        return tags

    # --- Parameters -------------------------------------------------------------------------

    @classmethod
    def check_param_names(cls, names):
        """Reject parameter names the estimator does not have, suggesting the closest one.

        Names routed by scikeras (``fit__*``, ``optimizer__*``...) are accepted.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A ``ValueError`` (and ``TypeError``) naming the unknown parameter.
        """
        known = sorted(cls._parameter_constraints)
        for name in names:
            if name in cls._parameter_constraints:
                continue
            if "__" in name and name.split("__", 1)[0] in BaseWrapper._routing_prefixes:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InvalidParameterError(
                f"{cls.__name__} has no parameter {name!r}; {hint}Its parameters: "
                f"{', '.join(known)} (and scikeras' routed fit__*, predict__*, optimizer__*...).")

    def set_params(self, **params):
        """Set parameters, as scikit-learn's ``set_params``; an unknown name is refused as
        the constructor refuses it, with the closest known name (``droput`` -> ``dropout``).
        """
        self.check_param_names(params)
        return super().set_params(**params)

    def _validate_params(self):
        """Check every parameter against ``_parameter_constraints`` (scikit-learn's style and
        messages), then :meth:`check_params`."""
        params = self.get_params(deep=False)
        self.check_param_names(params)
        check_params(self._parameter_constraints, params, caller_name=type(self).__name__)
        self.check_params()

    def check_params(self):
        """Hook: rules between parameters, after each one is checked on its own."""

    # --- KerasClassifier's classifier part ----------------------------------------------------

    @staticmethod
    def scorer(y_true, y_pred, **kwargs):
        """Accuracy, the score of ``score``."""
        return accuracy_score(y_true, y_pred, **kwargs)

    @property
    def target_encoder(self):
        """Labels (any type) to one-hot codes for the softmax, and back."""
        categories = "auto" if self.classes_ is None else [self.classes_]
        return _OneHotLabelEncoder(loss="categorical_crossentropy", categories=categories)

    def _type_of_target(self, y):
        target_type = type_of_target(y)
        if target_type == "binary" and self.classes_ is not None:
            target_type = type_of_target(self.classes_)  # multiclass, some classes absent
        return target_type

    def initialize(self, X, y):
        """Build the network and the encoders for ``X, y`` without training (scikeras)."""
        self._validate_params()
        self.classes_ = None
        return super().initialize(X=X, y=y)

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Train a new network (or go on training it with ``warm_start``).

        Parameters
        ----------
        X : array-like
            Training inputs.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
        **kwargs
            Extra arguments for ``keras.Model.fit``; ``callbacks=[...]`` serve this fit only.

        Returns
        -------
        self
        """
        self._validate_params()
        self._reject_sparse(X)
        y = self._check_target(y, sample_weight)
        self.classes_ = None
        sample_weight = self._with_class_weight(y, sample_weight)
        return super().fit(X=X, y=y, sample_weight=sample_weight, **kwargs)

    def _reject_sparse(self, X):
        if hasattr(X, "toarray"):  # scipy.sparse matrices and arrays
            raise TypeError(f"{type(self).__name__} does not take sparse input: pass a dense "
                            f"array")

    def _check_n_features(self, X):
        if X.ndim >= 2 and X.shape[1] != self.n_features_in_:
            # scikit-learn's wording; for images the "features" are the rows of pixels.
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input (samples of "
                             f"shape {X.shape[1:]}; fitted on {tuple(self.X_shape_[1:])})")

    def _check_target(self, y, sample_weight):
        """Return ``y`` as a 1-D array, rejecting what no classifier learns from: no y, a
        continuous y, a single class among the samples of non-zero weight."""
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is "
                          "raveled.", DataConversionWarning, stacklevel=3)
            y = y.ravel()
        target_type = type_of_target(y)
        if target_type.startswith("continuous"):
            raise ValueError(f"Unknown label type: {target_type}; {name} is a classifier and "
                             f"needs class labels")
        learnt = y
        if sample_weight is not None:
            weights = np.asarray(sample_weight)
            if weights.shape == y.shape[:1]:
                if not weights.any():
                    raise ValueError("all sample weights are zero: no sample to train on")
                learnt = y[weights != 0]
        if learnt.ndim == 1 and len(np.unique(learnt)) < 2:
            raise ValueError(f"{name} needs samples of at least 2 classes to learn from; got "
                             f"{len(np.unique(learnt))} class")
        return y

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train one more epoch (scikeras' ``partial_fit``)."""
        self._validate_params()
        self._reject_sparse(X)
        if self.initialized_:
            self._check_n_features(np.asarray(X))
            if classes is None:
                self._check_known_labels(y)
        self.classes_ = classes if classes is not None else getattr(self, "classes_", None)
        sample_weight = self._with_class_weight(y, sample_weight)
        return super().partial_fit(X, y, sample_weight=sample_weight, **kwargs)

    def _check_known_labels(self, y):
        """Refuse labels the network has no output for (the encoder's message would only
        name a category or a dtype)."""
        known = getattr(self, "classes_", None)
        if known is None:
            return
        known_set = set(np.asarray(known).tolist())
        unseen = [label for label in np.unique(np.asarray(y)).tolist() if label not in known_set]
        if unseen:
            shown = ", ".join(map(repr, unseen[:5])) + (", ..." if len(unseen) > 5 else "")
            raise ValueError(
                f"partial_fit got label(s) {shown} that this {type(self).__name__} has no "
                f"output for: its classes are {np.asarray(known).tolist()!r}. Give every "
                f"class to the first partial_fit call (classes=[...]), or fit a new one")

    def _with_class_weight(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(class_weight=self.class_weight, y=y)
        return weights if sample_weight is None else np.asarray(sample_weight) * weights

    def predict_proba(self, X, **kwargs):
        """Return the probability of every class, one row per sample (rows sum to 1).

        Parameters
        ----------
        X : array-like
        **kwargs
            Extra arguments for ``keras.Model.predict``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        outputs = self._predict_raw(X, **kwargs)  # NotFittedError before fit
        proba = self.target_encoder_.inverse_transform(outputs, return_proba=True)
        return proba.reshape(-1, self.n_classes_)  # scikeras squeezes a one-sample batch

    # --- Hooks for the subclass, and the scikeras internals behind them ------------------------

    def on_initialize(self, X, y):
        """Hook: called before the encoders and the network are built for ``X, y``."""

    def default_callbacks(self):
        """Hook: Keras callbacks built from the parameters, run before the ``callbacks``
        parameter's and ``fit``'s at every step (so those see, e.g., a reduced rate)."""
        return []

    def split_validation(self, X, y, sample_weight):
        """Hook: ``(X, y, sample_weight, validation_data or None)`` from the encoded training
        data; the default keeps everything for training."""
        return X, y, sample_weight, None

    def training_batches(self, X, y, sample_weight):
        """Hook: a ``keras.utils.PyDataset`` of training batches made from the training part of
        :meth:`split_validation`, or None (the default) to let Keras batch the arrays (by
        ``batch_size``, shuffled)."""
        return None

    def network_proba(self, X, **kwargs):
        """The network's output for inputs ``X`` (before label decoding); override to change
        what ``predict`` and ``predict_proba`` see (test-time augmentation, say), calling
        ``super().network_proba``.

        Batches up to :data:`SINGLE_CALL_BATCH` go through one direct network call: Keras'
        ``Model.predict`` sets up a data pipeline on every call (~150 ms on a CPU), which
        dominates small batches such as the faces of one photo.
        """
        self._reject_sparse(X)
        if not self.initialized_:
            return super()._predict_raw(X, **kwargs)  # raises NotFittedError
        X = np.asarray(X)
        self._check_n_features(X)
        if kwargs or len(X) > SINGLE_CALL_BATCH:
            return super()._predict_raw(X, **kwargs)
        X, _ = self._validate_data(X=X, y=None)
        return np.asarray(self.model_.predict_on_batch(self.feature_encoder_.transform(X)))

    def _initialize(self, X, y=None):
        self.on_initialize(X, y)
        return super()._initialize(X, y)

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        self._fit_callbacks = list(self.default_callbacks()) + self._fit_callbacks

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch,
                         **kwargs):
        X, y, sample_weight, validation_data = self.split_validation(X, y, sample_weight)
        if validation_data is not None:
            kwargs["validation_data"] = validation_data
        batches = self.training_batches(X, y, sample_weight)
        if batches is not None:
            # A dataset batches and shuffles itself: Keras refuses a batch size beside it.
            X, y, sample_weight = batches, None, None
            kwargs["validation_batch_size"] = (self.validation_batch_size
                                               or self.batch_size)
            kwargs["batch_size"] = None
        # Callbacks given to fit() (a checkpoint, a pruning callback...) serve that fit only:
        # unlike the ``callbacks`` parameter they are neither cloned nor saved with the model.
        fit_only_callbacks = list(kwargs.pop("callbacks", None) or [])
        param_callbacks = self._fit_callbacks
        self._fit_callbacks = param_callbacks + fit_only_callbacks
        try:
            super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch,
                                     **kwargs)
        finally:
            self._fit_callbacks = param_callbacks

    def _predict_raw(self, X, **kwargs):
        return self.network_proba(X, **kwargs)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it is self.__dict__
        if self.initialized_:
            # The callbacks hold the model (and early stopping a copy of its best weights):
            # saving them would store the network up to three times. They are rebuilt on load.
            for name in SCIKERAS_CALLBACK_LISTS:
                state.pop(name, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if self.initialized_:
            self._initialize_callbacks()
