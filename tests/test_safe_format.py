"""The safe .fer.zip format, and pickle (joblib) files refused unless trusted or shipped."""

import json
import pickle
import zipfile

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from conftest import TINY_CNN
from fer_estimator import EMOTIONS, FacePipeline, FERClassifier, load, make_fer_pipeline, save
from fer_estimator._paths import DEFAULT_MODEL_PATH, MODELS_DIR
from fer_estimator.cli import main
from fer_estimator.manifest import UntrustedModelError, file_sha256, read_manifest, write_manifest
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError
from fer_estimator.variants import six_class_from_seven


@pytest.fixture(scope="module")
def fitted(synthetic_split):
    X_train, y_train, X_test, y_test = synthetic_split
    # float32: "auto" may train in mixed bfloat16, which the safe file stores as float32.
    pipeline = make_fer_pipeline("standardize", **{**TINY_CNN, "epochs": 2,
                                                   "precision": "float32"})
    pipeline.fit(X_train[:200], np.array(EMOTIONS)[y_train[:200]])
    return pipeline, X_test[:40], np.array(EMOTIONS)[y_test[:40]]


def test_round_trip_predicts_identically_as_a_real_pipeline(fitted, tmp_path):
    pipeline, X, y = fitted
    path = save(pipeline, tmp_path / "model.fer.zip")
    loaded = load(path)
    assert isinstance(loaded, Pipeline) and isinstance(loaded[-1], FERClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    assert (loaded.predict(X) == pipeline.predict(X)).all()
    assert loaded.score(X, y) == pipeline.score(X, y)
    assert list(loaded.classes_) == list(pipeline.classes_)
    assert loaded.get_params()["cnn__dense_units"] == (32,)
    assert loaded.named_steps["pixels"].mean_ == pipeline.named_steps["pixels"].mean_
    assert loaded[-1].history_ == {k: [float(v) for v in vs]
                                   for k, vs in pipeline[-1].history_.items()}
    assert clone(loaded).get_params()["cnn__depth"] == TINY_CNN["depth"]


def test_the_file_holds_no_pickle_and_no_optimizer(fitted, tmp_path):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted([DESCRIPTION_MEMBER, NETWORK_MEMBER])
        description = json.loads(archive.read(DESCRIPTION_MEMBER))
        archive.extract(NETWORK_MEMBER, tmp_path)
    assert [step["class"] for step in description["steps"]] == ["PixelTransformer",
                                                               "FERClassifier"]
    assert set(description["versions"]) >= {"fer_estimator", "keras", "scikeras"}
    with zipfile.ZipFile(tmp_path / NETWORK_MEMBER) as network:
        assert not any("optimizer" in name for name in network.namelist())


def test_a_bare_classifier_and_integer_classes_round_trip(synthetic_split, tmp_path):
    X_train, y_train, X_test, _ = synthetic_split
    images = (X_train[:100, ..., None] / 255.0).astype("float32")
    classifier = FERClassifier(**{**TINY_CNN, "epochs": 1, "precision": "float32"})
    classifier.fit(images, y_train[:100])
    loaded = load(save(classifier, tmp_path / "bare.fer.zip"))
    assert isinstance(loaded, FERClassifier) and loaded.classes_.dtype.kind == "i"
    test = (X_test[:10, ..., None] / 255.0).astype("float32")
    np.testing.assert_array_equal(loaded.predict(test), classifier.predict(test))


def test_the_six_class_variant_round_trips(fitted, tmp_path):
    pipeline, X, _ = fitted
    six = six_class_from_seven(pipeline)
    loaded = load(save(six, tmp_path / "six.fer.zip"))
    assert list(loaded.classes_) == list(six.classes_)
    np.testing.assert_allclose(loaded.predict_proba(X), six.predict_proba(X), rtol=1e-6)


def test_a_mixed_precision_model_is_saved_in_float32(synthetic_split, tmp_path):
    X_train, y_train, X_test, _ = synthetic_split
    params = {**TINY_CNN, "epochs": 1, "precision": "mixed_bfloat16"}
    pipeline = make_fer_pipeline(**params).fit(X_train[:100], y_train[:100])
    loaded = load(save(pipeline, tmp_path / "bf16.fer.zip"))
    assert loaded[-1].precision_ == "float32"
    assert {layer.dtype_policy.name for layer in loaded[-1].model_.layers} == {"float32"}
    np.testing.assert_allclose(loaded.predict_proba(X_test[:20]),
                               pipeline.predict_proba(X_test[:20]), atol=0.05)


def test_models_the_format_cannot_describe_are_refused_on_save(fitted, tmp_path):
    pipeline, _, _ = fitted
    other = Pipeline([("scale", FunctionTransformer()), ("cnn", pipeline[-1])])
    with pytest.raises(SafeFormatError, match="dump_joblib"):
        save(other, tmp_path / "other.fer.zip")
    with_callbacks = clone(pipeline).set_params(cnn__callbacks=[keras.callbacks.History()])
    with pytest.raises(SafeFormatError, match="not fitted|callbacks"):
        save(with_callbacks, tmp_path / "cb.fer.zip")
    assert not list(tmp_path.iterdir())  # nothing half-written


def _rewrite(source, target, description=None, network=None):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if description is not None:
        members[DESCRIPTION_MEMBER] = json.dumps(description(json.loads(
            members[DESCRIPTION_MEMBER])))
    if network is not None:
        members[NETWORK_MEMBER] = network
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_a_lambda_layer_in_the_network_is_refused(fitted, tmp_path):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Lambda(lambda x: x[:, 0, 0, :7] * 0 + 1)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    tampered = _rewrite(path, tmp_path / "tampered.fer.zip",
                        network=(tmp_path / "lambda.keras").read_bytes())
    with pytest.raises(SafeFormatError, match="cannot be loaded safely"):
        load(tampered)


@pytest.mark.parametrize("edit, message", [
    (lambda d: {**d, "format": "other"}, "not a .fer.zip model"),
    (lambda d: {**d, "format_version": 99}, "format version 99"),
    (lambda d: {**d, "steps": [{**d["steps"][0], "class": "os.system"}, d["steps"][1]]},
     "must be a PixelTransformer"),
    (lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1], "params": {
        **d["steps"][1]["params"], "model": "evil"}}]}, "must be null"),
    (lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1], "params": {
        **d["steps"][1]["params"], "no_such": 1}}]}, r"unknown FERClassifier parameter"),
    (lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1], "classes": ["a", "b"]}]},
     "7 outputs for 2 classes"),
])
def test_a_tampered_description_is_refused(fitted, tmp_path, edit, message):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    with pytest.raises(SafeFormatError, match=message):
        load(_rewrite(path, tmp_path / "tampered.fer.zip", description=edit))


