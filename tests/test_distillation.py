"""Knowledge distillation: teacher probabilities as training targets of a FERClassifier."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import cross_val_score

from fer_estimator import make_fer_pipeline
from fer_estimator.classifier import FERClassifier
from fer_estimator.distillation import distillation_targets, soften, teacher_probabilities
from fer_estimator.presets import MICRO


class LeftBrightnessTeacher(ClassifierMixin, BaseEstimator):
    """A fitted teacher of two classes whose answer depends on which half of the image is
    brighter: a mirror image gets the opposite answer."""

    def fit(self, X, y):
        self.classes_ = np.array(["left", "right"])
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        half = X.shape[2] // 2
        left = X[:, :, :half].mean(axis=(1, 2)) > X[:, :, half:].mean(axis=(1, 2))
        p_left = np.where(left, 0.9, 0.2)
        return np.column_stack([p_left, 1 - p_left])


def test_teacher_probabilities_average_each_image_with_its_mirror():
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    images[:, :, :2] = 200  # left half bright
    teacher = LeftBrightnessTeacher().fit(images, None)
    np.testing.assert_allclose(teacher_probabilities(teacher, images, mirror=False),
                               [[0.9, 0.1]] * 3)
    np.testing.assert_allclose(teacher_probabilities(teacher, images), [[0.55, 0.45]] * 3)


def test_teacher_probabilities_follow_the_students_class_order_in_batches():
    images = np.zeros((5, 4, 4), dtype=np.uint8)
    images[:, :, :2] = 200
    teacher = LeftBrightnessTeacher().fit(images, None)
    proba = teacher_probabilities(teacher, images, classes=["right", "left"], mirror=False,
                                  batch_size=2)
    np.testing.assert_allclose(proba, [[0.1, 0.9]] * 5, rtol=1e-6)
    with pytest.raises(ValueError, match="the teacher has no class 'up'"):
        teacher_probabilities(teacher, images, classes=["left", "up"])
    with pytest.raises(ValueError, match=r"takes images .* shape \(5, 16\)"):
        teacher_probabilities(teacher, images.reshape(5, -1))


def test_soften_is_the_identity_at_temperature_one_and_flattens_above():
    proba = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(soften(proba, 1.0), proba)
    flatter = soften(proba, 3.0)
    np.testing.assert_allclose(flatter.sum(), 1.0)
    assert flatter[0, 0] < 0.7 and flatter[0, 2] > 0.1
    assert (np.argsort(flatter) == np.argsort(proba)).all()


def test_distillation_targets_mix_labels_and_teacher_by_the_weight():
    one_hot = np.array([[1.0, 0.0], [0.0, 1.0]])
    teacher = np.array([[0.2, 0.8], [0.5, 0.5]])
    targets = distillation_targets(one_hot, teacher, teacher_weight=0.25, temperature=1.0)
    np.testing.assert_allclose(targets, [[0.8, 0.2], [0.125, 0.875]], rtol=1e-6)


@pytest.fixture
def faces(synthetic_faces):
    X, y = synthetic_faces
    return X[:280] / 255.0, y[:280]


def test_a_student_learns_what_its_teacher_says_not_the_labels(faces):
    X, y = faces
    always_happy = np.zeros((len(y), 7))
    always_happy[:, 3] = 1.0
    happy_share = {}
    for weight in (0.0, 1.0):
        student = FERClassifier(**{**MICRO, "random_state": 0, "epochs": 4},
                                teacher_weight=weight)
        student.fit(X, y, teacher_proba=always_happy)
        happy_share[weight] = (student.predict(X) == 3).mean()
    # The labels have 1/7 Happy.
    assert happy_share[0.0] < 0.3 and happy_share[1.0] > 0.6


def test_validation_keeps_the_plain_labels(faces, monkeypatch):
    X, y = faces
    uniform = np.full((len(y), 7), 1 / 7)
    seen = {}

    def spy(self, X, y, *args, **kwargs):
        seen["train_targets"], seen["validation"] = y, kwargs.get("validation_data")
        return spy.original(self, X, y, *args, **kwargs)

    from fer_estimator._scikeras import BaseWrapper
    spy.original = BaseWrapper._fit_keras_model
    monkeypatch.setattr(BaseWrapper, "_fit_keras_model", spy)
    FERClassifier(**{**MICRO, "random_state": 0, "validation_fraction": 0.25},
                  teacher_weight=0.5).fit(X, y, teacher_proba=uniform)
    train_targets, (_, validation_targets) = seen["train_targets"], seen["validation"]
    np.testing.assert_allclose(train_targets.max(axis=1), 0.5 + 0.5 / 7, rtol=1e-6)
    assert set(np.unique(validation_targets)) == {0.0, 1.0}


@pytest.mark.parametrize("bad, message", [
    (np.full((280, 6), 1 / 6), r"shape \(280, 7\); got \(280, 6\)"),
    (np.full((279, 7), 1 / 7), r"shape \(280, 7\); got \(279, 7\)"),
    (np.full((280, 7), np.nan), "finite, non-negative"),
    (np.full((280, 7), 0.5), "row 0 sums to 3.5"),
])
def test_bad_teacher_probabilities_are_refused_naming_them(faces, bad, message):
    X, y = faces
    classifier = FERClassifier(**{**MICRO, "random_state": 0})
    with pytest.raises(ValueError, match=f"teacher_proba.*{message}|{message}"):
        classifier.fit(X, y, teacher_proba=bad)
    assert not hasattr(classifier, "_teacher_proba")


def test_a_distilled_pipeline_clones_and_cross_validates_with_per_fold_teacher_rows(faces):
    X, y = faces
    images = (X * 255).astype(np.uint8)
    pipeline = make_fer_pipeline(**{**MICRO, "random_state": 0}, teacher_weight=0.3,
                                 temperature=2.0)
    assert clone(pipeline).get_params()["cnn__temperature"] == 2.0
    proba = np.full((len(y), 7), 1 / 7)
    scores = cross_val_score(pipeline, images, y, cv=2, params={"cnn__teacher_proba": proba},
                             error_score="raise")
    assert len(scores) == 2 and np.isfinite(scores).all()


def test_the_search_passes_teacher_rows_to_every_fold(faces, tmp_path):
    from optuna.distributions import CategoricalDistribution

    from fer_estimator.search import FERSearchCV

    X, y = faces
    images = (X * 255).astype(np.uint8)
    proba = np.full((len(y), 7), 1 / 7)
    search = FERSearchCV(make_fer_pipeline(**{**MICRO, "random_state": 0}),
                         {"teacher_weight": CategoricalDistribution([0.2, 0.8])}, n_trials=1,
                         cv=2, storage=f"sqlite:///{tmp_path / 'study.db'}", random_state=0)
    search.fit(images, y, cnn__teacher_proba=proba)
    assert search.best_params_["teacher_weight"] in (0.2, 0.8)
    assert search.best_estimator_.named_steps["cnn"].initialized_
