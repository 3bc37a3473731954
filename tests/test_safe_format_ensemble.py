"""Soft-voting ensembles in the safe .fer.zip format (version 2), beside version-1 files."""

import json
import zipfile

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from fer_estimator import (
    EMOTIONS,
    FERClassifier,
    PixelTransformer,
    load,
    make_fer_pipeline,
    save,
    soft_voting_ensemble,
)
from fer_estimator._paths import MODELS_DIR
from fer_estimator.presets import MICRO
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError, limits
from fer_estimator.variants import six_class_from_seven

NAMES = ["seed0", "seed1"]


@pytest.fixture(scope="module")
def members(synthetic_split):
    X_train, y_train, _, _ = synthetic_split
    labels = np.array(EMOTIONS)[y_train]
    return [make_fer_pipeline("standardize", **{**MICRO, "random_state": seed})
            .fit(X_train, labels) for seed in (0, 1)]


@pytest.fixture(scope="module")
def ensemble(members):
    return soft_voting_ensemble(members, names=NAMES)


@pytest.fixture(scope="module")
def saved(ensemble, tmp_path_factory):
    return save(ensemble, tmp_path_factory.mktemp("ensemble") / "ensemble.fer.zip")


@pytest.fixture(scope="module")
def X_test(synthetic_split):
    return synthetic_split[2][:40]


def test_round_trip_predicts_identically(ensemble, saved, X_test, synthetic_split):
    loaded = load(saved)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), ensemble.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), ensemble.predict(X_test))
    y_test = np.array(EMOTIONS)[synthetic_split[3][:40]]
    assert loaded.score(X_test, y_test) == ensemble.score(X_test, y_test)
    # The members are two networks, not one loaded twice.
    first, second = (member.predict_proba(loaded[:-1].transform(X_test))
                     for member in loaded[-1].estimators_)
    assert not np.allclose(first, second)


def test_the_loaded_ensemble_is_what_soft_voting_ensemble_builds(ensemble, saved, members,
                                                                 synthetic_faces, X_test):
    loaded = load(saved)
    assert isinstance(loaded, Pipeline)
    assert [name for name, _ in loaded.steps] == [name for name, _ in ensemble.steps]
    pixels = loaded.named_steps["pixels"]
    assert isinstance(pixels, FrozenEstimator) and type(pixels.estimator) is PixelTransformer
    assert pixels.estimator.get_params() == members[0][0].get_params()
    assert (pixels.estimator.mean_, pixels.estimator.scale_) == (members[0][0].mean_,
                                                                 members[0][0].scale_)
    vote = loaded.named_steps["vote"]
    assert type(vote) is VotingClassifier
    assert vote.get_params(deep=False) == {**ensemble[-1].get_params(deep=False),
                                           "estimators": vote.estimators}
    assert list(vote.named_estimators_) == NAMES
    np.testing.assert_array_equal(loaded.classes_, ensemble.classes_)
    for frozen, member in zip(vote.estimators_, members, strict=True):
        assert isinstance(frozen, FrozenEstimator) and type(frozen.estimator) is FERClassifier
        assert frozen.estimator.get_params() == member[-1].get_params()
        np.testing.assert_array_equal(frozen.classes_, member.classes_)
    # Frozen: refitting a clone on other images changes neither a network nor the statistics.
    X_other, codes = synthetic_faces
    refitted = clone(loaded).fit(X_other[:50] * 0.5, np.array(EMOTIONS)[codes[:50]])
    np.testing.assert_array_equal(refitted.predict_proba(X_test), loaded.predict_proba(X_test))


def test_an_ensemble_of_six_class_variants_round_trips(members, tmp_path, X_test):
    # As scripts/make_ensemble.py saves it, beside the 7-class ensemble.
    six = soft_voting_ensemble([six_class_from_seven(member) for member in members],
                               names=["fer2013-7class", "fer2013-7class-seed1"])
    loaded = load(save(six, tmp_path / "six.fer.zip"))
    assert list(loaded.classes_) == list(six.classes_) and len(six.classes_) == 6
    assert list(loaded[-1].named_estimators_) == ["fer2013-7class", "fer2013-7class-seed1"]
    np.testing.assert_allclose(loaded.predict_proba(X_test), six.predict_proba(X_test),
                               rtol=1e-6)


