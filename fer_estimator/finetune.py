"""Fine-tuning: start a network from the weights of a fitted one (FERClassifier's
``init_model``), layer by layer where the names and shapes match."""

import os
from pathlib import Path

import numpy as np

# The output layer of every fer_estimator.architecture network: its weights mean the classes.
HEAD_LAYER = "emotion"


def source_classifier(init_model):
    """The fitted FERClassifier that ``init_model`` holds or names.

    Parameters
    ----------
    init_model : str, path-like, FERClassifier or Pipeline
        A ``.fer.zip`` file (:func:`fer_estimator.save`), or a fitted FERClassifier or pipeline
        ending in one.

    Raises
    ------
    ValueError
        Naming what ``init_model`` is and why it gives no weights: a file in another format, an
        ensemble, a model that is not fitted.
    """
    from .classifier import FERClassifier
    from .safe_format import SUFFIX, load

    if isinstance(init_model, (str, os.PathLike)):
        if not Path(init_model).name.endswith(SUFFIX):
            raise ValueError(f"init_model={str(init_model)!r}: give a {SUFFIX} file (a joblib "
                             f"file could run code when loaded), or the fitted model itself")
        model = load(init_model)
    else:
        model = init_model
    classifier = model.steps[-1][1] if hasattr(model, "steps") else model
    if not isinstance(classifier, FERClassifier):
        raise ValueError(f"init_model must hold a FERClassifier (or a pipeline ending in one) "
                         f"to take weights from; got a {type(classifier).__name__}")
    if not getattr(classifier, "initialized_", False):
        raise ValueError("init_model is not fitted: fit it first, or give the path of a saved "
                         "model (clone() and grid searches copy models unfitted)")
    return classifier


def copy_matching_weights(init_model, network, classes):
    """Copy into ``network`` the weights of every layer of ``init_model``'s network with the
    same name and weight shapes; the output layer only when the classes are the same.

    Returns
    -------
    list of str
        The layers copied.

    Raises
    ------
    ValueError
        No layer matches (another architecture).
    """
    source = source_classifier(init_model)
    same_classes = np.array_equal(np.asarray(source.classes_), np.asarray(classes))
    theirs = {layer.name: layer for layer in source.model_.layers}
    copied = []
    for layer in network.layers:
        other = theirs.get(layer.name)
        if other is None or not layer.weights or (layer.name == HEAD_LAYER and not same_classes):
            continue
        weights = other.get_weights()
        if [weight.shape for weight in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
            copied.append(layer.name)
    if not copied:
        raise ValueError("init_model: no layer of its network matches this one in name and "
                         "weight shapes; give it the same architecture parameters (depth, "
                         "base_filters, dense_units) as the model it starts from")
    return copied
