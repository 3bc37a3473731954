"""The ONNX path: .fer.zip format version 3 (ONNX networks beside the Keras ones), the runtime
that predicts with them without Keras (load_predictor), and export() of one standalone graph."""

import json
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import onnxruntime
import pytest
from sklearn.pipeline import Pipeline

from fer_estimator import (
    EMOTIONS,
    FacePipeline,
    export,
    load,
    load_predictor,
    make_fer_pipeline,
    save,
    soft_voting_ensemble,
)
from fer_estimator._validation import InvalidParameterError
from fer_estimator.cli import main
from fer_estimator.runtime import OnnxNetworkClassifier, chosen_runtime
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError

# Float32 rounding apart, the two runtimes compute the same network.
MAX_PROBABILITY_DIFFERENCE = 1e-4


@pytest.fixture(scope="module")
def X_test(synthetic_split):
    return synthetic_split[2][:60]


@pytest.fixture(scope="module")
def members(synthetic_split, micro_cnn):
    X_train, y_train, _, _ = synthetic_split
    labels = np.array(EMOTIONS)[y_train]
    return [make_fer_pipeline("standardize", **micro_cnn(random_state=seed, tta=seed == 1))
            .fit(X_train, labels) for seed in (0, 1)]


@pytest.fixture(scope="module")
def saved(members, tmp_path_factory):
    """A single model (its classifier with tta=False) in format version 3."""
    return save(members[0], tmp_path_factory.mktemp("onnx") / "model.fer.zip")


@pytest.fixture(scope="module")
def saved_ensemble(members, tmp_path_factory):
    ensemble = soft_voting_ensemble(members, names=["plain", "mirrored"])
    return save(ensemble, tmp_path_factory.mktemp("onnx") / "ensemble.fer.zip")


@pytest.fixture(scope="module")
def saved_without_onnx(members, tmp_path_factory):
    return save(members[0], tmp_path_factory.mktemp("onnx") / "v1.fer.zip", onnx=False)


def _description(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(DESCRIPTION_MEMBER)), archive.namelist()


def _assert_same_predictions(onnx_model, keras_model, X):
    np.testing.assert_allclose(onnx_model.predict_proba(X), keras_model.predict_proba(X),
                               atol=MAX_PROBABILITY_DIFFERENCE, rtol=0)
    np.testing.assert_array_equal(onnx_model.predict(X), keras_model.predict(X))
    np.testing.assert_array_equal(onnx_model.classes_, keras_model.classes_)


def test_version_3_stores_an_onnx_network_beside_the_keras_one(saved, saved_without_onnx):
    description, names = _description(saved)
    assert description["format_version"] == 3
    assert sorted(names) == sorted([DESCRIPTION_MEMBER, NETWORK_MEMBER, "network.onnx"])
    description, names = _description(saved_without_onnx)
    assert description["format_version"] == 1
    assert "network.onnx" not in names


def test_the_onnx_runtime_predicts_as_the_keras_path(saved, members, X_test):
    model = load_predictor(saved, runtime="onnx")
    assert isinstance(model, Pipeline) and isinstance(model[-1], OnnxNetworkClassifier)
    _assert_same_predictions(model, load(saved), X_test)
    _assert_same_predictions(model, members[0], X_test)


def test_an_ensemble_runs_each_member_with_its_own_tta(saved_ensemble, members, X_test):
    model = load_predictor(saved_ensemble, runtime="onnx")
    assert [classifier.tta for classifier in model[-1].estimators_] == [False, True]
    _assert_same_predictions(model, load(saved_ensemble), X_test)
    # The mirrored member's test-time augmentation is not a no-op on these faces.
    plain = OnnxNetworkClassifier.from_step_table(
        {"class": "FERClassifier", "params": {"tta": False},
         "classes": list(members[1].classes_)},
        model[-1].estimators_[1].model_, "test")
    assert not np.allclose(plain.predict_proba(model[:-1].transform(X_test)),
                           model[-1].estimators_[1].predict_proba(model[:-1].transform(X_test)))


def test_auto_picks_onnx_for_version_3_files_only(saved, saved_without_onnx, monkeypatch):
    assert chosen_runtime(saved) == "onnx"
    assert chosen_runtime(saved_without_onnx) == "keras"
    assert chosen_runtime(saved, "keras") == "keras"
    assert not isinstance(load_predictor(saved_without_onnx)[-1], OnnxNetworkClassifier)
    monkeypatch.setattr("fer_estimator.runtime.onnxruntime_installed", lambda: False)
    assert chosen_runtime(saved) == "keras"


