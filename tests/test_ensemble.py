"""Soft-voting ensembles of fitted FER pipelines, and the common validation split they need."""

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from fer_estimator import EMOTIONS, FERClassifier, make_fer_pipeline, soft_voting_ensemble
from fer_estimator.ensemble import ensemble_members, is_ensemble, shared_validation_rows
from fer_estimator.evaluation import evaluate
from fer_estimator.presets import MICRO


@pytest.fixture(scope="module")
def members(synthetic_split, tiny_cnn):
    X_train, y_train, _, _ = synthetic_split
    names = np.array(EMOTIONS)[y_train]
    return [make_fer_pipeline("standardize", **tiny_cnn(epochs=2, random_state=seed))
            .fit(X_train, names) for seed in (0, 1)]


def test_ensemble_averages_member_probabilities(members, synthetic_split):
    _, _, X_test, _ = synthetic_split
    ensemble = soft_voting_ensemble(members, names=["seed0", "seed1"])
    expected = np.mean([member.predict_proba(X_test) for member in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X_test), expected, rtol=1e-6)
    np.testing.assert_array_equal(ensemble.classes_, members[0].classes_)
    assert list(ensemble.named_steps["vote"].named_estimators_) == ["seed0", "seed1"]
    # The members are networks of their own, not one network averaged with itself.
    assert not np.allclose(members[0].predict_proba(X_test), members[1].predict_proba(X_test))


def test_refitting_a_clone_retrains_nothing(members, synthetic_split, synthetic_faces):
    _, _, X_test, _ = synthetic_split
    ensemble = soft_voting_ensemble(members)
    before = ensemble.predict_proba(X_test)
    X_other, codes = synthetic_faces
    refitted = clone(ensemble).fit(X_other[:50] * 0.5, np.array(EMOTIONS)[codes[:50]])
    # Neither the networks nor the standardisation they were trained with change.
    np.testing.assert_allclose(refitted.predict_proba(X_test), before, rtol=1e-6)


def test_ensemble_round_trips_through_joblib(members, synthetic_split, tmp_path):
    _, _, X_test, _ = synthetic_split
    ensemble = soft_voting_ensemble(members)
    joblib.dump(ensemble, tmp_path / "ensemble.joblib")
    loaded = joblib.load(tmp_path / "ensemble.joblib")
    np.testing.assert_allclose(loaded.predict_proba(X_test), ensemble.predict_proba(X_test),
                               rtol=1e-6)


def test_evaluate_reports_flip_tta_of_the_ensemble(members, synthetic_split):
    _, _, X_test, y_test = synthetic_split
    names = np.array(EMOTIONS)[y_test]
    ensemble = soft_voting_ensemble(members)
    networks = [member.named_steps["cnn"] for member in members]
    networks[1].set_params(tta=True)
    try:
        report = evaluate(ensemble, X_test, names, progress=False)
        assert [network.tta for network in networks] == [False, True]  # restored
        for network in networks:
            network.set_params(tta=True)
        expected_tta = np.mean(ensemble.predict(X_test) == names)
    finally:
        for network in networks:
            network.set_params(tta=False)
    assert report["accuracy"] == pytest.approx(np.mean(ensemble.predict(X_test) == names))
    assert report["accuracy_tta"] == pytest.approx(expected_tta)


def test_members_must_share_preprocessing_and_classes(members, synthetic_split):
    X_train, y_train, _, _ = synthetic_split
    names = np.array(EMOTIONS)[y_train]
    scaled = make_fer_pipeline("scale", **MICRO).fit(X_train, names)
    with pytest.raises(ValueError, match="pipeline 'member1' preprocesses images differently"):
        soft_voting_ensemble([members[0], scaled])
    # Same parameters, normalisation learnt from other images.
    shifted = make_fer_pipeline("standardize", **MICRO).fit(X_train * 0.5, names)
    with pytest.raises(ValueError, match="fitted mean_ differs"):
        soft_voting_ensemble([members[0], shifted])
    six_classes = names.copy()
    six_classes[six_classes == "Disgust"] = "Angry"
    fewer = make_fer_pipeline("standardize", **MICRO).fit(X_train, six_classes)
    with pytest.raises(ValueError, match="pipeline 'member1' has classes"):
        soft_voting_ensemble([members[0], fewer])
    with pytest.raises(ValueError, match="at least two pipelines, got 1"):
        soft_voting_ensemble(members[:1])
    with pytest.raises(ValueError, match="got 1 names for 2 pipelines"):
        soft_voting_ensemble(members, names=["only"])


def test_ensemble_members_gives_back_the_member_pipelines(members, synthetic_split):
    _, _, X_test, _ = synthetic_split
    ensemble = soft_voting_ensemble(members, names=["seed0", "seed1"])
    assert is_ensemble(ensemble) and not is_ensemble(members[0])
    recovered = ensemble_members(ensemble)
    assert list(recovered) == ["seed0", "seed1"]
    for member, pipeline in zip(members, recovered.values(), strict=True):
        np.testing.assert_allclose(pipeline.predict_proba(X_test), member.predict_proba(X_test),
                                   rtol=1e-6)
    rebuilt = soft_voting_ensemble(list(recovered.values()), names=list(recovered))
    np.testing.assert_allclose(rebuilt.predict_proba(X_test), ensemble.predict_proba(X_test),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="not a fitted ensemble"):
        ensemble_members(members[0])


def _held_out(classifier, n_images=200):
    """The indices ``classifier`` holds out for validation from ``n_images`` labelled images."""
    labels = np.arange(n_images) % len(EMOTIONS)
    one_hot = np.eye(len(EMOTIONS))[labels]
    *_, (validation, _) = classifier.split_validation(np.arange(n_images), one_hot, None)
    return set(validation.tolist())


def test_validation_random_state_fixes_the_held_out_images_across_seeds():
    split = dict(validation_fraction=0.2, validation_random_state=7)
    first = _held_out(FERClassifier(random_state=0, **split))
    assert _held_out(FERClassifier(random_state=1, **split)) == first
    assert len(first) == 40
    # Unset, the split follows random_state, as before the parameter existed.
    assert _held_out(FERClassifier(random_state=0)) != _held_out(FERClassifier(random_state=1))
    assert (_held_out(FERClassifier(random_state=7, validation_fraction=0.2))
            == first)


def test_shared_validation_rows_are_the_images_every_member_held_out(synthetic_split):
    X_train, y_train, _, _ = synthetic_split
    names = np.array(EMOTIONS)[y_train]
    split = dict(validation_fraction=0.2, validation_random_state=3)
    pipelines = [make_fer_pipeline(**{**MICRO, **split, "random_state": seed}).fit(X_train, names)
                 for seed in (0, 1)]
    rows = shared_validation_rows(pipelines, names)
    assert len(rows) == round(0.2 * len(names))
    # The network scores on these rows as it did on its validation data after its last epoch.
    network = pipelines[0].named_steps["cnn"]
    assert pipelines[0].score(X_train[rows], names[rows]) == pytest.approx(
        network.history_["val_accuracy"][-1], abs=1e-6)

    other_split = make_fer_pipeline(**{**MICRO, "validation_fraction": 0.2, "random_state": 1})
    other_split.fit(X_train, names)
    with pytest.raises(ValueError, match="did not hold out the same images"):
        shared_validation_rows([pipelines[0], other_split], names)
    everything = make_fer_pipeline(**{**MICRO, "validation_fraction": 0.0}).fit(X_train, names)
    with pytest.raises(ValueError, match="none is left to score them on"):
        shared_validation_rows([everything, everything], names)
