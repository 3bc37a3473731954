"""FERClassifier: the FER CNN as a scikit-learn classifier, built on scikeras (through the
adapter in :mod:`fer_estimator._scikeras`)."""

import inspect
import math
import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer

from ._extras import requires_install

with requires_install("FERClassifier"):
    import keras

# Saved models refer to their label encoder's class by this module's name.
from ._scikeras import (
    SINGLE_CALL_BATCH,
    HasMethods,
    Interval,
    ScikerasClassifier,
    StrOptions,
    _OneHotLabelEncoder,  # noqa: F401
)
from ._versions import check_saved_versions, current_versions
from .architecture import architecture_parameters, build_network, check_depth_fits, get_architecture
from .batches import MixedBatches
from .distillation import distillation_targets
from .finetune import copy_matching_weights
from .pixels import mirror_images
from .precision import PRECISIONS, resolve_precision
from .schedules import WarmupCosineSchedule

__all__ = ["SINGLE_CALL_BATCH", "FERClassifier", "check_param_names", "mirror_images"]


def image_shape(sample_shape):
    """The ``(height, width, channels)`` of one sample of the given shape.

    ``(H, W)`` and ``(H, W, C)`` images as they are; a flat row of ``n`` values is a square
    gray image of side ``sqrt(n)`` (scikit-learn's convention for images, as in
    ``load_digits``), which ``n`` must allow.
    """
    sample_shape = tuple(sample_shape)
    if len(sample_shape) == 1:
        side = math.isqrt(sample_shape[0])
        if side * side != sample_shape[0] or side == 0:
            raise ValueError(
                f"FERClassifier takes flat rows only of square gray images (48*48 = 2304 "
                f"values for FER2013), got rows of {sample_shape[0]} values; pass images "
                f"(n, height, width[, channels]), or put fer_estimator.PixelTransformer in "
                f"front of it to parse pixel strings or resize images")
        return side, side, 1
    if len(sample_shape) == 2:
        return (*sample_shape, 1)
    if len(sample_shape) == 3:
        return sample_shape
    raise ValueError(
        f"FERClassifier expects a batch of images of shape (n, height, width[, channels]) or "
        f"flat rows of square images, got samples of shape {sample_shape}; put "
        f"fer_estimator.PixelTransformer in front of it to parse pixel strings")


def _as_image_batch(X):
    """Images ``(n, height, width, channels)`` from images or flat rows of square images."""
    X = np.asarray(X)
    if X.ndim < 2:
        image_shape(())  # raises, naming the shape
    return X.reshape((len(X), *image_shape(X.shape[1:])))


def check_param_names(names):
    """Reject names that are not FERClassifier parameters, with the closest one.

    Raises
    ------
    ValueError
        ``"FERClassifier has no parameter 'droput'; did you mean 'dropout'? ..."``
    """
    FERClassifier.check_param_names(names)