@pytest.mark.parametrize("onnx", [True, False])
def test_each_network_is_its_own_archive_member(members, tmp_path, onnx):
    path = save(soft_voting_ensemble(members), tmp_path / "default-names.fer.zip", onnx=onnx)
    graphs = ["networks/member0.onnx", "networks/member1.onnx"] if onnx else []
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted([
            DESCRIPTION_MEMBER, "networks/member0.keras", "networks/member1.keras", *graphs])
        description = json.loads(archive.read(DESCRIPTION_MEMBER))
    assert description["format_version"] == (3 if onnx else 2)
    assert [step["class"] for step in description["steps"]] == ["PixelTransformer",
                                                               "VotingClassifier"]
    assert [member["name"] for member in description["steps"][-1]["members"]] == ["member0",
                                                                                  "member1"]
    assert list(load(path)[-1].named_estimators_) == ["member0", "member1"]


def test_ensembles_the_format_cannot_describe_are_refused_on_save(members, tmp_path):
    with pytest.raises(SafeFormatError, match=r"invalid ensemble member name '\.\./evil'"):
        save(soft_voting_ensemble(members, names=["../evil", "good"]), tmp_path / "a.fer.zip")
    weighted = soft_voting_ensemble(members).set_params(vote__weights=[2, 1])
    with pytest.raises(SafeFormatError, match=r"weights=\[2, 1\].*dump_joblib"):
        save(weighted, tmp_path / "b.fer.zip")
    unfrozen = Pipeline([("pixels", members[0][0]), soft_voting_ensemble(members).steps[-1]])
    with pytest.raises(SafeFormatError, match=r"'pixels' is a .*PixelTransformer"):
        save(unfrozen, tmp_path / "c.fer.zip")
    assert not list(tmp_path.iterdir())  # nothing half-written


def _edit_members(edit):
    """A description edit applying ``edit`` to the vote step's list of members."""
    def apply(description):
        *shared, vote = description["steps"]
        return {**description, "steps": [*shared, {**vote, "members": edit(vote["members"])}]}
    return apply


def _rename(members, old, new):
    return {new if name == old else name: data for name, data in members.items()}


def _with_classes(member, classes):
    return {**member, "classes": classes}


@pytest.mark.parametrize("edit_description, edit_members, message", [
    (_edit_members(lambda m: [{**m[0], "name": "../evil"}, m[1]]),
     lambda m: _rename(m, "networks/seed0.keras", "networks/../evil.keras"),
     r"ensemble\.fer\.zip: invalid ensemble member name '\.\./evil'"),
    (_edit_members(lambda m: [m[0], {**m[1], "name": "/etc/passwd"}]), None,
     "invalid ensemble member name '/etc/passwd'"),
    (_edit_members(lambda m: [m[0], {**m[1], "name": 7}]), None,
     "invalid ensemble member name 7"),
    (_edit_members(lambda m: [m[0], {**m[1], "name": "seed0"}]), None,
     r"member names \['seed0', 'seed0'\] repeat"),
    (_edit_members(lambda m: m[:1]), None, "at least two members, this one 1"),
    (_edit_members(lambda m: {"seed0": m[0]}), None, "has no list of members"),
    (None, lambda m: {k: v for k, v in m.items() if k != "networks/seed1.keras"},
     r"ensemble\.fer\.zip has no networks/seed1.keras"),
    (None, lambda m: {**m, "networks/seed2.keras": m["networks/seed1.keras"]},
     r"holds \['networks/seed2.keras'\], which a model file does not"),
    (_edit_members(lambda m: [m[0], _with_classes(m[1], ["Anger", *m[1]["classes"][1:]])]),
     None, "cannot be rebuilt: pipeline 'seed1' has classes"),
    (_edit_members(lambda m: [m[0], _with_classes(m[1], ["Angry", "Happy"])]), None,
     r"ensemble member 'seed1': step 1 \(FERClassifier\): the network has 7 outputs for 2 "
     r"classes"),
    (_edit_members(lambda m: [m[0], {**m[1], "class": "os.system"}]), None,
     "ensemble member 'seed1': step 1 must be a FERClassifier"),
    (_edit_members(lambda m: [m[0], {**m[1], "params": {**m[1]["params"], "model": "evil"}}]),
     None, "must be null"),
    (lambda d: {**d, "format_version": 4}, None, "format version 4; this fer-estimator reads "
                                                 "versions 1 to 3"),
])
def test_a_tampered_ensemble_is_refused(saved, tmp_path, edit_description, edit_members,
                                        message, rewrite_archive):
    tampered = rewrite_archive(saved, tmp_path / "ensemble.fer.zip",
                               description=edit_description, members=edit_members)
    with pytest.raises(SafeFormatError, match=message):
        load(tampered)


