"""Model files bounded before they are parsed, their values checked at load, and errors that
say what a file is (issues #18 and #20): every refusal names the file and what is wrong."""

import io
import json
import math
import os
import time
import tracemalloc
import zipfile

import cv2
import keras
import numpy as np
import pytest

from fer_estimator import EMOTIONS, load, make_fer_pipeline, save
from fer_estimator.presets import MICRO
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError, limits


@pytest.fixture(scope="module")
def model_file(synthetic_split, tmp_path_factory):
    X_train, y_train, _, _ = synthetic_split
    pipeline = make_fer_pipeline("standardize", **{**MICRO, "epochs": 1, "random_state": 0})
    pipeline.fit(X_train[:100], np.array(EMOTIONS)[y_train[:100]])
    return save(pipeline, tmp_path_factory.mktemp("bounds") / "model.fer.zip")


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_network(model_file, target, edit, compression=zipfile.ZIP_DEFLATED):
    """A copy of ``model_file`` whose network archive's members are ``edit(members)``."""
    members = _members(model_file)
    network = io.BytesIO()
    _write(network, edit(_members(io.BytesIO(members[NETWORK_MEMBER]))), compression)
    return _write(target, {**members, NETWORK_MEMBER: network.getvalue()})


def _with_config(model_file, target, edit):
    return _with_network(model_file, target, lambda members: {
        **members, "config.json": json.dumps(edit(json.loads(members["config.json"])))})


@pytest.fixture
def keras_never_loads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Keras was asked to load the network")

    monkeypatch.setattr(keras.saving, "load_model", refuse)


# Bounded before parsed.

@pytest.mark.parametrize("compression, message", [
    # Deflated, the spaces expand thousands of times (the 1 GiB config of issue #20, smaller).
    (zipfile.ZIP_DEFLATED, r"network\.keras: config\.json expands \d+ times"),
    (zipfile.ZIP_STORED, r"network\.keras: config\.json expands to \d+ bytes, more than the "
                         r"4194304"),
])
def test_an_oversize_keras_config_is_refused_quickly_without_reading_it(
        model_file, tmp_path, keras_never_loads, compression, message):
    size = 3 * limits.MAX_KERAS_CONFIG_BYTES
    bomb = _with_network(model_file, tmp_path / "bomb.fer.zip",
                         lambda members: {**members, "config.json": b" " * size}, compression)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SafeFormatError, match=message) as refused:
            load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(bomb) in str(refused.value)
    assert time.perf_counter() - started < 5
    assert peak < size // 2  # the config was never read


def test_the_size_limits_are_the_documented_ones():
    assert (limits.MAX_KERAS_CONFIG_BYTES, limits.MAX_LAYERS, limits.MAX_PARAMETERS) == (
        4 << 20, 1000, 64_000_000)
    assert limits.MAX_PARAMETERS * 4 <= limits.MAX_NETWORK_BYTES


def _huge_dense(config):
    layers = config["config"]["layers"]
    dense = next(layer for layer in layers if layer["class_name"] == "Dense")
    dense["config"]["units"] = 10 ** 9
    return config


def _many_layers(config):
    layers = config["config"]["layers"]
    activation = next(layer for layer in layers if layer["class_name"] == "Activation")
    layers.extend([activation] * limits.MAX_LAYERS)
    return config


def _unknown_layer(config):
    config["config"]["layers"][-1]["class_name"] = "LSTM"
    return config


def _negative_filters(config):
    conv = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")
    conv["config"]["filters"] = -3
    return config