def test_onnx_runtime_refuses_a_file_without_onnx_networks_saying_how_to_add_them(
        saved_without_onnx):
    with pytest.raises(SafeFormatError, match=r"holds no ONNX networks \(format version 1\).*"
                                              r"fer-estimator export"):
        load_predictor(saved_without_onnx, runtime="onnx")


def test_onnx_runtime_refuses_a_pickle_and_an_unknown_runtime(tmp_path, saved):
    joblib_file = tmp_path / "model.joblib"
    joblib_file.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(SafeFormatError, match=r"reads \.fer\.zip files only"):
        load_predictor(joblib_file, runtime="onnx")
    with pytest.raises(InvalidParameterError, match="'runtime' parameter"):
        load_predictor(saved, runtime="tensorrt")


def test_a_tampered_onnx_member_is_refused_naming_it(saved, tmp_path, rewrite_archive):
    broken = rewrite_archive(saved, tmp_path / "broken.fer.zip",
                             members=lambda files: {**files, "network.onnx": b"not a graph"})
    with pytest.raises(SafeFormatError, match=r"network\.onnx is not an ONNX graph"):
        load_predictor(broken, runtime="onnx")
    extra = rewrite_archive(saved, tmp_path / "extra.fer.zip",
                            members=lambda files: {**files, "notes.txt": b"hi"})
    with pytest.raises(SafeFormatError, match=r"notes\.txt"):
        load_predictor(extra, runtime="onnx")


def test_onnx_classes_must_match_the_network_outputs(saved, tmp_path, rewrite_archive):
    def two_classes(description):
        description["steps"][-1]["classes"] = ["a", "b"]
        return description

    edited = rewrite_archive(saved, tmp_path / "classes.fer.zip", description=two_classes)
    with pytest.raises(SafeFormatError, match="7 outputs for 2 classes"):
        load_predictor(edited, runtime="onnx")


def test_the_onnx_model_pickles_for_dask_workers_and_refuses_fitting(saved, X_test):
    model = load_predictor(saved, runtime="onnx")
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X_test), model.predict_proba(X_test))
    with pytest.raises(TypeError, match="cannot be fitted"):
        model.fit(X_test, np.zeros(len(X_test)))


def test_predicting_with_onnx_never_imports_keras(saved):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from fer_estimator import FacePipeline, load_predictor
        model = load_predictor({str(saved)!r})
        print(model.predict(np.zeros((2, 48, 48), dtype=np.uint8)))
        FacePipeline({str(saved)!r}).warm_up()
        # (pandas is left out: scikit-learn imports it whenever it is installed.)
        heavy = [name for name in ("keras", "tensorflow", "scikeras", "optuna", "sqlalchemy",
                                   "matplotlib", "h5py", "tf2onnx", "onnx") if name in sys.modules]
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_face_pipeline_runs_the_file_on_the_runtime_asked(saved):
    assert isinstance(FacePipeline(saved)._fitted_estimator()[-1], OnnxNetworkClassifier)
    keras_path = FacePipeline(saved, runtime="keras")._fitted_estimator()
    assert not isinstance(keras_path[-1], OnnxNetworkClassifier)
    with pytest.raises(InvalidParameterError, match="'runtime' parameter of FacePipeline"):
        FacePipeline(saved, runtime="fast").warm_up()


def test_standalone_onnx_graph_computes_predict_proba_from_grey_pixels(members, tmp_path,
                                                                      X_test):
    path = export(members[1], tmp_path / "model.onnx")  # tta=True: the mirror is in the graph
    session = onnxruntime.InferenceSession(path.read_bytes())
    assert [node.name for node in session.get_inputs()] == ["pixels"]
    assert [node.name for node in session.get_outputs()] == ["probabilities"]
    classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    assert classes == list(members[1].classes_)
    pixels = X_test[..., np.newaxis].astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"pixels": pixels})[0],
                               members[1].predict_proba(X_test),
                               atol=MAX_PROBABILITY_DIFFERENCE, rtol=0)


