"""The transformer + FERClassifier Pipeline inside scikit-learn workflows."""

import numpy as np
import pytest
from conftest import TINY_CNN
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from fer_estimator import EMOTIONS, make_fer_pipeline


def _pixel_strings(images):
    return np.array([" ".join(map(str, image.ravel())) for image in images], dtype=object)


def test_pipeline_learns_from_pixel_strings(synthetic_split):
    X_train, y_train, X_test, y_test = synthetic_split
    names = np.array(EMOTIONS)
    pipeline = make_fer_pipeline(**TINY_CNN).fit(_pixel_strings(X_train), names[y_train])
    assert pipeline.score(_pixel_strings(X_test), names[y_test]) > 0.6
    assert pipeline.predict(X_test[:3]).dtype.kind in "UO"  # images work as well as strings


def test_nested_params_reach_the_cnn():
    pipeline = make_fer_pipeline(normalization="per_image", dropout=0.3)
    assert pipeline.get_params()["cnn__dropout"] == 0.3
    assert pipeline.get_params()["pixels__normalization"] == "per_image"
    copy = clone(pipeline).set_params(cnn__dropout=0.5)
    assert copy.named_steps["cnn"].dropout == 0.5 and pipeline.named_steps["cnn"].dropout == 0.3


def test_grid_search_over_cnn_and_transformer_params(synthetic_faces):
    X, y = synthetic_faces
    search = GridSearchCV(make_fer_pipeline(**{**TINY_CNN, "epochs": 1}),
                          {"cnn__dropout": [0.0, 0.3], "pixels__normalization": ["scale"]},
                          cv=2, error_score="raise")
    search.fit(X[:140], y[:140])
    # The chosen rate reached the refitted network.
    network = search.best_estimator_.named_steps["cnn"].model_
    assert network.get_layer("block1_dropout").rate == search.best_params_["cnn__dropout"]
    assert search.best_estimator_.predict(X[140:145]).shape == (5,)


@pytest.mark.parametrize("normalization", ["scale", "standardize", "per_image"])
def test_every_normalization_trains(synthetic_faces, normalization):
    X, y = synthetic_faces
    pipeline = make_fer_pipeline(normalization, **{**TINY_CNN, "epochs": 1})
    proba = pipeline.fit(X[:100], y[:100]).predict_proba(X[100:104])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
