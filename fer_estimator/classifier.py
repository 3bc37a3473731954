"""FERClassifier: the FER CNN as a scikit-learn classifier, built on scikeras' KerasClassifier."""


import inspect

import keras
import numpy as np
from scikeras.utils.transformers import ClassifierLabelEncoder
from scikeras.wrappers import KerasClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._tags import ClassifierTags

from ._versions import check_saved_versions, current_versions
from .architecture import build_vgg_cnn
from .precision import PRECISIONS, resolve_precision
from .schedules import WarmupCosineSchedule


# Batches up to this size are predicted in one direct call instead of through Model.predict.
SINGLE_CALL_BATCH = 256


def mirror_images(X):
    """Mirror a batch of images (n, height, width[, channels]) left to right: the flip of
    test-time augmentation."""
    return np.asarray(X)[:, :, ::-1]


class _OneHotLabelEncoder(ClassifierLabelEncoder):
    """scikeras' label encoder, one-hot for two classes too (the CNN always ends in a softmax)."""

    def _type_of_target(self, y):
        target_type = super()._type_of_target(y)
        return "multiclass" if target_type == "binary" else target_type


def _check_image_batch(X):
    """Reject anything that is not a batch of images, naming the shape received."""
    shape = np.shape(X)
    if len(shape) not in (3, 4):
        raise ValueError(
            f"FERClassifier expects a batch of images of shape (n, height, width[, channels]), "
            f"got an array of shape {shape}; put fer_estimator.PixelTransformer in front of it "
            f"to parse pixel strings or flat pixel rows")


def _as_image_batch(X):
    """Give (n, H, W) batches a channel axis."""
    _check_image_batch(X)
    return X[..., np.newaxis] if X.ndim == 3 else X