@pytest.mark.parametrize("edit, message", [
    (_huge_dense, r"config\.json declares \d{10,} weights, more than 64000000"),
    (_many_layers, r"config\.json declares \d+ layers, more than 1000"),
    (_unknown_layer, r"config\.json has a layer of class 'LSTM', whose weights the safe format "
                     r"cannot count"),
    (_negative_filters, r"config\.json, layer '\w+' \(Conv2D\): 'filters' must be a "
                        r"non-negative integer; it is -3"),
    (lambda config: {"class_name": "Functional", "config": {}}, "lists no layers"),
    (lambda config: [config], "is not a Keras model's config"),
])
def test_what_a_keras_config_declares_is_bounded_before_keras_builds_it(
        model_file, tmp_path, keras_never_loads, edit, message):
    tampered = _with_config(model_file, tmp_path / "declared.fer.zip", edit)
    with pytest.raises(SafeFormatError, match=message) as refused:
        load(tampered)
    assert f"{tampered}: the network {NETWORK_MEMBER}" in str(refused.value)


def test_a_keras_archive_with_other_members_or_none_is_refused(model_file, tmp_path,
                                                                keras_never_loads):
    extra = _with_network(model_file, tmp_path / "extra.fer.zip",
                          lambda members: {**members, "payload.py": b"print(1)"})
    with pytest.raises(SafeFormatError, match=r"holds \['payload\.py'\]"):
        load(extra)
    missing = _with_network(model_file, tmp_path / "missing.fer.zip",
                            lambda members: {"metadata.json": members["metadata.json"]})
    with pytest.raises(SafeFormatError, match=r"network\.keras has no config\.json"):
        load(missing)
    not_zip = _write(tmp_path / "notzip.fer.zip", {**_members(model_file),
                                                   NETWORK_MEMBER: b"not a zip"})
    with pytest.raises(SafeFormatError, match=r"network\.keras is not a readable Keras archive"):
        load(not_zip)


def test_weights_that_expand_inside_the_hdf5_file_are_refused(model_file, tmp_path,
                                                              keras_never_loads):
    import h5py

    weights = tmp_path / "weights.h5"
    with h5py.File(weights, "w") as file:  # 280 MB declared, never written: a few KB
        file.create_dataset("layers/dense/vars/0", shape=(70_000_000,), dtype="float32",
                            chunks=(1 << 20,), compression="gzip")
    assert weights.stat().st_size < 100_000
    bomb = _with_network(model_file, tmp_path / "h5bomb.fer.zip", lambda members: {
        **members, "model.weights.h5": weights.read_bytes()})
    with pytest.raises(SafeFormatError, match=r"h5bomb\.fer\.zip: the network network\.keras: "
                                              r"model\.weights\.h5 declares 280000000 bytes"):
        load(bomb)


def test_the_declared_weights_are_those_keras_builds(model_file):
    from fer_estimator.safe_format.networks import check_keras_archive

    network = io.BytesIO(_members(model_file)[NETWORK_MEMBER])
    assert check_keras_archive(network, "network") == load(model_file)[-1].model_.count_params()


# Values validated at load.

def _edit_step(index, key, edit):
    def description(d):
        steps = [dict(step) for step in d["steps"]]
        steps[index][key] = edit(steps[index][key])
        return {**d, "steps": steps}
    return description