def test_standalone_onnx_graph_of_an_ensemble_averages_its_members(members, tmp_path, X_test):
    ensemble = soft_voting_ensemble(members)
    path = export(ensemble, tmp_path / "ensemble.onnx")
    session = onnxruntime.InferenceSession(path.read_bytes())
    pixels = X_test[..., np.newaxis].astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"pixels": pixels})[0],
                               ensemble.predict_proba(X_test),
                               atol=MAX_PROBABILITY_DIFFERENCE, rtol=0)


def test_export_tells_the_format_from_the_suffix_and_refuses_an_unknown_one(members, tmp_path):
    assert _description(export(members[0], tmp_path / "m.fer.zip"))[0]["format_version"] == 3
    with pytest.raises(ValueError, match=r"cannot tell the format of .*model\.bin"):
        export(members[0], tmp_path / "model.bin")
    with pytest.raises(ValueError, match="format must be one of"):
        export(members[0], tmp_path / "model.bin", format="tflite")
    assert not list(tmp_path.glob("model.bin*"))


def test_export_command_upgrades_an_old_file_for_the_onnx_runtime(saved_without_onnx, tmp_path,
                                                                  X_test, capsys):
    upgraded = tmp_path / "upgraded.fer.zip"
    assert main(["export", str(saved_without_onnx), str(upgraded)]) == 0
    assert f"saved {upgraded}" in capsys.readouterr().out
    _assert_same_predictions(load_predictor(upgraded, runtime="onnx"), load(saved_without_onnx),
                             X_test)
    assert main(["export", str(saved_without_onnx), str(tmp_path / "model.bin")]) == 2
    assert "give it a .onnx or .fer.zip suffix, or say --format 'onnx' or --format 'fer.zip'" \
        in capsys.readouterr().err


def test_predict_command_reports_a_file_without_onnx_on_the_onnx_runtime(saved_without_onnx,
                                                                         capsys):
    assert main(["predict", "--demo", "--model", str(saved_without_onnx),
                 "--runtime", "onnx"]) == 2
    assert "holds no ONNX networks" in capsys.readouterr().err


@pytest.fixture(scope="module")
def saved_with_int8(members, synthetic_split, tmp_path_factory):
    return save(members[0], tmp_path_factory.mktemp("onnx") / "int8.fer.zip",
                int8_calibration=synthetic_split[0][:150])


def test_int8_copies_sit_beside_the_float32_graphs_and_predict_close(saved_with_int8, saved,
                                                                     X_test):
    description, names = _description(saved_with_int8)
    assert description["onnx_int8"] is True
    assert "network.int8.onnx" in names and "network.onnx" in names
    int8 = load_predictor(saved_with_int8, runtime="onnx-int8")
    float32 = load_predictor(saved_with_int8, runtime="onnx")
    assert np.abs(int8.predict_proba(X_test) - float32.predict_proba(X_test)).max() < 0.1
    assert (int8.predict(X_test) == float32.predict(X_test)).mean() >= 0.9
    # The Keras path and the float32 graph ignore the int8 copies.
    _assert_same_predictions(float32, load(saved_with_int8), X_test)
    with pytest.raises(SafeFormatError, match="holds no int8 networks"):
        load_predictor(saved, runtime="onnx-int8")


def test_int8_calibration_needs_onnx_and_a_fer_zip(members, synthetic_split, tmp_path):
    faces = synthetic_split[0][:20]
    with pytest.raises(ValueError, match="int8_calibration needs onnx=True"):
        save(members[0], tmp_path / "m.fer.zip", onnx=False, int8_calibration=faces)
    with pytest.raises(ValueError, match="standalone ONNX graph is float32"):
        export(members[0], tmp_path / "m.onnx", int8_calibration=faces)
    assert not list(tmp_path.iterdir())


def test_export_command_calibrates_int8_networks_on_training_rows(saved_without_onnx, fer_csv,
                                                                  tmp_path):
    upgraded = tmp_path / "int8.fer.zip"
    assert main(["export", str(saved_without_onnx), str(upgraded), "--int8-calibration",
                 str(fer_csv), "--calibration-rows", "50"]) == 0
    assert _description(upgraded)[0]["onnx_int8"] is True
    assert main(["predict", "--demo", "--model", str(upgraded), "--runtime", "onnx-int8"]) == 0


def test_the_command_line_offers_every_runtime():
    from fer_estimator.cli import build_parser
    from fer_estimator.runtime import RUNTIMES

    predict = build_parser()._subparsers._group_actions[0].choices["predict"]
    [runtime] = [action for action in predict._actions if action.dest == "runtime"]
    assert tuple(runtime.choices) == RUNTIMES