class FERClassifier(KerasClassifier):
    """Facial-expression CNN with the scikit-learn classifier API.

    A VGG-like Keras CNN (see :func:`fer_estimator.architecture.build_vgg_cnn`) trained with
    Adam (or any Keras optimizer), early stopping and a learning-rate schedule (reduction on
    plateau, or warm-up then cosine decay) monitored on a stratified validation split carved
    from the training data. Works on any Keras 3 backend (TensorFlow, JAX, torch); trains in
    mixed bfloat16 on CPUs that compute it natively.

    Parameters
    ----------
    depth : int, default=4
        Number of convolution blocks (each halves the image side).
    base_filters : int, default=64
        Filters of the first block, doubled per block up to 512.
    dropout : float, default=0.25
        Dropout rate after every block and dense layer.
    l2 : float, default=1e-4
        L2 penalty on every convolution and dense kernel.
    dense_units : tuple of int, default=(512, 256, 128)
        Dense layers before the softmax.
    learning_rate : float, default=1e-3
        Initial learning rate of the optimizer (Adam by default); the peak rate of the
        ``"cosine"`` schedule.
    weight_decay : float or None, default=None
        Decoupled weight decay of the optimizer (Keras applies it AdamW-style to every
        optimizer); None keeps the optimizer's own default.
    lr_schedule : {"plateau", "cosine"}, default="plateau"
        ``"plateau"`` multiplies the rate by ``reduce_lr_factor`` after
        ``reduce_lr_patience`` epochs without improvement; ``"cosine"`` warms up linearly
        for ``warmup_epochs`` and then decays to zero at the last epoch (a fixed-length
        schedule: usually with ``early_stopping_patience=None``).
    warmup_epochs : float, default=0.0
        Linear warm-up of the ``"cosine"`` schedule, in epochs.
    label_smoothing : float, default=0.0
        Label smoothing of the categorical cross-entropy.
    batch_size : int, default=64
        Training batch size.
    epochs : int, default=60
        Largest number of training epochs.
    early_stopping_patience : int or None, default=10
        Epochs without improvement of the monitored loss (validation loss when
        ``validation_fraction > 0``, training loss otherwise) before training stops and
        the best weights are restored. None disables early stopping.
    reduce_lr_patience : int or None, default=5
        Epochs without improvement before the learning rate is multiplied by
        ``reduce_lr_factor`` (``lr_schedule="plateau"`` only). None disables it.
    reduce_lr_factor : float, default=0.5
        Factor of each learning-rate reduction.
    validation_fraction : float, default=0.1
        Fraction of the training data held out, stratified by class, to monitor training.
        0 trains on everything.
    horizontal_flip : bool, default=True
        Augmentation: random mirror images while training.
    shift_range : float, default=0.1
        Augmentation: random shifts up to this fraction of the image side while training.
    zoom_range : float, default=0.1
        Augmentation: random zoom up to this fraction while training.
    class_weight : dict, "balanced" or None, default=None
        Class weights; "balanced" up-weights rare classes such as Disgust.
    tta : bool, default=False
        Test-time augmentation: ``predict`` and ``predict_proba`` average the probabilities
        of each image and its mirror image. Can be switched on a fitted model.
    precision : {"auto", "float32", "mixed_bfloat16"}, default="auto"
        Numeric precision of training and prediction. ``"auto"`` uses mixed bfloat16
        (bfloat16 compute, float32 weights and softmax) on a CPU-only machine whose CPU has
        AVX-512 BF16 or AMX, float32 elsewhere. Saved models predict on any CPU and backend.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, augmentation and the validation split on
        every Keras backend (through ``keras.utils.set_random_seed``).
    verbose : int, default=0
        Keras verbosity while fitting and predicting.
    **kwargs
        Other scikeras parameters (``callbacks``, ``optimizer``, ``warm_start``,
        ``fit__*``, ``predict__*``...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    model_ : keras.Model
        The trained network.
    precision_ : str
        The dtype policy the network was built with.
    history_ : dict of str to list
        Per-epoch training metrics (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
        ``learning_rate``).
    """

    def __init__(self, depth=4, base_filters=64, dropout=0.25, l2=1e-4,
                 dense_units=(512, 256, 128), learning_rate=1e-3, weight_decay=None,
                 lr_schedule="plateau", warmup_epochs=0.0, label_smoothing=0.0,
                 batch_size=64, epochs=60, early_stopping_patience=10, reduce_lr_patience=5,
                 reduce_lr_factor=0.5, validation_fraction=0.1, horizontal_flip=True,
                 shift_range=0.1, zoom_range=0.1, class_weight=None, tta=False,
                 precision="auto", random_state=None, verbose=0, optimizer="adam", **kwargs):
        super().__init__(batch_size=batch_size, epochs=epochs, class_weight=class_weight,
                         random_state=random_state, verbose=verbose, optimizer=optimizer,
                         **kwargs)
        self.depth = depth
        self.base_filters = base_filters
        self.dropout = dropout
        self.l2 = l2
        self.dense_units = dense_units
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.label_smoothing = label_smoothing
        self.early_stopping_patience = early_stopping_patience
        self.reduce_lr_patience = reduce_lr_patience
        self.reduce_lr_factor = reduce_lr_factor
        self.validation_fraction = validation_fraction
        self.horizontal_flip = horizontal_flip
        self.shift_range = shift_range
        self.zoom_range = zoom_range
        self.tta = tta
        self.precision = precision

    # scikeras 0.13 predates the scikit-learn >= 1.6 tags API: without this, is_classifier()
    # is False, cross_val_score(cv=5) uses KFold instead of StratifiedKFold and neg_log_loss
    # scoring breaks.
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        tags.input_tags.two_d_array = False
        return tags

    @property
    def target_encoder(self):
        return _OneHotLabelEncoder(loss="categorical_crossentropy")

    @property
    def feature_encoder(self):
        return FunctionTransformer(_as_image_batch)

    def _keras_build_fn(self, meta, compile_kwargs):
        image_shape = tuple(meta["X_shape_"][1:])
        if len(image_shape) == 2:
            image_shape += (1,)
        model = build_vgg_cnn(
            image_shape, meta["n_classes_"], depth=self.depth, base_filters=self.base_filters,
            dropout=self.dropout, l2=self.l2, dense_units=tuple(self.dense_units),
            horizontal_flip=self.horizontal_flip, shift_range=self.shift_range,
            zoom_range=self.zoom_range, dtype_policy=self.precision_)
        optimizer = compile_kwargs["optimizer"]
        optimizer.learning_rate = self.learning_rate
        if self.weight_decay is not None:
            optimizer.weight_decay = self.weight_decay
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing),
            metrics=["accuracy"])
        return model

    def _check_hyperparameters(self):
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), "
                             f"got {self.validation_fraction!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_schedule not in ("plateau", "cosine"):
            raise ValueError(f"lr_schedule must be 'plateau' or 'cosine', "
                             f"got {self.lr_schedule!r}")
        if not 0.0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}), "
                             f"got {self.warmup_epochs!r}")

    def _initialize(self, X, y=None):
        self._check_hyperparameters()
        _check_image_batch(X)
        if self.random_state is not None:
            # scikeras seeds only Python, NumPy and TensorFlow: Keras' own seed generator
            # (used by initialisers, dropout and augmentation on JAX and torch) needs this.
            keras.utils.set_random_seed(self._seed())
        self.precision_ = resolve_precision(self.precision)
        return super()._initialize(X, y)

    def _seed(self):
        """The integer seed of ``random_state``, the same at every call of one fit.

        A RandomState is read from a copy, so the user's generator is neither advanced nor
        gives the weights and the validation split different seeds.
        """
        if isinstance(self.random_state, np.random.RandomState):
            copy = np.random.RandomState()
            copy.set_state(self.random_state.get_state())
            return int(copy.randint(2**31 - 1))
        return int(self.random_state)

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        monitor = "val_loss" if self.validation_fraction else "loss"
        schedule = []
        if self.early_stopping_patience is not None:
            schedule.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=self.early_stopping_patience,
                restore_best_weights=True))
        if self.lr_schedule == "cosine":
            schedule.append(WarmupCosineSchedule(self.learning_rate, self.epochs,
                                                 self.warmup_epochs))
        elif self.reduce_lr_patience is not None:
            schedule.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=self.reduce_lr_factor,
                patience=self.reduce_lr_patience))
        # The estimator's own schedule runs first at every epoch end, so the callbacks a user
        # passes see that epoch's outcome (early stopping's decision to stop, a reduced rate).
        self._fit_callbacks = schedule + self._fit_callbacks

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch,
                         **kwargs):
        if self.validation_fraction:
            X, y, sample_weight, kwargs["validation_data"] = self._carve_validation(
                X, y, sample_weight)
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

    def _carve_validation(self, X, y, sample_weight):
        """Split off a stratified validation set from the encoded training data."""
        codes = y.argmax(axis=1)
        seed = None if self.random_state is None else self._seed()
        try:
            train, val = train_test_split(np.arange(len(codes)), stratify=codes,
                                          test_size=self.validation_fraction, random_state=seed)
        except ValueError as error:
            raise ValueError(
                f"cannot carve a stratified validation_fraction={self.validation_fraction} "
                f"from {len(codes)} training images ({error}); use more data, a larger "
                f"fraction, or validation_fraction=0") from error
        weights = None if sample_weight is None else sample_weight[train]
        return X[train], y[train], weights, (X[val], y[val])

    def _predict_raw(self, X, **kwargs):
        if self.tta:
            X = np.asarray(X)
            both = self._network_proba(np.concatenate([X, mirror_images(X)]), **kwargs)
            return (both[:len(X)] + both[len(X):]) / 2.0
        return self._network_proba(X, **kwargs)

    def _network_proba(self, X, **kwargs):
        if kwargs or not self.initialized_ or len(X) > SINGLE_CALL_BATCH:
            return super()._predict_raw(X, **kwargs)
        # keras' Model.predict sets up a data pipeline on every call (~150 ms on a CPU), which
        # dominates small batches such as the faces of one photo; one direct call avoids it.
        X, _ = self._validate_data(X=X, y=None)
        return np.asarray(self.model_.predict_on_batch(self.feature_encoder_.transform(X)))

    def predict_proba(self, X, **kwargs):
        """Return the probability of every class, one row per image (rows sum to 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels])
            Images, as produced by :class:`fer_estimator.PixelTransformer`.
        **kwargs
            Extra arguments for ``keras.Model.predict``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = super().predict_proba(X, **kwargs)
        # scikeras squeezes a one-image batch down to 1-D.
        return proba.reshape(-1, self.n_classes_)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it is self.__dict__
        if self.initialized_:
            state["_saved_versions"] = current_versions()
            # The callbacks hold the model (and early stopping a copy of its best weights):
            # saving them would store the network up to three times. They are rebuilt on load.
            state.pop("_fit_callbacks", None)
            state.pop("_predict_callbacks", None)
        return state

    def __setstate__(self, state):
        saved = state.get("_saved_versions")
        if saved is not None:
            check_saved_versions(saved, type(self).__name__)
        # A model saved before a parameter existed was trained as its default says.
        for name, parameter in inspect.signature(FERClassifier.__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)
        if self.initialized_:
            self._initialize_callbacks()
