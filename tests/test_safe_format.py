"""The safe .fer.zip format, and pickle (joblib) files refused unless trusted or shipped."""

import json
import pickle
import struct
import warnings
import zipfile

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_estimator import EMOTIONS, FacePipeline, FERClassifier, load, make_fer_pipeline, save
from fer_estimator._paths import DEFAULT_MODEL_PATH, MODELS_DIR
from fer_estimator._versions import check_saved_versions
from fer_estimator.cli import main
from fer_estimator.manifest import UntrustedModelError, file_sha256, read_manifest, write_manifest
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError, limits
from fer_estimator.variants import six_class_from_seven


@pytest.fixture(scope="module")
def fitted(synthetic_split, tiny_cnn):
    X_train, y_train, X_test, y_test = synthetic_split
    # float32: "auto" may train in mixed bfloat16, which the safe file stores as float32.
    pipeline = make_fer_pipeline("standardize", **tiny_cnn(epochs=2, precision="float32"))
    pipeline.fit(X_train[:200], np.array(EMOTIONS)[y_train[:200]])
    return pipeline, X_test[:40], np.array(EMOTIONS)[y_test[:40]]


def test_round_trip_predicts_identically_as_a_real_pipeline(fitted, tmp_path, tiny_cnn):
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
    assert clone(loaded).get_params()["cnn__depth"] == tiny_cnn()["depth"]


def test_the_file_holds_no_pickle_and_no_optimizer(fitted, tmp_path):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    with zipfile.ZipFile(path) as archive:
        # The ONNX graph is a protobuf: no pickle either.
        assert sorted(archive.namelist()) == sorted([DESCRIPTION_MEMBER, NETWORK_MEMBER,
                                                     "network.onnx"])
        description = json.loads(archive.read(DESCRIPTION_MEMBER))
        archive.extract(NETWORK_MEMBER, tmp_path)
    assert [step["class"] for step in description["steps"]] == ["PixelTransformer",
                                                               "FERClassifier"]
    assert set(description["versions"]) >= {"fer_estimator", "keras", "scikeras"}
    with zipfile.ZipFile(tmp_path / NETWORK_MEMBER) as network:
        assert not any("optimizer" in name for name in network.namelist())


def test_a_bare_classifier_and_integer_classes_round_trip(synthetic_split, tmp_path, tiny_cnn):
    X_train, y_train, X_test, _ = synthetic_split
    images = (X_train[:100, ..., None] / 255.0).astype("float32")
    classifier = FERClassifier(**tiny_cnn(epochs=1, precision="float32"))
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


def test_a_mixed_precision_model_is_saved_in_float32(synthetic_split, tmp_path, tiny_cnn):
    X_train, y_train, X_test, _ = synthetic_split
    params = tiny_cnn(epochs=1, precision="mixed_bfloat16")
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
    with pytest.raises(SafeFormatError, match="PixelTransformer is not fitted"):
        save(clone(pipeline), tmp_path / "unfitted.fer.zip")
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("param, value, message", [
    ("cnn__callbacks", lambda: [keras.callbacks.History()],
     r"parameter callbacks=\[.*\] is a Python object"),
    ("cnn__optimizer", lambda: keras.optimizers.Adam(),
     r"FERClassifier parameter optimizer = .* is not a plain JSON value"),
    ("cnn__class_weight", lambda: {0: object()},
     r"FERClassifier parameter class_weight = .* is not a plain JSON value"),
])
def test_a_fitted_model_with_object_parameters_is_refused_on_save(fitted, tmp_path, param,
                                                                  value, message):
    # The fitted pipeline itself (a clone would stop at "not fitted" first), restored after.
    pipeline = fitted[0]
    before = pipeline.get_params()[param]
    pipeline.set_params(**{param: value()})
    try:
        with pytest.raises(SafeFormatError, match=message):
            save(pipeline, tmp_path / "model.fer.zip")
    finally:
        pipeline.set_params(**{param: before})
    assert not list(tmp_path.iterdir())


