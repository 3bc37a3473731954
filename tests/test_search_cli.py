"""``fer-search`` (fer_estimator.cli.search_main, the same as ``fer-estimator search``): a whole
run on synthetic faces, and bad options."""

import json
import os

import pytest

from fer_estimator import load
from fer_estimator.cli import main as fer_estimator_main
from fer_estimator.cli import search_main as main


@pytest.fixture
def short_run(tmp_path, micro_search_options):
    """Options of a run that ends in seconds should a check below it let it start."""
    return ["--synthetic", "--max-rows", "140", "--n-trials", "1", "--cv", "2", "--pruner",
            "none", "--no-refit", "--quiet", "--storage", f"sqlite:///{tmp_path / 'studies.db'}",
            *micro_search_options]


def test_run_saves_model_report_and_plots(tmp_path, capsys, micro_search_options):
    status = main(["--synthetic", "--max-rows", "140", "--n-trials", "2", "--cv", "2",
                   "--pruner", "none", "--study-name", "cli",
                   "--storage", f"sqlite:///{tmp_path / 'studies.db'}",
                   "--models-dir", str(tmp_path / "models"),
                   "--space", '{"dropout": {"low": 0.0, "high": 0.5}, "depth": [1]}',
                   *micro_search_options])
    out = capsys.readouterr().out
    assert status == 0, out

    report = json.loads((tmp_path / "models" / "cli.json").read_text())
    assert report["study_name"] == "cli"
    assert report["trial_counts"] == {"COMPLETE": 2}
    assert set(report["best_params"]) == {"dropout", "depth"}
    assert 0.0 <= report["cv_score"] <= 1.0 and 0.0 <= report["test_accuracy"] <= 1.0
    assert report["train_rows"] == 140
    assert 0 < report["trials_time_s"] < report["wall_time_s"]
    assert report["backend"] and report["devices"]

    model = load(tmp_path / "models" / "cli.fer.zip")
    assert model.get_params()["cnn__dropout"] == report["best_params"]["dropout"]
    assert len(model.predict(_faces(3))) == 3
    for name in ("cli-history.png", "cli-importances.png"):
        assert (tmp_path / "models" / name).read_bytes()[:4] == b"\x89PNG"
    assert "[2/2] trial" in out and "best CV score" in out


def _faces(n):
    from fer_estimator.synthetic import make_synthetic_faces
    return make_synthetic_faces(n, random_state=0)[0]


def test_bad_space_exits_with_a_message_before_training(tmp_path, capsys):
    status = main(["--synthetic", "--storage", f"sqlite:///{tmp_path / 'studies.db'}",
                   "--space", '{"droput": {"low": 0.0, "high": 0.5}}'])
    assert status == 2
    assert "unknown parameter name(s) ['droput']" in capsys.readouterr().err
    assert not (tmp_path / "studies.db").exists()


def test_a_bad_param_value_fails_before_the_study_is_created(tmp_path, capsys, short_run):
    # A typo in a value (not a name) once created the study, recorded its settings and failed
    # its first trial: the corrected rerun was then refused as "other settings".
    status = main([*short_run, "--param", "class_weight=balance"])
    err = capsys.readouterr().err
    assert status == 2
    assert "'class_weight' parameter of FERClassifier" in err and "'balance'" in err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("option", ["--tune-base-filters", "--tune-batch-size"])
def test_tune_options_are_refused_with_a_space_of_ones_own(tmp_path, capsys, option, short_run):
    status = main([*short_run, "--space", '{"dropout": [0.1]}', option])
    err = capsys.readouterr().err
    assert status == 2
    assert option in err and "--space" in err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("option, value", [
    ("--n-trials", "0"), ("--cv", "1"), ("--heartbeat-interval", "0"), ("--max-retry", "-1")])
def test_bad_numbers_are_usage_errors_naming_the_option(tmp_path, capsys, option, value, short_run):
    with pytest.raises(SystemExit) as exit_:
        fer_estimator_main(["search", *short_run, option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "cannot open" not in err
    assert not (tmp_path / "studies.db").exists()


def test_a_depth_the_images_cannot_take_is_refused_before_the_study(tmp_path, capsys, short_run):
    # depth=9 halves 48 px nine times: it once failed inside the first trial, with Optuna's
    # traceback and a FAIL trial left in the study.
    status = main([*short_run, "--space", '{"depth": [9]}'])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "search space entry 'depth' allows 9" in err and "(48, 48, 1)" in err
    assert "between 1 and 5" in err and "Traceback" not in err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("kind", ["device", "fifo", "too large", "missing"])
def test_a_space_file_is_read_bounded_and_named_by_its_kind(tmp_path, capsys, kind, short_run):
    path = tmp_path / "space.json"
    if kind == "device":
        path, expected = "/dev/zero", "is not a regular file (a character device)"
    elif kind == "fifo":
        os.mkfifo(path)  # opening it would block until a writer comes
        expected = "is not a regular file (a FIFO"
    elif kind == "too large":
        path.write_text('{"dropout": [0.1]}' + " " * 2**20)
        expected = "is larger than 1,048,576 bytes"
    else:
        expected = "--space file not found"
    status = main([*short_run, "--space", f"@{path}"])
    err = capsys.readouterr().err
    assert status == 2 and expected in err, err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_bad_timeout_is_refused_as_such(tmp_path, capsys, value, short_run):
    with pytest.raises(SystemExit) as exit_:
        fer_estimator_main(["search", *short_run, "--timeout", value])
    assert exit_.value.code == 2
    assert "argument --timeout: must be a positive, finite number" in capsys.readouterr().err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("layout", ["models dir is a file", "report is a folder",
                                    "model is the data"])
def test_search_outputs_are_checked_before_the_study(tmp_path, capsys, layout, short_run):
    models = tmp_path / "models"
    data = tmp_path / "fer.csv"
    data.write_text("emotion,pixels,Usage\n")
    if layout == "models dir is a file":
        models.write_text("not a folder")
        expected = "--models-dir"
    elif layout == "report is a folder":
        (models / "cli.json").mkdir(parents=True)
        expected = "the report"
    else:
        models.mkdir()
        data = models / "cli.fer.zip"
        data.write_text("emotion,pixels,Usage\n")
        expected = "is the input --data"
    run = [arg for arg in short_run if arg not in ("--no-refit", "--synthetic")]
    status = main([*run, "--data", str(data), "--study-name", "cli", "--models-dir",
                   str(models)])
    err = capsys.readouterr().err
    assert status == 2 and expected in err, err
    assert not (tmp_path / "studies.db").exists()
