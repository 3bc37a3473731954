"""FERClassifier as a scikit-learn classifier: learning, API contract, sklearn tools."""

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.utils.validation import check_is_fitted

from fer_estimator.classifier import FERClassifier


@pytest.fixture(scope="module")
def fitted(scaled_images, tiny_cnn):
    X, y = scaled_images
    return FERClassifier(**tiny_cnn()).fit(X[:500], y[:500])


def test_learns_synthetic_faces_well_above_chance(fitted, scaled_images):
    X, y = scaled_images
    assert fitted.score(X[500:], y[500:]) > 0.6  # chance is 1/7


def test_predict_proba_rows_sum_to_one_even_for_one_image(fitted, scaled_images):
    X, _ = scaled_images
    proba = fitted.predict_proba(X[500:520])
    assert proba.shape == (20, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.predict_proba(X[:1]).shape == (1, 7)
    np.testing.assert_array_equal(fitted.predict(X[500:520]), proba.argmax(axis=1))


def test_score_is_accuracy(fitted, scaled_images):
    X, y = scaled_images
    assert fitted.score(X[500:], y[500:]) == pytest.approx(
        np.mean(fitted.predict(X[500:]) == y[500:]))


def test_history_is_kept_per_epoch(fitted, tiny_cnn):
    assert len(fitted.history_["loss"]) == tiny_cnn()["epochs"]
    assert len(fitted.history_["accuracy"]) == tiny_cnn()["epochs"]


def test_tta_averages_image_and_mirror(fitted, scaled_images):
    X, _ = scaled_images
    batch = X[500:510]
    plain = fitted.predict_proba(batch)
    mirrored = fitted.predict_proba(batch[:, :, ::-1])
    fitted_tta = fitted.set_params(tta=True)
    try:
        np.testing.assert_allclose(fitted_tta.predict_proba(batch), (plain + mirrored) / 2,
                                   rtol=1e-5, atol=1e-6)
    finally:
        fitted.set_params(tta=False)


def test_string_labels_round_trip(scaled_images, tiny_cnn):
    X, y = scaled_images
    names = np.array(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])[y]
    clf = FERClassifier(**tiny_cnn(epochs=1)).fit(X[:200], names[:200])
    assert set(clf.classes_) == set(names)
    assert set(clf.predict(X[200:220])) <= set(names)


def test_two_classes_still_give_two_probability_columns(scaled_images, tiny_cnn):
    X, y = scaled_images
    binary = np.where(y == 3, "happy", "other")
    clf = FERClassifier(**tiny_cnn(epochs=1)).fit(X[:200], binary[:200])
    assert clf.predict_proba(X[:5]).shape == (5, 2)


def test_not_fitted_error_before_fit(scaled_images):
    X, _ = scaled_images
    with pytest.raises(NotFittedError):
        FERClassifier().predict(X[:2])
    with pytest.raises(NotFittedError):
        FERClassifier().predict_proba(X[:2])


def test_is_classifier_and_cv_is_stratified():
    clf = FERClassifier()
    assert is_classifier(clf)
    y = np.repeat(np.arange(7), 10)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)


def test_cross_val_score_uses_stratified_folds(monkeypatch, scaled_images, tiny_cnn):
    X, y = scaled_images
    calls = []
    original_split = StratifiedKFold.split

    def recording_split(self, *args, **kwargs):
        calls.append(self)
        return original_split(self, *args, **kwargs)

    monkeypatch.setattr(StratifiedKFold, "split", recording_split)
    scores = cross_val_score(FERClassifier(**tiny_cnn(epochs=1)), X[:140], y[:140], cv=5)
    assert len(scores) == 5 and np.all(np.isfinite(scores))
    assert calls, "cross_val_score(cv=5) did not use StratifiedKFold"


def test_neg_log_loss_scoring_works(scaled_images, tiny_cnn):
    X, y = scaled_images
    scores = cross_val_score(FERClassifier(**tiny_cnn(epochs=1)), X[:140], y[:140],
                             cv=2, scoring="neg_log_loss", error_score="raise")
    assert np.all(scores < 0)