def test_a_save_that_fails_while_writing_leaves_no_file(fitted, tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save(fitted[0], tmp_path / "model.fer.zip")
    assert not list(tmp_path.iterdir())  # neither the file nor its temporary file


def test_a_lambda_layer_in_the_network_is_refused(fitted, tmp_path, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Lambda(lambda x: x[:, 0, 0, :7] * 0 + 1)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    tampered = rewrite_archive(path, tmp_path / "tampered.fer.zip",
                               network=(tmp_path / "lambda.keras").read_bytes())
    # Refused from its config, before Keras reads it.
    with pytest.raises(SafeFormatError, match=r"network\.keras: config\.json has a layer of class "
                                              "'Lambda'"):
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
    (lambda d: {**d, "versions": ["keras"]}, r"'versions' must map package names to version "
                                             r"strings; it is \['keras'\]"),
    (lambda d: {**d, "versions": {"keras": 3}}, r"'versions' must map .*\{'keras': 3\}"),
    (lambda d: {**d, "pipeline": False}, "a bare classifier is exactly one step; the "
                                         "description lists 2"),
    (lambda d: {**d, "pipeline": "yes"}, "'pipeline' must be true or false"),
    (lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1], "params": {
        **d["steps"][1]["params"], "depth": "deep"}}]}, r"'depth' parameter of FERClassifier"),
    (lambda d: {**d, "steps": [{**d["steps"][0], "fitted": [0.5, 0.25]}, d["steps"][1]]},
     r"step 0 \(PixelTransformer\): 'fitted' must be a table"),
    (lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1], "fitted": {"history_": [1]}}]},
     r"step 1 \(FERClassifier\): 'fitted.history_' must be a table"),
])
def test_a_tampered_description_is_refused(fitted, tmp_path, edit, message, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    with pytest.raises(SafeFormatError, match=message):
        load(rewrite_archive(path, tmp_path / "tampered.fer.zip", description=edit))


@pytest.mark.parametrize("saved", [["keras"], {"keras": 3}, {"keras": None}, None])
def test_version_entries_that_are_not_strings_are_ignored_when_checked(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_saved_versions(saved, "model")
    with pytest.warns(UserWarning, match="keras 1.0"):
        check_saved_versions({"keras": "1.0", "scikeras": 0}, "model")


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_deeply_nested_description_is_refused(fitted, tmp_path, depth, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    tampered = rewrite_archive(path, tmp_path / "nested.fer.zip",
                               raw_description=lambda text: text.replace(
                                   "{", '{"deep": ' + "[" * depth + "]" * depth + ", ", 1))
    with pytest.raises(SafeFormatError, match="nested"):
        load(tampered)


def test_loading_builds_no_network_whatever_size_the_file_describes(fitted, tmp_path,
                                                                    rewrite_archive,
                                                                    forbid_network_building):
    pipeline, X, _ = fitted
    path = save(pipeline, tmp_path / "model.fer.zip")
    # Built, these would ask for about 8 GB (two dense layers of 45000 units).
    huge = rewrite_archive(path, tmp_path / "huge.fer.zip", description=lambda d: {
        **d, "steps": [d["steps"][0], {**d["steps"][1], "params": {
            **d["steps"][1]["params"], "dense_units": [45000, 45000], "base_filters": 4096}}]})
    forbid_network_building()
    loaded = load(huge)
    assert loaded[-1].dense_units == (45000, 45000)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))


def test_loading_leaves_the_global_random_generators_alone(fitted, tmp_path,
                                                          global_rng_untouched):
    pipeline = fitted[0]
    assert pipeline[-1].random_state == 0  # which the description records
    path = save(pipeline, tmp_path / "model.fer.zip")
    with global_rng_untouched():
        loaded = load(path)
    assert loaded[-1].random_state == 0 and loaded[-1].model is None


N_EMOTIONS = len(EMOTIONS)


def _network_file(folder, input_shape, outputs=N_EMOTIONS, conv_output=False):
    inputs = keras.Input(input_shape)
    if conv_output:  # one softmax per pixel: (None, height, width, outputs)
        result = keras.layers.Conv2D(outputs, 1, activation="softmax")(inputs)
    else:
        result = keras.layers.Dense(outputs, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(inputs))
    path = folder / "network.keras"
    keras.Model(inputs, result).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("input_shape, message", [
    ((None, None, 1), r"input shape \(None, None, None, 1\)"),
    ((2048, 48, 1), r"input shape \(None, 2048, 48, 1\)"),
    ((48, 48, 5), r"input shape \(None, 48, 48, 5\)"),
])
def test_a_network_of_an_unusable_input_shape_is_refused(fitted, tmp_path, input_shape,
                                                         message, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    tampered = rewrite_archive(path, tmp_path / "shape.fer.zip",
                               network=_network_file(tmp_path, input_shape))
    with pytest.raises(SafeFormatError, match=message):
        load(tampered)


def test_a_network_of_another_output_shape_is_refused(fitted, tmp_path, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    tampered = rewrite_archive(path, tmp_path / "outputs.fer.zip",
                               network=_network_file(tmp_path, (48, 48, 1), conv_output=True))
    with pytest.raises(SafeFormatError, match=r"output shape \(None, 48, 48, 7\)"):
        load(tampered)


def test_an_absurd_number_of_classes_is_refused(fitted, tmp_path, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    classes = [f"class{index:04d}" for index in range(1001)]
    tampered = rewrite_archive(
        path, tmp_path / "classes.fer.zip",
        description=lambda d: {**d, "steps": [d["steps"][0], {**d["steps"][1],
                                                              "classes": classes}]},
        network=_network_file(tmp_path, (48, 48, 1), outputs=len(classes)))
    with pytest.raises(SafeFormatError, match=r"output shape \(None, 1001\); .* 2 to 1000 classes"):
        load(tampered)


def _patch_headers(path, name, flag_bits=0, method=None):
    """Set bits of the general-purpose flags (and the compression method) of member ``name``
    in both its local header and its central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local, start_dir = archive.getinfo(name).header_offset, archive.start_dir
    central = data.find(b"PK\x01\x02", start_dir)  # the central directory's first entry
    while data[central + 46:central + 46 + struct.unpack_from("<H", data, central + 28)[0]] \
            != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    for flags_at, method_at in [(local + 6, local + 8), (central + 8, central + 10)]:
        struct.pack_into("<H", data, flags_at, struct.unpack_from("<H", data, flags_at)[0]
                         | flag_bits)
        if method is not None:
            struct.pack_into("<H", data, method_at, method)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("member", [DESCRIPTION_MEMBER, NETWORK_MEMBER])
@pytest.mark.parametrize("patch, message", [
    ({"flag_bits": 0x1}, "is encrypted"),
    ({"method": 99}, "uses compression method 99"),
])
def test_an_encrypted_or_strangely_compressed_member_is_refused(fitted, tmp_path, member,
                                                                patch, message, rewrite_archive):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    tampered = _patch_headers(rewrite_archive(path, tmp_path / "patched.fer.zip"), member,
                              **patch)
    with pytest.raises(SafeFormatError, match=f"{member} {message}"):
        load(tampered)


def test_a_network_member_that_expands_too_much_is_refused(fitted, tmp_path):
    path = save(fitted[0], tmp_path / "model.fer.zip")
    bomb = tmp_path / "bomb.fer.zip"
    with zipfile.ZipFile(path) as source, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr(DESCRIPTION_MEMBER, source.read(DESCRIPTION_MEMBER))
        with target.open(NETWORK_MEMBER, "w") as network:
            for _ in range(8):
                network.write(bytes(1 << 20))  # 8 MiB of zeros in about 8 KB
    with pytest.raises(SafeFormatError, match=r"network\.keras expands \d+ times"):
        load(bomb)


def test_networks_larger_than_the_cap_are_refused(fitted, tmp_path, monkeypatch):
    assert limits.MAX_NETWORK_BYTES <= 256 << 20
    path = save(fitted[0], tmp_path / "model.fer.zip")
    monkeypatch.setattr(limits, "MAX_NETWORK_BYTES", 1000)
    with pytest.raises(SafeFormatError, match=r"the networks expand to \d+ bytes, more than "
                                              r"1000"):
        load(path)


def test_a_zip_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "hello")
    with pytest.raises(SafeFormatError, match=r"has no fer_estimator\.json"):
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
    assert next(iter(load(MODELS_DIR / "fer2013-6class.joblib").classes_)) == "Angry"
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
