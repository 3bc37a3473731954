"""The 6-class variant of a fitted 7-class FER pipeline: Disgust merged into Angry.

P(Angry or Disgust) = P(Angry) + P(Disgust): the 7-class network gets one more layer, a frozen
0/1 matrix that adds the two probabilities, so the variant needs no training of its own and
its probabilities still sum to 1. It is an ordinary Keras layer, so the variant saves, loads
and runs on every backend like any FERClassifier.
"""

import copy

import keras
import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from .labels import EMOTIONS, EMOTIONS_6


def six_class_from_seven(pipeline):
    """Return a fitted 6-class copy of a fitted 7-class FER pipeline (Disgust → Angry).

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, ending in a FERClassifier whose classes are the seven FER2013 names.

    Returns
    -------
    Pipeline
        The same preprocessing steps and a FERClassifier predicting the six names of
        ``fer_estimator.EMOTIONS_6``.
    """
    *preprocessing, (name, seven) = pipeline.steps
    classes = [str(label) for label in seven.classes_]
    if sorted(classes) != sorted(EMOTIONS):
        raise ValueError(f"expected a classifier of the seven FER2013 classes {EMOTIONS}, "
                         f"got classes {classes}")
    six_names = sorted(EMOTIONS_6)  # the order scikit-learn's label encoding gives them
    merge = np.zeros((len(classes), len(six_names)), dtype="float32")
    for row, label in enumerate(classes):
        merge[row, six_names.index("Angry" if label == "Disgust" else label)] = 1.0

    # Zeros, overwritten below: a random initializer would draw from the caller's global
    # `random` for weights that are never used.
    merging = keras.layers.Dense(len(six_names), use_bias=False, trainable=False,
                                 kernel_initializer="zeros", name="merge_disgust_into_angry")
    outputs = merging(seven.model_.output)
    merging.set_weights([merge])
    network = keras.Model(seven.model_.inputs, outputs, name=f"{seven.model_.name}_6class")
    # Fit nothing, build nothing: the classifier is set up for the six names around the
    # 7-class network plus the merging layer. Left uncompiled: the variant only predicts (an
    # optimizer that never trained would be saved unbuilt and warned about on every load);
    # fitting it again compiles it.
    six = clone(seven).set_params(warm_start=False).initialize_with_network(network,
                                                                            six_names)
    six.history_ = seven.history_
    return Pipeline([*copy.deepcopy(preprocessing), (name, six)])