def _replace_network(network_file):
    return lambda members: {**members, "networks/seed1.keras": network_file.read_bytes()}


def test_a_member_network_of_another_shape_or_with_a_lambda_layer_is_refused(saved, tmp_path,
                                                                             rewrite_archive):
    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Dense(len(EMOTIONS), activation="softmax")(
        keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "small.keras")
    tampered = rewrite_archive(saved, tmp_path / "shape.fer.zip",
                               members=_replace_network(tmp_path / "small.keras"))
    # The shared transformer makes 48x48 images, which this member's network does not take.
    with pytest.raises(SafeFormatError, match=r"shape\.fer\.zip, ensemble member 'seed1': step 0 "
                                              r"\(PixelTransformer\): 'image_size' is 48: .* the "
                                              r"network takes 32x32 images"):
        load(tampered)
    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Lambda(lambda x: x[:, 0, 0, :7] * 0 + 1)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    tampered = rewrite_archive(saved, tmp_path / "lambda.fer.zip",
                               members=_replace_network(tmp_path / "lambda.keras"))
    with pytest.raises(SafeFormatError, match=r"network networks/seed1\.keras: config\.json has a "
                                              "layer of class 'Lambda'"):
        load(tampered)


def test_a_single_model_without_onnx_is_still_written_as_version_1(members, tmp_path, X_test):
    path = save(members[0], tmp_path / "single.fer.zip", onnx=False)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [DESCRIPTION_MEMBER, NETWORK_MEMBER]
        assert json.loads(archive.read(DESCRIPTION_MEMBER))["format_version"] == 1
    np.testing.assert_array_equal(load(path).predict_proba(X_test),
                                  members[0].predict_proba(X_test))


def test_loading_an_ensemble_builds_no_network_and_seeds_nothing(saved, ensemble, X_test,
                                                                forbid_network_building,
                                                                global_rng_untouched):
    forbid_network_building()
    with global_rng_untouched():
        loaded = load(saved)  # members with random_state 0 and 1
    np.testing.assert_array_equal(loaded.predict_proba(X_test), ensemble.predict_proba(X_test))


def test_the_networks_together_are_capped(saved, monkeypatch):
    with zipfile.ZipFile(saved) as archive:
        sizes = [archive.getinfo(f"networks/{name}.keras").file_size for name in NAMES]
    # Each network is under the cap, the two together are not.
    monkeypatch.setattr(limits, "MAX_NETWORK_BYTES", max(sizes) + 1)
    with pytest.raises(SafeFormatError, match=f"the networks expand to {sum(sizes)} bytes"):
        load(saved)


# Files written by earlier releases (the demo model: format 1) and by this one.
@pytest.mark.parametrize("name, version", [("demo.fer.zip", 1), ("fer2013-7class.fer.zip", 3)])
def test_the_shipped_files_of_each_version_load(name, version, X_test, global_rng_untouched):
    path = MODELS_DIR / name
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read(DESCRIPTION_MEMBER))["format_version"] == version
    # Its classifier has random_state=0: loading it must not reseed the caller's generators.
    with global_rng_untouched():
        loaded = load(path)
    assert isinstance(loaded, Pipeline) and type(loaded[-1]) is FERClassifier
    assert list(loaded.classes_) == sorted(EMOTIONS)
    proba = loaded.predict_proba(X_test[:8])
    assert proba.shape == (8, len(EMOTIONS))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
