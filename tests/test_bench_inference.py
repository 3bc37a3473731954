"""scripts/bench_inference.py: the Keras path against the ONNX runtime, on synthetic data."""

import re

import numpy as np
import pytest

from fer_estimator import (
    EMOTIONS,
    load_predictor,
    make_fer_pipeline,
    save,
    soft_voting_ensemble,
)


@pytest.fixture(scope="module")
def bench(load_script):
    """scripts/bench_inference.py, imported once for this module."""
    return load_script("bench_inference")


@pytest.fixture(scope="module")
def model_files(synthetic_split, micro_cnn, tmp_path_factory):
    """A single model and a two-member ensemble of micro networks, saved with ONNX networks."""
    # Timing only: untrained networks would do, one epoch on a few faces fits them fast.
    X_train, y_train = synthetic_split[0][:140], synthetic_split[1][:140]
    labels = np.array(EMOTIONS)[y_train]
    members = [make_fer_pipeline(**micro_cnn(random_state=seed, epochs=1)).fit(X_train, labels)
               for seed in (0, 1)]
    folder = tmp_path_factory.mktemp("models")
    return (save(members[0], folder / "single.fer.zip"),
            save(soft_voting_ensemble(members), folder / "ensemble.fer.zip"))


def test_quick_run_times_every_path_and_compares_them_with_keras(bench, model_files, fer_csv,
                                                                  tmp_path, capsys):
    single, ensemble = model_files
    bench.main(["--quick", "--rows", "16", "--repeats", "0", "--skip-install-size",
                "--data", str(fer_csv), "--model", str(single), "--ensemble", str(ensemble),
                "--work-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "16 PublicTest rows" in out and "2 interleaved rounds" in out
    # The same model on both paths: the same labels, probabilities equal to float32 rounding.
    for name in ("default model, onnx", "ensemble, onnx (members apart)"):
        line = re.search(rf"^{re.escape(name)} +\d+ +([\d.]+)× +100\.00% +(\S+)", out,
                         re.MULTILINE)
        assert line, name
        assert float(line.group(2)) < 1e-4
    assert (tmp_path / "single.fer.zip").is_file() is False  # it has ONNX networks: no copy
    assert "int8: no --int8 model given, and --model holds no int8 networks" in out
    assert re.search(r"default model, onnx, faces/s +[\d,]+ +≥ 1,500", out)


def test_the_ensemble_as_one_graph_predicts_as_its_keras_path(bench, model_files, tmp_path):
    graph = bench.standalone_graph(model_files[1], tmp_path)
    assert graph is not None, "the ensemble was not exported as one graph"
    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    expected = load_predictor(model_files[1], runtime="keras").predict_proba(faces)
    same, largest = bench.compare(bench.graph_predict_proba(graph)(faces), expected)
    assert same == 1.0 and largest < 1e-4


def test_a_fresh_process_predicts_on_the_onnx_runtime_without_keras(bench, model_files):
    [run] = bench.first_prediction(model_files[0], "onnx", repeats=1)
    assert run["keras"] is False
    assert run["wall"] > run["import"] + run["load"] + run["predict"] > 0
    table = bench.format_fresh_processes({"onnx": [run]})
    assert re.search(r"^runtime onnx +[\d.]+ +[\d.]+ .* no$", table, re.MULTILINE)


def test_install_size_counts_the_closure_of_each_set(bench, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\ndependencies = ["numpy"]\n'
                         '[project.optional-dependencies]\ntrain = ["demo[extra]"]\n'
                         'extra = ["joblib", "surely-not-installed-dist"]\n')
    sets = bench.install_sizes(pyproject)
    inference, _ = sets["inference (base)"]
    full, missing = sets["full ([train])"]
    # joblib's own requirements come along, not those of its extras (pytest is a "test" one).
    assert set(inference) == {"numpy"} and {"numpy", "joblib"} <= set(full)
    assert "pytest" not in full
    assert inference["numpy"] > 1e6 and missing == {"surely-not-installed-dist"}
    text = bench.format_install_sizes(sets)
    assert "largest: numpy" in text and "not counted: surely-not-installed-dist" in text
