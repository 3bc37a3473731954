"""The architecture registry: every registered network trains, saves and loads; a new one is its
own function plus one registration."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers
from sklearn.base import clone

from fer_estimator import load, make_fer_pipeline, save
from fer_estimator.architecture import (
    ARCHITECTURES,
    architecture_parameters,
    build_network,
    register_architecture,
)
from fer_estimator.classifier import FERClassifier
from fer_estimator.persistence import dump_joblib
from fer_estimator.presets import MICRO


def micro(**params):
    return {**MICRO, "random_state": 0, **params}


@pytest.fixture
def faces(synthetic_faces):
    X, y = synthetic_faces
    return X[:140], y[:140]


def test_the_registry_holds_vgg_and_a_pre_activation_resnet():
    assert {"vgg", "resnet"} <= set(ARCHITECTURES)
    assert architecture_parameters("resnet") == ("depth", "base_filters", "dropout", "l2",
                                                 "dense_units")


def test_the_resnet_has_residual_additions_and_costs_about_what_the_vgg_costs():
    params = dict(depth=4, base_filters=32, dropout=0.1, l2=0.0, dense_units=(256, 128))
    vgg = build_network("vgg", (48, 48, 1), 7, **params)
    resnet = build_network("resnet", (48, 48, 1), 7, **params)
    assert sum(isinstance(layer, layers.Add) for layer in resnet.layers) == 4
    assert not any(isinstance(layer, layers.Add) for layer in vgg.layers)

    def conv_macs(model):
        return sum(np.prod(layer.output.shape[1:]) * np.prod(layer.kernel.shape[:-1])
                   for layer in model.layers if isinstance(layer, layers.Conv2D))

    assert 0.8 < conv_macs(resnet) / conv_macs(vgg) < 1.5
    # Global average pooling instead of a flattened 3×3×256 map: a smaller head.
    assert resnet.count_params() < vgg.count_params()


@pytest.mark.parametrize("architecture", ["vgg", "resnet"])
def test_every_architecture_fits_saves_and_loads_with_identical_predictions(
        architecture, faces, tmp_path):
    X, y = faces
    pipeline = make_fer_pipeline(**micro(architecture=architecture)).fit(X, y)
    assert pipeline.named_steps["cnn"].model_.name == f"fer_{architecture}"
    loaded = load(save(pipeline, tmp_path / "model.fer.zip"))
    np.testing.assert_allclose(loaded.predict_proba(X[:20]), pipeline.predict_proba(X[:20]),
                               atol=1e-5)
    assert loaded.named_steps["cnn"].get_params()["architecture"] == architecture


def test_a_resnet_trains_in_mixed_bfloat16(faces):
    X, y = faces
    classifier = FERClassifier(**micro(architecture="resnet", precision="mixed_bfloat16"))
    classifier.fit(X / 255.0, y)
    conv = classifier.model_.get_layer("stage1_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert classifier.model_.get_layer("emotion").compute_dtype == "float32"


def test_a_resnet_loads_in_a_fresh_process_from_fer_zip_and_joblib(faces, tmp_path):
    X, y = faces
    pipeline = make_fer_pipeline(**micro(architecture="resnet")).fit(X, y)
    np.save(tmp_path / "X.npy", X[:10])
    np.save(tmp_path / "expected.npy", pipeline.predict_proba(X[:10]))
    save(pipeline, tmp_path / "model.fer.zip")
    dump_joblib(pipeline, tmp_path / "model.joblib")
    code = (
        "import sys, numpy as np, fer_estimator\n"
        "from fer_estimator.persistence import load_joblib\n"
        "folder = sys.argv[1]\n"
        "X, expected = np.load(folder + '/X.npy'), np.load(folder + '/expected.npy')\n"
        "for model in (fer_estimator.load(folder + '/model.fer.zip'),\n"
        "              load_joblib(folder + '/model.joblib')):\n"
        "    np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-5)\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_a_new_architecture_is_one_function_and_one_registration(faces, tmp_path,
                                                                  monkeypatch):
    # A registry entry for this test only.
    monkeypatch.setattr("fer_estimator.architecture.ARCHITECTURES", dict(ARCHITECTURES))

    @register_architecture("tiny_mlp")
    def build_tiny_mlp(x, *, dense_units, dropout, dtype_policy):
        x = layers.Flatten(dtype=dtype_policy, name="flatten")(x)
        for index, units in enumerate(dense_units, start=1):
            x = layers.Dense(units, activation="relu", dtype=dtype_policy,
                             name=f"dense{index}")(x)
        return layers.Dropout(dropout, dtype=dtype_policy, name="dropout")(x)

    X, y = faces
    pipeline = make_fer_pipeline(**micro(architecture="tiny_mlp", dense_units=(24,)))
    pipeline.fit(X, y)
    network = pipeline.named_steps["cnn"].model_
    assert network.get_layer("dense1").units == 24
    assert not any(isinstance(layer, layers.Conv2D) for layer in network.layers)
    loaded = load(save(pipeline, tmp_path / "mlp.fer.zip"))
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), pipeline.predict_proba(X[:10]),
                               atol=1e-5)
    # The registered name is a searchable parameter like any other.
    assert clone(pipeline).set_params(cnn__architecture="vgg").fit(X, y).named_steps[
        "cnn"].model_.name == "fer_vgg"


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="'vgg' is already registered"):
        register_architecture("vgg")(lambda x, *, dtype_policy: x)


def test_an_unknown_architecture_is_refused_before_training_naming_the_registered_ones(faces):
    X, y = faces
    classifier = FERClassifier(**micro(architecture="vgg16"))
    with pytest.raises(ValueError, match=r"'architecture' .*\['resnet', 'vgg'\]. Got 'vgg16'"):
        classifier.fit(X / 255.0, y)
    assert not classifier.initialized_


def test_random_erasing_acts_only_while_training():
    network = build_network("vgg", (48, 48, 1), 7, depth=2, base_filters=4, dropout=0.0, l2=0.0,
                            dense_units=(8,), horizontal_flip=False, shift_range=0.0,
                            zoom_range=0.0, random_erasing=1.0)
    erasing = network.get_layer("augment_erasing")
    images = np.full((8, 48, 48, 1), 3.0, dtype="float32")  # outside the noise's [-1, 1]
    erased = keras.ops.convert_to_numpy(erasing(images, training=True))
    assert (erased != 3.0).any(axis=(1, 2, 3)).all()  # every image got a patch
    assert ((erased == 3.0) | (np.abs(erased) <= 1.0)).all()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(erasing(images, training=False)),
                                  images)
    np.testing.assert_array_equal(network.predict_on_batch(images),
                                  network.predict_on_batch(images))