def test_calibrated_classifier_cv(scaled_images, tiny_cnn):
    X, y = scaled_images
    calibrated = CalibratedClassifierCV(FERClassifier(**tiny_cnn(epochs=1)), cv=2)
    calibrated.fit(X[:200], y[:200])
    faces = X[200:210]
    proba = calibrated.predict_proba(faces)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # One network per fold, each with a fitted (sigmoid) calibrator per class.
    folds = calibrated.calibrated_classifiers_
    assert len(folds) == 2
    for fold in folds:
        assert isinstance(fold.estimator, FERClassifier)
        assert len(fold.calibrators) == len(calibrated.classes_) == 7
        for calibrator in fold.calibrators:
            check_is_fitted(calibrator)
    # Its probabilities are the folds' calibrated ones averaged, not the networks' own.
    np.testing.assert_allclose(proba, np.mean([fold.predict_proba(faces) for fold in folds],
                                              axis=0), rtol=1e-6)
    uncalibrated = np.mean([fold.estimator.predict_proba(faces) for fold in folds], axis=0)
    assert not np.allclose(proba, uncalibrated, atol=1e-3)


def test_clone_and_params():
    clf = FERClassifier(depth=3, dropout=0.4, dense_units=(64,))
    params = clf.get_params()
    assert params["depth"] == 3 and params["dropout"] == 0.4 and params["dense_units"] == (64,)
    copy = clone(clf)
    assert copy.get_params()["dropout"] == 0.4 and copy is not clf
    copy.set_params(dropout=0.1, learning_rate=3e-4)
    assert copy.dropout == 0.1 and clf.dropout == 0.4
    with pytest.raises(ValueError, match="FERClassifier has no parameter 'no_such_param'"):
        clf.set_params(no_such_param=1)
    # The constructor's "did you mean", at set_params too; routed names still pass.
    with pytest.raises(ValueError, match="no parameter 'droput'; did you mean 'dropout'"):
        clf.set_params(droput=0.3)
    assert clf.set_params(optimizer__beta_1=0.8).optimizer__beta_1 == 0.8


def test_partial_fit_names_an_unseen_label_and_the_known_classes(micro_cnn):
    X = np.random.default_rng(0).random((8, 48, 48), dtype=np.float32)
    clf = FERClassifier(**micro_cnn(epochs=1, validation_fraction=0))
    clf.initialize(X, np.array(["happy", "sad"] * 4))  # as a first partial_fit, untrained
    with pytest.raises(ValueError, match=r"partial_fit got label\(s\) 'angry' that this "
                                         r"FERClassifier has no output for: its classes are "
                                         r"\['happy', 'sad'\]"):
        clf.partial_fit(X, np.array(["happy", "angry"] * 4))
    with pytest.raises(ValueError, match=r"label\(s\) 1, 2 that"):
        clf.partial_fit(X, np.array([1, 2] * 4))


def test_same_random_state_gives_same_model(scaled_images, tiny_cnn):
    X, y = scaled_images
    params = tiny_cnn(epochs=1, validation_fraction=0.2, horizontal_flip=True, shift_range=0.1,
                      dropout=0.3, random_state=7)
    first = FERClassifier(**params).fit(X[:200], y[:200]).predict_proba(X[600:620])
    second = FERClassifier(**params).fit(X[:200], y[:200]).predict_proba(X[600:620])
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_validation_split_is_carved_and_monitored(scaled_images, tiny_cnn):
    X, y = scaled_images
    clf = FERClassifier(**tiny_cnn(epochs=2, validation_fraction=0.2, early_stopping_patience=5,
                                   reduce_lr_patience=1))
    clf.fit(X[:200], y[:200])
    assert len(clf.history_["val_loss"]) == 2 and "learning_rate" in clf.history_


def test_class_weight_balanced_on_imbalanced_labels(scaled_images, tiny_cnn):
    X, y = scaled_images
    keep = (y != 1) | (np.arange(len(y)) < 40)  # Disgust becomes rare, as in FER2013
    X, y = X[keep][:200], y[keep][:200]
    weighted = FERClassifier(**tiny_cnn(epochs=1, class_weight="balanced")).fit(X, y)
    plain = FERClassifier(**tiny_cnn(epochs=1)).fit(X, y)
    assert weighted.predict_proba(X[:3]).shape == (3, 7)
    # Same seed and data: only the class weights can make the losses differ.
    assert weighted.history_["loss"][0] != pytest.approx(plain.history_["loss"][0], rel=1e-3)


def test_fit_callbacks_serve_one_fit_only(scaled_images, tiny_cnn):
    import keras

    X, y = scaled_images
    seen_epochs = []
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen_epochs.append(epoch))
    clf = FERClassifier(**tiny_cnn(epochs=2))
    clf.fit(X[:100], y[:100], callbacks=[recorder])
    assert seen_epochs == [0, 1]
    assert recorder not in clf._fit_callbacks and clf.get_params()["callbacks"] is None