class FERClassifier(ScikerasClassifier):
    """Facial-expression CNN with the scikit-learn classifier API.

    A Keras CNN (the VGG-like reference design by default; ``architecture`` picks another
    registered in :mod:`fer_estimator.architecture`) trained with Adam (or any Keras
    optimizer), early stopping and a learning-rate schedule (reduction on plateau, or warm-up
    then cosine decay) monitored on a stratified validation split carved from the training
    data, optionally distilling a teacher (``fit(..., teacher_proba=...)``, see
    :mod:`fer_estimator.distillation`). Works on any Keras 3 backend (TensorFlow, JAX, torch);
    trains in mixed bfloat16 on CPUs that compute it natively.

    Every parameter is checked when ``fit`` starts (``_parameter_constraints``, scikit-learn's
    style): a bad value raises a ``ValueError`` naming the parameter and what it accepts, an
    unknown name one that suggests the closest parameter.

    Parameters
    ----------
    architecture : str, default="vgg"
        The network family, a name registered in
        :data:`fer_estimator.architecture.ARCHITECTURES`: ``"vgg"`` (blocks of two
        convolutions and a max-pool, flattened into dense layers) or ``"resnet"`` (a
        pre-activation ResNet of one residual block per stage, global average pooling). Each
        takes the parameters below that shape a network (``depth``, ``base_filters``,
        ``dropout``, ``l2``, ``dense_units``).
    depth : int, default=4
        Number of convolution blocks or stages (each halves the image side).
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
    validation_random_state : int or None, default=None
        Seeds the validation split alone; None uses ``random_state``. Fix it to train
        several networks (other ``random_state``) that hold out the same images, so that
        their ensemble can be scored on images none of them saw.
    horizontal_flip : bool, default=True
        Augmentation: random mirror images while training.
    shift_range : float, default=0.1
        Augmentation: random shifts up to this fraction of the image side while training.
    zoom_range : float, default=0.1
        Augmentation: random zoom up to this fraction while training.
    random_erasing : float, default=0.0
        Augmentation: probability that a training image gets a random rectangle (2–33% of
        its area) replaced by noise (Keras' ``RandomErasing``). 0 switches it off.
    mixup_alpha : float, default=0.0
        Mixup while training: each batch blends pairs of images and their targets by
        ``lam ~ Beta(mixup_alpha, mixup_alpha)``. 0 switches it off; 0.1–0.4 are usual.
    cutmix_alpha : float, default=0.0
        CutMix while training: a box of another image of the batch is pasted in, the targets
        mixed by area. With ``mixup_alpha`` too, each batch gets one of the two at random.
    teacher_weight : float, default=0.5
        Distillation: the weight of the teacher's (softened) probabilities in the training
        targets, ``(1 - teacher_weight) * labels + teacher_weight * teacher``. Used only when
        ``fit`` gets ``teacher_proba``.
    temperature : float, default=1.0
        Distillation: the teacher's probabilities are softened to
        ``softmax(log(p) / temperature)`` before they are mixed with the labels (> 1 gives
        the wrong classes more weight).
    class_weight : dict, "balanced" or None, default=None
        Class weights; "balanced" up-weights rare classes such as Disgust.
    tta : bool, default=False
        Test-time augmentation: ``predict`` and ``predict_proba`` average the probabilities
        of each image and its mirror image. Can be switched on a fitted model.
    precision : {"auto", "float32", "mixed_bfloat16"}, default="auto"
        Numeric precision of training and prediction. ``"auto"`` uses mixed bfloat16
        (bfloat16 compute, float32 weights and softmax) on a CPU-only machine whose CPU has
        AVX-512 BF16 or AMX, float32 elsewhere. Saved models predict on any CPU and backend.
    init_model : str, path-like, FERClassifier, Pipeline or None, default=None
        Fine-tuning: a ``.fer.zip`` file or a fitted FERClassifier (or pipeline ending in one)
        whose weights start every layer of the network that matches in name and weight shapes
        (the same architecture parameters); the output layer is new when the classes differ.
        A pipeline around this classifier should normalise the pixels as the init model's did
        (its PixelTransformer's ``normalization``). Read when the network is built (each
        ``fit``); a saved model holds its own weights and never reads it again (the safe
        format keeps a path as given, and records a model object as None). ``clone`` shares
        the object instead of copying it unfitted.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, augmentation and the validation split on
        every Keras backend (through ``keras.utils.set_random_seed``).
    verbose : int, default=0
        Keras verbosity while fitting and predicting.
    **kwargs
        Other scikeras parameters (``callbacks``, ``warm_start``, ``fit__*``,
        ``predict__*``...).

    Inputs are images ``(n, height, width[, channels])`` or flat rows of square gray images
    (``(n, 2304)`` for 48×48), as :class:`~fer_estimator.PixelTransformer` produces them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    model_ : keras.Model
        The trained network.
    precision_ : str
        The dtype policy the network was built with.
    init_layers_ : list of str
        With ``init_model``: the layers whose weights it gave.
    history_ : dict of str to list
        Per-epoch training metrics (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
        ``learning_rate``).
    """

    _parameter_constraints: ClassVar[dict] = {
        **ScikerasClassifier._parameter_constraints,
        "architecture": [str],  # a registered name: checked when the network is built
        "depth": [Interval(Integral, 1, None, closed="left")],
        "base_filters": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "dense_units": [list, tuple],  # of positive ints: check_params
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "lr_schedule": [StrOptions({"plateau", "cosine"})],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],  # < epochs: check_params
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "early_stopping_patience": [Interval(Integral, 0, None, closed="left"), None],
        "reduce_lr_patience": [Interval(Integral, 0, None, closed="left"), None],
        "reduce_lr_factor": [Interval(Real, 0, 1, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "validation_random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "horizontal_flip": ["boolean"],
        "shift_range": [Interval(Real, 0, 1, closed="both")],
        "zoom_range": [Interval(Real, 0, 1, closed="left")],
        "random_erasing": [Interval(Real, 0, 1, closed="both")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "cutmix_alpha": [Interval(Real, 0, None, closed="left")],
        "teacher_weight": [Interval(Real, 0, 1, closed="both")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "tta": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "init_model": [str, os.PathLike, HasMethods(["predict_proba"]), None],
    }

    def __init__(self, architecture="vgg", depth=4, base_filters=64, dropout=0.25, l2=1e-4,
                 dense_units=(512, 256, 128), learning_rate=1e-3, weight_decay=None,
                 lr_schedule="plateau", warmup_epochs=0.0, label_smoothing=0.0,
                 batch_size=64, epochs=60, early_stopping_patience=10, reduce_lr_patience=5,
                 reduce_lr_factor=0.5, validation_fraction=0.1,
                 validation_random_state=None, horizontal_flip=True, shift_range=0.1,
                 zoom_range=0.1, random_erasing=0.0, mixup_alpha=0.0, cutmix_alpha=0.0,
                 teacher_weight=0.5, temperature=1.0, class_weight=None, tta=False,
                 precision="auto", random_state=None, verbose=0, optimizer="adam",
                 init_model=None, **kwargs):
        super().__init__(batch_size=batch_size, epochs=epochs, class_weight=class_weight,
                         random_state=random_state, verbose=verbose, optimizer=optimizer,
                         **kwargs)
        self.architecture = architecture
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
        self.validation_random_state = validation_random_state
        self.horizontal_flip = horizontal_flip
        self.shift_range = shift_range
        self.zoom_range = zoom_range
        self.random_erasing = random_erasing
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.teacher_weight = teacher_weight
        self.temperature = temperature
        self.tta = tta
        self.precision = precision
        self.init_model = init_model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Images, or flat rows of square images: 2-D input is fine when its rows are square.
        tags.input_tags.three_d_array = True
        return tags

    @property
    def feature_encoder(self):
        return FunctionTransformer(_as_image_batch)

    def _keras_build_fn(self, meta, compile_kwargs):
        # The network takes what the feature encoder makes of one sample.
        # Checked here, not with the other parameters: a saved network loads and predicts
        # in a process that never registered its architecture.
        get_architecture(self.architecture)
        sample = np.zeros((1, *tuple(meta["X_shape_"][1:])), dtype="float32")
        body_params = {name: getattr(self, name)
                       for name in architecture_parameters(self.architecture)}
        if "dense_units" in body_params:
            body_params["dense_units"] = tuple(body_params["dense_units"])
        model = build_network(
            self.architecture, self.feature_encoder_.transform(sample).shape[1:],
            meta["n_classes_"], horizontal_flip=self.horizontal_flip,
            shift_range=self.shift_range, zoom_range=self.zoom_range,
            random_erasing=self.random_erasing, dtype_policy=self.precision_, **body_params)
        if self.init_model is not None:
            self.init_layers_ = copy_matching_weights(self.init_model, model, meta["classes_"])
        optimizer = compile_kwargs["optimizer"]
        optimizer.learning_rate = self.learning_rate
        if self.weight_decay is not None:
            optimizer.weight_decay = self.weight_decay
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing),
            metrics=["accuracy"])
        return model

    def initialize_with_network(self, network, classes):
        """Make this a fitted classifier of ``classes`` around an existing Keras ``network``,
        without building, compiling or training one.

        As ``initialize`` does, it checks the parameters and sets up the label encoding and the
        input metadata (for images of the network's input shape), but the network is the
        given one: the architecture parameters (``depth``, ``dense_units``...) are recorded,
        not used. Nothing is drawn at random, so ``random_state`` seeds nothing: the global
        random generators (Python's, NumPy's, the backend's) are left as they are.

        Parameters
        ----------
        network : keras.Model
            Takes images ``(n, height, width, channels)`` (all three sizes known) and outputs
            one probability per class.
        classes : array-like of shape (n_classes,)
            The labels, sorted: the network's outputs in order.

        Returns
        -------
        self
        """
        self._validate_params()  # the parameters as they are, random_state included
        image_shape = tuple(network.input_shape[1:])
        labels = np.asarray(classes)
        # A read-only view of one image: no memory for the rest.
        images = np.broadcast_to(np.zeros((1, *image_shape), "float32"),
                                 (len(labels), *image_shape))
        saved = self.get_params(deep=False)
        # scikeras takes a pre-built network as its ``model`` parameter; without a random_state
        # neither on_initialize nor scikeras seeds the global generators.
        self.set_params(model=network, random_state=None)
        try:
            self.initialize(images, labels)
        finally:
            self.set_params(model=saved["model"], random_state=saved["random_state"])
        return self

    def to_safe_description(self):
        """Hook of the safe ``.fer.zip`` format: what it stores beside the parameters and the
        network (``model_``): the classes and the training history (see
        :mod:`fer_estimator.safe_format.steps`)."""
        if not getattr(self, "initialized_", False):
            raise NotFittedError("the FERClassifier is not fitted: fit it before saving")
        classes = np.asarray(self.classes_)
        if classes.dtype.kind not in "iuUf" and not all(isinstance(c, str) for c in classes):
            raise ValueError(f"classes of dtype {classes.dtype} cannot be saved in the safe "
                             f"format: use class names (str) or integer codes")
        history = dict(getattr(self, "history_", {}) or {})
        return {"classes": classes.tolist(),
                "fitted": {"history_": {key: [float(value) for value in values]
                                        for key, values in history.items()}}}

    @classmethod
    def from_safe_description(cls, params, description, network):
        """Hook of the safe ``.fer.zip`` format: the fitted classifier of a step table around
        its saved ``network``, built, trained and seeded nothing (see
        :mod:`fer_estimator.safe_format.steps`)."""
        classes = description.get("classes")
        if not isinstance(classes, list) or not all(
                isinstance(c, str) or (isinstance(c, (int, float)) and not isinstance(c, bool)
                                       and math.isfinite(c)) for c in classes):
            raise ValueError("'classes' must be a list of names or finite codes")
        outputs = network.output_shape[1]
        if len(classes) != outputs:
            raise ValueError(f"the network has {outputs} outputs for {len(classes)} classes")
        fitted = description.get("fitted")
        history = fitted.get("history_") if isinstance(fitted, dict) else None
        if (fitted is not None and not isinstance(fitted, dict)) or (
                history is not None and not (isinstance(history, dict) and all(
                    isinstance(values, list) and all(isinstance(value, (int, float))
                                                     for value in values)
                    for values in history.values()))):
            raise ValueError(f"'fitted.history_' must be a table of lists of numbers; 'fitted' "
                             f"is {fitted!r:.200}")
        classifier = cls(**params)
        classifier.initialize_with_network(network, classes)
        if list(classifier.classes_) != classes:
            raise ValueError(f"'classes' {classes!r:.200} are not in sorted order")
        classifier.precision_ = "float32"
        classifier.history_ = {key: [float(value) for value in values]
                               for key, values in (history or {}).items()}
        return classifier

    def check_params(self):
        bad_units = [units for units in self.dense_units
                     if not isinstance(units, Integral) or isinstance(units, bool) or units < 1]
        if bad_units:
            raise ValueError(f"The 'dense_units' parameter of FERClassifier must be a list or "
                             f"tuple of positive ints. Got {self.dense_units!r} instead.")
        if self.lr_schedule == "cosine" and self.warmup_epochs >= self.epochs:
            raise ValueError(f"The 'warmup_epochs' parameter of FERClassifier must be below "
                             f"epochs={self.epochs}. Got {self.warmup_epochs!r} instead.")
        # The network is compiled with these two parameters: a routed value would be ignored.
        for name in ("learning_rate", "weight_decay"):
            if f"optimizer__{name}" in self.get_params(deep=False):
                raise ValueError(f"FERClassifier sets the optimizer's {name} from its "
                                 f"'{name}' parameter: use {name}=..., not optimizer__{name}")

    def check_input_shape(self, sample_shape):
        """Raise a ValueError unless the network fits samples of ``sample_shape`` (one
        image's shape, or a flat row's): ``depth`` blocks must leave at least one pixel.

        A search checks the values of its space with it before the first trial.
        """
        # What the network takes is what the feature encoder makes of a sample (a subclass
        # may encode other samples as images).
        sample = np.zeros((1, *tuple(sample_shape)), dtype="float32")
        encoded = self.feature_encoder.fit_transform(sample)
        check_depth_fits(self.architecture, self.depth, encoded.shape[1:])

    def on_initialize(self, X, y):
        if self.random_state is not None:
            # scikeras seeds only Python, NumPy and TensorFlow: Keras' own seed generator
            # (used by initialisers, dropout and augmentation on JAX and torch) needs this.
            keras.utils.set_random_seed(self._seed())
        self.precision_ = resolve_precision(self.precision)

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

    def default_callbacks(self):
        """Early stopping and the learning-rate schedule the parameters ask for."""
        monitor = "val_loss" if self.validation_fraction else "loss"
        callbacks = []
        if self.early_stopping_patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=self.early_stopping_patience,
                restore_best_weights=True))
        if self.lr_schedule == "cosine":
            callbacks.append(WarmupCosineSchedule(self.learning_rate, self.epochs,
                                                  self.warmup_epochs))
        elif self.reduce_lr_patience is not None:
            callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=self.reduce_lr_factor,
                patience=self.reduce_lr_patience))
        return callbacks

    def fit(self, X, y, sample_weight=None, teacher_proba=None, **kwargs):
        """Train a new network (or go on training it with ``warm_start``).

        Parameters
        ----------
        X : array-like
            Training images.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
        teacher_proba : array-like of shape (n_samples, n_classes), default=None
            Distillation: a teacher's probabilities of the same images, columns in the order
            of the sorted labels (``np.unique(y)``; see
            :func:`fer_estimator.distillation.teacher_probabilities`). The network then
            learns from ``teacher_weight`` of them mixed with the labels; the validation
            split keeps the plain labels, so ``val_loss`` and ``val_accuracy`` stay honest.
            One row per sample, like ``sample_weight``: cross-validation slices it by fold
            (``params={"cnn__teacher_proba": proba}``).
        **kwargs
            Extra arguments for ``keras.Model.fit``; ``callbacks=[...]`` serve this fit only.

        Returns
        -------
        self
        """
        self._teacher_proba = (None if teacher_proba is None
                               else self._check_teacher_proba(teacher_proba, y))
        try:
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)
        finally:
            del self._teacher_proba

    def _check_teacher_proba(self, teacher_proba, y):
        proba = np.asarray(teacher_proba, dtype=np.float64)
        n_classes = len(np.unique(np.asarray(y)))
        expected = (len(y), n_classes)
        if proba.shape != expected:
            raise ValueError(f"teacher_proba must have one row per sample and one column per "
                             f"class, shape {expected}; got {proba.shape}")
        if not np.isfinite(proba).all() or (proba < 0).any():
            raise ValueError("teacher_proba must hold probabilities: finite, non-negative "
                             "values")
        if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
            row = int(np.flatnonzero(~np.isclose(proba.sum(axis=1), 1.0, atol=1e-3))[0])
            raise ValueError(f"every row of teacher_proba must sum to 1; row {row} sums to "
                             f"{proba[row].sum():.4g}")
        return proba

    def split_validation(self, X, y, sample_weight):
        """Carve the stratified ``validation_fraction`` from the encoded training data; the
        training part's targets mix in the teacher's probabilities when ``fit`` got them."""
        train, validation = self._validation_rows(y)
        teacher_proba = getattr(self, "_teacher_proba", None)
        targets = y[train]
        if teacher_proba is not None:
            targets = distillation_targets(targets, teacher_proba[train],
                                           teacher_weight=self.teacher_weight,
                                           temperature=self.temperature)
        weights = None if sample_weight is None else sample_weight[train]
        if validation is None:
            return X[train], targets, weights, None
        return X[train], targets, weights, (X[validation], y[validation])

    def training_batches(self, X, y, sample_weight):
        """Mixup/CutMix batches when ``mixup_alpha`` or ``cutmix_alpha`` is set."""
        if not self.mixup_alpha and not self.cutmix_alpha:
            return None
        return MixedBatches(X, y, sample_weight, batch_size=self.batch_size,
                            mixup_alpha=self.mixup_alpha, cutmix_alpha=self.cutmix_alpha,
                            seed=None if self.random_state is None else self._seed())

    def _validation_rows(self, y):
        """Row indices ``(train, validation)`` of the stratified validation split
        (``validation`` None without one)."""
        if not self.validation_fraction:
            return np.arange(len(y)), None
        codes = y.argmax(axis=1)
        if self.validation_random_state is not None:
            seed = self.validation_random_state
        else:
            seed = None if self.random_state is None else self._seed()
        try:
            return train_test_split(np.arange(len(codes)), stratify=codes,
                                    test_size=self.validation_fraction, random_state=seed)
        except ValueError as error:
            raise ValueError(
                f"cannot carve a stratified validation_fraction={self.validation_fraction} "
                f"from {len(codes)} training images ({error}); use more data, a larger "
                f"fraction, or validation_fraction=0") from error

    def network_proba(self, X, **kwargs):
        if self.tta:
            X = np.asarray(X)
            # Flat rows are mirrored as the images they hold.
            mirrored = mirror_images(_as_image_batch(X)).reshape(X.shape)
            both = super().network_proba(np.concatenate([X, mirrored]), **kwargs)
            return (both[:len(X)] + both[len(X):]) / 2.0
        return super().network_proba(X, **kwargs)

    def safe_params(self):
        """The parameters the safe ``.fer.zip`` format stores: ``init_model``'s weights are in
        the network already, so a path is kept as a record and a model object (not storable)
        as None."""
        params = self.get_params(deep=False)
        if params.get("init_model") is not None:
            init_model = params["init_model"]
            params["init_model"] = (os.fspath(init_model)
                                    if isinstance(init_model, (str, os.PathLike)) else None)
        return params

    def __sklearn_clone__(self):
        # clone() would copy a fitted init_model unfitted: it is a source of weights, shared.
        params = {name: value if name == "init_model" else clone(value, safe=False)
                  for name, value in self.get_params(deep=False).items()}
        return type(self)(**params)

    def __getstate__(self):
        state = super().__getstate__()
        if self.initialized_:
            state["_saved_versions"] = current_versions()
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
