"""FERClassifier(init_model=...): a network started from a fitted one's weights."""

import numpy as np
import pytest
from sklearn.base import clone

from fer_estimator import FERClassifier, load, make_fer_pipeline, save
from fer_estimator.presets import MICRO


@pytest.fixture(scope="module")
def source(tmp_path_factory, synthetic_split):
    """A fitted 7-class MICRO pipeline and its .fer.zip file."""
    X, y, _, _ = synthetic_split
    pipeline = make_fer_pipeline(**MICRO, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("source") / "source.fer.zip"
    save(pipeline, path)
    return pipeline, path


def _weights(network):
    return {layer.name: layer.get_weights() for layer in network.layers if layer.weights}


def test_matching_layers_start_from_the_init_model_and_the_head_is_new(source,
                                                                        synthetic_split):
    pipeline, path = source
    X, y, _, _ = synthetic_split
    three = np.isin(y, [3, 4, 6])
    for init_model in (path, pipeline):
        classifier = FERClassifier(**MICRO, random_state=1, init_model=init_model)
        classifier.initialize(X[three, :, :, None] / 255.0, y[three])
        theirs, ours = _weights(pipeline[-1].model_), _weights(classifier.model_)
        assert "emotion" not in classifier.init_layers_
        assert set(classifier.init_layers_) == set(theirs) - {"emotion"}
        for name in classifier.init_layers_:
            for mine, their in zip(ours[name], theirs[name], strict=True):
                np.testing.assert_array_equal(mine, their)
        assert ours["emotion"][0].shape[-1] == 3
    same = FERClassifier(**MICRO, random_state=1, init_model=path)
    same.initialize(X[:, :, :, None] / 255.0, y)
    assert "emotion" in same.init_layers_


def test_fine_tuned_model_saves_without_needing_the_init_model(source, synthetic_split,
                                                               tmp_path):
    pipeline, path = source
    X, y, X_test, _ = synthetic_split
    copy = tmp_path / "init.fer.zip"
    copy.write_bytes(path.read_bytes())
    for init_model, saved_as in ((str(copy), str(copy)), (pipeline, None)):
        tuned = make_fer_pipeline(**MICRO, random_state=0, init_model=init_model).fit(X, y)
        save(tuned, tmp_path / "tuned.fer.zip")
        copy.unlink(missing_ok=True)
        loaded = load(tmp_path / "tuned.fer.zip")
        assert loaded[-1].init_model == saved_as
        np.testing.assert_allclose(loaded.predict_proba(X_test), tuned.predict_proba(X_test),
                                   atol=1e-5)


def test_clone_shares_a_fitted_init_model(source):
    pipeline, _ = source
    classifier = FERClassifier(**MICRO, init_model=pipeline)
    assert clone(classifier).init_model is pipeline
    assert clone(classifier).get_params()["epochs"] == MICRO["epochs"]


@pytest.mark.parametrize("init_model, message", [
    ("model.joblib", "give a .fer.zip file"),
    (make_fer_pipeline(**MICRO), "init_model is not fitted"),
    (3, "The 'init_model' parameter of FERClassifier must be"),
])
def test_bad_init_models_are_named(init_model, message, synthetic_split):
    X, y, _, _ = synthetic_split
    with pytest.raises(ValueError, match=message):
        FERClassifier(**MICRO, init_model=init_model).fit(X[:64], y[:64])


def test_another_architecture_matches_no_layer(source, synthetic_split):
    pipeline, _ = source
    X, y, _, _ = synthetic_split
    with pytest.raises(ValueError, match="no layer of its network matches"):
        FERClassifier(**{**MICRO, "base_filters": 8, "dense_units": (8,)},
                      init_model=pipeline).fit(X[:64], y[:64])