def test_an_old_file_on_the_inference_install_says_what_to_install_or_do(saved_without_onnx,
                                                                         monkeypatch):
    import importlib.util

    from fer_estimator._extras import MissingInstallError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "keras" else find_spec(name, *args))
    with pytest.raises(MissingInstallError, match=r"holds no ONNX networks .* training install: "
                                                  r"pip install .*fer-estimator export"):
        load_predictor(saved_without_onnx)


def _graph_with(node, initializers=()):
    """A one-node ONNX model taking and giving (None, 7) floats."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [node], "attack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 7])], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]).SerializeToString()


def _external_weight_graph():
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[7],
                         data_location=TensorProto.EXTERNAL)
    weight.external_data.add(key="location", value="secret.bin")
    return _graph_with(helper.make_node("Add", ["x", "w"], ["y"]), [weight])


def _operator_graph(op_type, domain=""):
    from onnx import helper

    return _graph_with(helper.make_node(op_type, ["x"], ["y"], domain=domain))


def _subgraph_graph():
    from onnx import TensorProto, helper

    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "branch", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    return _graph_with(helper.make_node("Identity", ["x"], ["y"], body=branch))


@pytest.mark.parametrize("graph, message", [
    (_external_weight_graph, "keeps a tensor outside the graph"),
    (lambda: _operator_graph("ConstantOfShape"), "operator 'ConstantOfShape'"),
    (lambda: _operator_graph("Relu", domain="com.evil"), "domain 'com.evil'"),
    (_subgraph_graph, "holding a subgraph"),
])
def test_a_graph_that_could_read_files_or_allocate_without_bound_is_refused(
        saved, tmp_path, rewrite_archive, graph, message, monkeypatch):
    (tmp_path / "secret.bin").write_bytes(bytes(range(28)))
    monkeypatch.chdir(tmp_path)  # where onnxruntime would look for the external file
    content = graph()
    attack = rewrite_archive(saved, tmp_path / "attack.fer.zip",
                             members=lambda files: {**files, "network.onnx": content})
    with pytest.raises(SafeFormatError, match=message):
        load_predictor(attack, runtime="onnx")


def test_a_model_whose_export_fails_is_still_saved_without_onnx(members, tmp_path, X_test,
                                                                monkeypatch):
    from fer_estimator.training import save_model

    def refuse(network):
        raise RuntimeError("tf2onnx: no handler for this layer")

    monkeypatch.setattr("fer_estimator.safe_format.model_file.onnx_bytes", refuse)
    messages = []
    path = save_model(members[0], tmp_path / "trained.fer.zip", log=messages.append)
    assert _description(path)[0]["format_version"] == 1
    [message] = messages
    assert "without ONNX networks" in message and "no handler for this layer" in message
    np.testing.assert_array_equal(load(path).predict(X_test), members[0].predict(X_test))


def test_a_bare_classifier_exports_its_network_with_integer_classes(synthetic_split, micro_cnn,
                                                                    tmp_path):
    from fer_estimator import FERClassifier, PixelTransformer

    X_train, y_train, X_test, _ = synthetic_split
    images = PixelTransformer().fit_transform(X_train)
    classifier = FERClassifier(**micro_cnn()).fit(images, y_train)  # classes 0-6
    session = onnxruntime.InferenceSession(export(classifier, tmp_path / "bare.onnx").read_bytes())
    assert [node.name for node in session.get_inputs()] == ["image"]
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == list(range(7))
    test_images = PixelTransformer().fit(X_train).transform(X_test[:20])
    np.testing.assert_allclose(session.run(None, {"image": test_images})[0],
                               classifier.predict_proba(test_images),
                               atol=MAX_PROBABILITY_DIFFERENCE, rtol=0)


def test_onnx_graphs_larger_than_the_format_allows_are_refused_unread(saved, monkeypatch):
    from fer_estimator.safe_format import limits

    with zipfile.ZipFile(saved) as archive:
        size = archive.getinfo("network.onnx").file_size
    monkeypatch.setattr(limits, "MAX_NETWORK_BYTES", size - 1)
    with pytest.raises(SafeFormatError, match=f"the ONNX networks expand to {size} bytes"):
        load_predictor(saved, runtime="onnx")