def test_a_zip_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "hello")
    with pytest.raises(SafeFormatError, match="has no fer_estimator.json"):
        load(path)


class _Payload:
    """Unpickling this creates ``marker`` (a harmless stand-in for an attacker's code), then
    returns a working classifier, as the malicious model file of issue #9 did."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_touch_and_return_model, (self.marker,))


def _touch_and_return_model(marker):
    open(marker, "w").close()
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(EMOTIONS))


@pytest.fixture
def malicious(tmp_path):
    path, marker = tmp_path / "model.joblib", tmp_path / "payload-ran"
    joblib.dump(_Payload(marker), path)
    return path, marker


@pytest.mark.parametrize("command", [
    ["predict", "--demo"],
    ["evaluate", "--data", "unused.csv"],
])
def test_the_cli_refuses_a_malicious_joblib_without_trust_model(malicious, command, capsys):
    path, marker = malicious
    assert main([*command, "--model", str(path)]) == 2
    error = capsys.readouterr().err
    assert "--trust-model" in error and "runs any code" in error and ".fer.zip" in error
    assert not marker.exists()


def test_face_pipeline_and_load_refuse_it_and_trust_runs_it(malicious):
    path, marker = malicious
    with pytest.raises(UntrustedModelError, match="trust=True"):
        FacePipeline(path).class_names()
    with pytest.raises(UntrustedModelError):
        load(path)
    assert not marker.exists()
    assert FacePipeline(path, trust=True).class_names() == tuple(sorted(EMOTIONS))
    assert marker.exists()  # trusted: the file's code ran, as documented


def test_a_plain_pickle_needs_trust_too(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(DummyClassifier()))
    with pytest.raises(UntrustedModelError):
        load(path)
    assert isinstance(load(path, trust=True), DummyClassifier)


def test_shipped_files_are_in_the_manifest_and_the_default_is_safe():
    manifest = read_manifest()
    for name in ("fer2013-7class.joblib", "fer2013-6class.joblib",
                 "fer2013-7class.fer.zip", "fer2013-6class.fer.zip"):
        assert manifest[name] == file_sha256(MODELS_DIR / name), f"regenerate for {name}"
    assert DEFAULT_MODEL_PATH.name.endswith(".fer.zip")


def test_a_shipped_joblib_loads_without_trust_and_a_changed_copy_does_not(tmp_path):
    assert list(load(MODELS_DIR / "fer2013-6class.joblib").classes_)[0] == "Angry"
    copy = tmp_path / "fer2013-6class.joblib"
    copy.write_bytes((MODELS_DIR / "fer2013-6class.joblib").read_bytes() + b"\0")
    with pytest.raises(UntrustedModelError):
        load(copy)


def test_write_manifest_records_every_model_file(tmp_path):
    (tmp_path / "a.joblib").write_bytes(b"a")
    (tmp_path / "b.fer.zip").write_bytes(b"b")
    (tmp_path / "notes.txt").write_text("not a model")
    files = write_manifest(tmp_path)
    assert set(files) == {"a.joblib", "b.fer.zip"}
    assert read_manifest(tmp_path) == files
