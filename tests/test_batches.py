"""Mixup and CutMix batches: they mix images and targets alike, and act only while training."""

import numpy as np
import pytest

from fer_estimator.batches import MixedBatches
from fer_estimator.classifier import FERClassifier
from fer_estimator.presets import MICRO


def two_class_images(n=64):
    """Images that are all 0 (class 0) or all 1 (class 1), so every mix can be read back."""
    codes = np.arange(n) % 2
    x = np.broadcast_to(codes[:, None, None, None], (n, 8, 8, 1)).astype(np.float32)
    return x, np.eye(2, dtype=np.float32)[codes]


def test_mixup_blends_each_image_and_its_target_by_the_same_amount():
    x, y = two_class_images()
    batches = MixedBatches(x, y, None, batch_size=16, mixup_alpha=0.4, cutmix_alpha=0.0,
                           seed=0)
    assert len(batches) == 4
    mixed_x, mixed_y = batches[0]
    np.testing.assert_allclose(mixed_y.sum(axis=1), 1.0, rtol=1e-6)
    # An image's brightness is its share of class 1.
    np.testing.assert_allclose(mixed_x.mean(axis=(1, 2, 3)), mixed_y[:, 1], atol=1e-6)
    assert ((mixed_y > 0.01) & (mixed_y < 0.99)).any()


def test_cutmix_pastes_a_box_and_mixes_targets_by_its_area():
    x, y = two_class_images()
    batches = MixedBatches(x, y, None, batch_size=32, mixup_alpha=0.0, cutmix_alpha=1.0,
                           seed=3)
    for index in range(len(batches)):
        mixed_x, mixed_y = batches[index]
        assert set(np.unique(mixed_x)) <= {0.0, 1.0}  # pasted, never blended
        np.testing.assert_allclose(mixed_x.mean(axis=(1, 2, 3)), mixed_y[:, 1], atol=1e-6)


def test_sample_weights_are_mixed_and_the_last_batch_is_short():
    x, y = two_class_images(40)
    weights = np.where(y[:, 1] == 1, 3.0, 1.0)
    batches = MixedBatches(x, y, weights, batch_size=16, mixup_alpha=0.4, cutmix_alpha=0.0,
                           seed=0)
    mixed_x, mixed_y, mixed_w = batches[2]
    assert len(mixed_x) == 8
    np.testing.assert_allclose(mixed_w, 1.0 + 2.0 * mixed_y[:, 1], rtol=1e-5)


def test_the_same_seed_gives_the_same_batches_and_each_epoch_reshuffles():
    x, y = two_class_images()
    first = MixedBatches(x, y, None, batch_size=16, mixup_alpha=0.4, cutmix_alpha=1.0, seed=7)
    second = MixedBatches(x, y, None, batch_size=16, mixup_alpha=0.4, cutmix_alpha=1.0, seed=7)
    np.testing.assert_array_equal(first[0][1], second[0][1])
    order = first._order.copy()
    first.on_epoch_end()
    assert not np.array_equal(order, first._order)
    assert sorted(first._order) == list(range(len(x)))


def test_no_alpha_is_refused():
    x, y = two_class_images()
    with pytest.raises(ValueError, match="mixup_alpha or cutmix_alpha"):
        MixedBatches(x, y, None, batch_size=8, mixup_alpha=0.0, cutmix_alpha=0.0, seed=0)


def test_a_classifier_trains_on_mixed_batches_and_predicts_the_images_as_they_are(
        synthetic_faces, monkeypatch):
    X, y = synthetic_faces
    X = X[:140] / 255.0
    made = []
    original = FERClassifier.training_batches

    def spy(self, *args):
        batches = original(self, *args)
        made.append(batches)
        return batches

    monkeypatch.setattr(FERClassifier, "training_batches", spy)
    classifier = FERClassifier(**{**MICRO, "random_state": 0, "validation_fraction": 0.2},
                               mixup_alpha=0.2, cutmix_alpha=1.0).fit(X, y[:140])
    assert isinstance(made[0], MixedBatches) and len(made[0].x) == 112
    assert len(classifier.history_["val_accuracy"]) == MICRO["epochs"]
    # Prediction sees no mixing: the same images give the same probabilities every time.
    np.testing.assert_array_equal(classifier.predict_proba(X[:10]),
                                  classifier.predict_proba(X[:10]))
    np.testing.assert_allclose(classifier.predict_proba(X[:10]),
                               np.asarray(classifier.model_(X[:10, ..., None], training=False)),
                               atol=1e-6)
