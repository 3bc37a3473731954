"""The transformer + FERClassifier Pipeline inside scikit-learn workflows."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from fer_estimator import EMOTIONS, make_fer_pipeline


def _pixel_strings(images):
    return np.array([" ".join(map(str, image.ravel())) for image in images], dtype=object)


def test_pipeline_learns_from_pixel_strings(synthetic_split, tiny_cnn):
    X_train, y_train, X_test, y_test = synthetic_split
    names = np.array(EMOTIONS)
    pipeline = make_fer_pipeline(**tiny_cnn()).fit(_pixel_strings(X_train), names[y_train])
    assert pipeline.score(_pixel_strings(X_test), names[y_test]) > 0.6
    assert pipeline.predict(X_test[:3]).dtype.kind in "UO"  # images work as well as strings


def test_nested_params_reach_the_cnn():
    pipeline = make_fer_pipeline(normalization="per_image", dropout=0.3)
    assert pipeline.get_params()["cnn__dropout"] == 0.3
    assert pipeline.get_params()["pixels__normalization"] == "per_image"
    copy = clone(pipeline).set_params(cnn__dropout=0.5)
    assert copy.named_steps["cnn"].dropout == 0.5 and pipeline.named_steps["cnn"].dropout == 0.3


def test_grid_search_over_cnn_and_transformer_params(synthetic_faces, tiny_cnn):
    X, y = synthetic_faces
    search = GridSearchCV(make_fer_pipeline(**tiny_cnn(epochs=1)),
                          {"cnn__dropout": [0.0, 0.3], "pixels__normalization": ["scale"]},
                          cv=2, error_score="raise")
    search.fit(X[:140], y[:140])
    # The chosen rate reached the refitted network.
    network = search.best_estimator_.named_steps["cnn"].model_
    assert network.get_layer("block1_dropout").rate == search.best_params_["cnn__dropout"]
    assert search.best_estimator_.predict(X[140:145]).shape == (5,)


@pytest.mark.parametrize("normalization", ["scale", "standardize", "per_image"])
def test_every_normalization_trains(synthetic_faces, tiny_cnn, normalization):
    X, y = synthetic_faces
    train, faces = X[:100], X[100:104]
    pipeline = make_fer_pipeline(normalization, **tiny_cnn(epochs=1)).fit(train, y[:100])
    pixels, network = pipeline.named_steps["pixels"], pipeline.named_steps["cnn"]
    images = pixels.transform(faces)
    assert images.shape == (4, 48, 48, 1) and images.dtype == np.float32
    # Each normalisation's defining statistics (PixelTransformer's docstring), computed here in
    # float64 from the 0-255 pixels.
    if normalization == "scale":
        assert images.min() >= 0.0 and images.max() <= 1.0
        np.testing.assert_allclose(images[..., 0], faces / 255.0, rtol=1e-6)
    elif normalization == "standardize":
        # One mean and standard deviation, learned on the training rows alone.
        mean, std = (train / 255.0).mean(), (train / 255.0).std()
        assert pixels.mean_ == pytest.approx(mean) and pixels.scale_ == pytest.approx(std)
        np.testing.assert_allclose(images[..., 0], (faces / 255.0 - mean) / std, atol=1e-5)
        trained_on = pixels.transform(train)
        assert trained_on.mean() == pytest.approx(0.0, abs=1e-4)
        assert trained_on.std() == pytest.approx(1.0, abs=1e-4)
    else:
        # Every image on its own: mean 0, standard deviation 1.
        np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
        np.testing.assert_allclose(images.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)
    # The network was given the normalised images, not the raw pixels.
    proba = pipeline.predict_proba(faces)
    np.testing.assert_allclose(proba, network.predict_proba(images), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