def test_own_schedule_callbacks_run_before_the_users(scaled_images, tiny_cnn):
    """Callbacks a user passes then see each epoch's outcome, e.g. early stopping's stop."""
    import keras

    X, y = scaled_images
    clf = FERClassifier(**tiny_cnn(early_stopping_patience=2, reduce_lr_patience=1,
                                   callbacks=[keras.callbacks.TerminateOnNaN()]))
    clf.initialize(X[:50], y[:50])
    assert [type(callback).__name__ for callback in clf._fit_callbacks] == [
        "EarlyStopping", "ReduceLROnPlateau", "TerminateOnNaN"]


@pytest.mark.parametrize("params, message", [
    ({"validation_fraction": 1.0}, "The 'validation_fraction' parameter of FERClassifier must "
                                   r"be a float in the range \[0.0, 1.0\)\. Got 1.0 instead"),
    ({"label_smoothing": -0.1}, "'label_smoothing' parameter"),
    ({"dropout": "x"}, "The 'dropout' parameter of FERClassifier must be a float in the range "
                       r"\[0.0, 1.0\)\. Got 'x' instead"),
    ({"lr_schedule": "step"}, "'lr_schedule' parameter .* a str among {.*'cosine'"),
    ({"dense_units": (32, 0)}, "'dense_units' parameter .* positive ints"),
    ({"warmup_epochs": 6, "lr_schedule": "cosine"}, "'warmup_epochs' parameter .* below "
                                                    "epochs=6"),
    ({"optimizer__learning_rate": 0.1}, "use learning_rate=..., not optimizer__learning_rate"),
    ({"validation_random_state": -1}, "'validation_random_state' parameter"),
    ({"depth": 7}, "depth"),
    ({"droput": 0.3}, "FERClassifier has no parameter 'droput'; did you mean 'dropout'"),
])
def test_bad_hyperparameters_are_named(scaled_images, params, message, tiny_cnn):
    X, y = scaled_images
    with pytest.raises(ValueError, match=message):
        FERClassifier(**tiny_cnn(**params)).fit(X[:50], y[:50])


def test_flat_rows_of_square_images_are_images(scaled_images, tiny_cnn):
    X, y = scaled_images
    params = tiny_cnn(epochs=1, tta=True)
    flat = FERClassifier(**params).fit(X[:100].reshape(100, -1), y[:100])
    images = FERClassifier(**params).fit(X[:100], y[:100])
    np.testing.assert_allclose(flat.predict_proba(X[600:605].reshape(5, -1)),
                               images.predict_proba(X[600:605]), rtol=1e-5, atol=1e-6)


def test_other_flat_rows_are_rejected_with_their_length(scaled_images, tiny_cnn):
    X, y = scaled_images
    with pytest.raises(ValueError, match=r"rows of 2300 values.*PixelTransformer"):
        FERClassifier(**tiny_cnn()).fit(X[:50].reshape(50, -1)[:, :2300], y[:50])


def test_too_small_for_stratified_validation(scaled_images, tiny_cnn):
    X, y = scaled_images
    with pytest.raises(ValueError, match="validation_fraction"):
        FERClassifier(**tiny_cnn(validation_fraction=0.05)).fit(X[:30], y[:30])


def test_small_and_large_batches_predict_the_same(fitted, scaled_images):
    X, _ = scaled_images
    large = fitted.predict_proba(X[:300])  # through keras' Model.predict
    small = np.concatenate([fitted.predict_proba(X[start:start + 100])
                            for start in range(0, 300, 100)])  # one direct call each
    np.testing.assert_allclose(small, large, rtol=1e-4, atol=1e-6)


def test_random_state_instance_is_not_advanced_and_reproduces(scaled_images, tiny_cnn):
    X, y = scaled_images
    generator = np.random.RandomState(3)
    before = generator.get_state()[1].copy()
    params = tiny_cnn(epochs=1, validation_fraction=0.2, random_state=generator)
    first = FERClassifier(**params).fit(X[:150], y[:150]).predict_proba(X[600:605])
    np.testing.assert_array_equal(generator.get_state()[1], before)
    second = FERClassifier(**params).fit(X[:150], y[:150]).predict_proba(X[600:605])
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