@pytest.mark.parametrize("edit, message", [
    (_edit_step(0, "params", lambda p: {**p, "image_size": 100000}),
     r"step 0 \(PixelTransformer\): The 'image_size' parameter of PixelTransformer must be an "
     r"int in the range \[1, 1024\]. Got 100000"),
    (_edit_step(0, "params", lambda p: {**p, "image_size": 96}),
     r"step 0 \(PixelTransformer\): 'image_size' is 96: the transformer makes 96 "
     r"pixels a side images of 1 channel, the network takes 48x48"),
    (_edit_step(0, "params", lambda p: {**p, "image_size": "48"}),
     r"The 'image_size' parameter of PixelTransformer must be an int .* Got '48'"),
    (_edit_step(0, "params", lambda p: {**p, "normalization": "bogus"}),
     "The 'normalization' parameter of PixelTransformer must be a str among"),
    (_edit_step(0, "params", lambda p: {**p, "input_scale": 7}),
     "The 'input_scale' parameter of PixelTransformer"),
    (_edit_step(0, "fitted", lambda f: {**f, "scale_": 0}),
     r"'fitted\.scale_' must be a finite number above 0 for normalization 'standardize'; it "
     r"is 0"),
    (_edit_step(0, "fitted", lambda f: {**f, "mean_": math.nan}),
     r"'fitted\.mean_' must be a finite number for normalization 'standardize'; it is nan"),
    (_edit_step(0, "fitted", lambda f: {**f, "scale_": math.inf}), r"'fitted\.scale_' must be"),
    (_edit_step(0, "fitted", lambda f: {**f, "mean_": "0.5"}), r"'fitted\.mean_' must be"),
    (_edit_step(0, "fitted", lambda f: {"mean_": f["mean_"]}),
     "'fitted' must be a table of 'mean_' and 'scale_'"),
    (_edit_step(0, "params", lambda p: {**p, "normalization": "scale"}),
     r"'fitted\.mean_' must be null for normalization 'scale'"),
    (_edit_step(1, "params", lambda p: {**p, "dropout": 7.0}),
     r"step 1 \(FERClassifier\): The 'dropout' parameter of FERClassifier"),
    (_edit_step(1, "classes", lambda c: [*c[:-1], math.nan]), "'classes' must be a list of "
                                                              "names or finite codes"),
    (_edit_step(1, "classes", lambda c: c[::-1]), "are not in sorted order"),
    (_edit_step(1, "fitted", lambda f: {"history_": {"loss": ["x"]}}),
     r"'fitted\.history_' must be a table of lists of numbers"),
])
def test_values_out_of_range_are_refused_at_load_naming_the_file_and_field(
        model_file, tmp_path, edit, message):
    members = _members(model_file)
    description = json.loads(members[DESCRIPTION_MEMBER])
    tampered = _write(tmp_path / "values.fer.zip", {
        **members, DESCRIPTION_MEMBER: json.dumps(edit(description))})
    with pytest.raises(SafeFormatError, match=message) as refused:
        load(tampered)
    assert str(refused.value).startswith(f"{tampered}: step ")


# Errors that say what is true.

def _jpeg():
    return cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def _png():
    return cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


@pytest.mark.parametrize("content, message", [
    (b"", r"is empty \(0 bytes\), not a model file"),
    (_jpeg(), "is a JPEG image, not a model file"),
    (_png(), "is a PNG image, not a model file"),
    (b"emotion,pixels,Usage\n0,1 2 3,Training\n", r"is not a model file: it starts with "
                                                   r"b'emotion,pixels,U', neither"),
])
def test_files_that_are_no_model_are_named_by_what_they_are(tmp_path, content, message):
    path = tmp_path / "model.fer.zip"
    path.write_bytes(content)
    with pytest.raises(SafeFormatError, match=message) as refused:
        load(path)
    assert "pickle (joblib) file" not in str(refused.value)


def test_a_huge_file_of_nul_bytes_gets_a_short_message(tmp_path):
    path = tmp_path / "zeros.bin"
    with open(path, "wb") as file:
        file.truncate(64 << 20)  # sparse: 64 MiB of NUL bytes
    with pytest.raises(SafeFormatError, match=r"zeros\.bin is not a model file") as refused:
        load(path)
    assert len(str(refused.value)) < 300


def test_a_folder_a_fifo_and_a_device_are_refused_without_reading(tmp_path):
    with pytest.raises(SafeFormatError, match=r"is a folder, not a model file"):
        load(tmp_path)
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    with pytest.raises(SafeFormatError, match=r"model\.fifo is not a regular file \(it is a "
                                              r"FIFO\)"):
        load(fifo)
    with pytest.raises(SafeFormatError, match=r"/dev/zero is not a regular file \(it is a "
                                              r"character device\)"):
        load("/dev/zero")
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load(tmp_path / "missing.fer.zip")
