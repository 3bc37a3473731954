"""The ``fer-estimator`` command line."""

import argparse
import dataclasses
import json
import os
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

from fer_estimator.cli import build_parser, main
from fer_estimator.cli_options import name_value


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7))), path)
    return path


@pytest.fixture
def photos(tmp_path):
    """A folder with two photos of the astronaut, a broken image and a text file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    astronaut = data.astronaut()[:, :, ::-1]
    cv2.imwrite(str(folder / "a.jpg"), astronaut)
    cv2.imwrite(str(folder / "b.png"), astronaut[::2, ::2])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not an input")
    return folder


def test_predict_on_a_folder_skips_the_bad_file_and_saves_everything(
        model, photos, tmp_path, capsys):
    out, json_path, csv_path = tmp_path / "annotated", tmp_path / "r.json", tmp_path / "r.csv"
    status = main(["predict", str(photos), "--model", str(model), "--trust-model",
                   "--out", str(out), "--json", str(json_path), "--csv", str(csv_path)])
    captured = capsys.readouterr()
    assert status == 1  # done, but one input was skipped
    assert f"skipped {photos / 'broken.jpg'}: not a readable image" in captured.err
    assert "notes.txt" not in captured.err + captured.out  # folders give only images and videos
    assert "a.jpg: 1 face: " in captured.out and "b.png: 1 face: " in captured.out
    assert sorted(path.name for path in out.iterdir()) == ["a.jpg", "b.png"]
    assert cv2.imread(str(out / "a.jpg")).shape == (512, 512, 3)
    frame = pd.read_csv(csv_path)
    assert frame["image"].tolist() == [str(photos / "a.jpg"), str(photos / "b.png")]
    results = json.loads(json_path.read_text())
    assert [len(image["faces"]) for image in results["images"]] == [1, 1]


def test_an_empty_folder_is_reported(model, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--demo", "--model", str(model), "--trust-model"]) == 1
    assert f"skipped {empty}: no images or videos" in capsys.readouterr().err


def test_predict_demo_writes_one_annotated_file(model, tmp_path, capsys):
    out = tmp_path / "annotated.jpg"
    assert main(["predict", "--demo", "--model", str(model), "--trust-model",
                 "--out", str(out)]) == 0
    assert "astronaut: 1 face: " in capsys.readouterr().out
    assert cv2.imread(str(out)).shape == (512, 512, 3)


def test_predict_a_video_every_second_frame(model, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    frame = cv2.resize(data.astronaut()[:, :, ::-1], (320, 320))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 320))
    for _ in range(4):
        writer.write(frame)
    writer.release()
    csv_path = tmp_path / "r.csv"
    assert main(["predict", str(video), "--model", str(model), "--trust-model",
                 "--frame-stride", "2", "--out", str(tmp_path / "frames"),
                 "--csv", str(csv_path)]) == 0
    assert pd.read_csv(csv_path)["frame"].tolist() == [0, 2]
    assert sorted(path.name for path in (tmp_path / "frames").iterdir()) == [
        "clip_frame000000.jpg", "clip_frame000002.jpg"]


@pytest.mark.parametrize("args, message", [
    (["predict"], "at least one INPUT, or --demo"),
    (["predict", "--demo", "--model", "{tmp}/none.joblib"], "no model file at {tmp}/none.joblib"),
    (["predict", "--demo", "--model", "{model}", "--trust-model", "--yunet-model",
      "{tmp}/none.onnx"], "{tmp}/none.onnx: no YuNet model file there"),
])
def test_setup_errors_stop_with_status_2(args, message, model, tmp_path, capsys):
    args = [arg.format(tmp=tmp_path, model=model) for arg in args]
    message = message.format(tmp=tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_verbose_shows_the_traceback_of_an_error_with_the_same_exit_status(tmp_path, capsys):
    missing = tmp_path / "none.joblib"
    assert main(["predict", "--demo", "--model", str(missing)]) == 2
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and f"no model file at {missing}" in quiet

    assert main(["predict", "--demo", "--model", str(missing), "--verbose"]) == 2
    verbose = capsys.readouterr().err
    assert "Traceback (most recent call last)" in verbose and "FileNotFoundError" in verbose
    assert verbose.rstrip().endswith(f"error: no model file at {missing}")

    # A usage error is not a bug: no traceback, even with --verbose.
    assert main(["predict", "--verbose"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def _options(parser, flag):
    """``flag``'s argparse action in every subcommand of ``parser`` that has it."""
    subcommands = next(action for action in parser._actions
                       if isinstance(action, argparse._SubParsersAction))
    return {name: action for name, command in subcommands.choices.items()
            for action in command._actions if flag in action.option_strings}


def test_every_model_option_is_the_same_option():
    from fer_estimator._paths import DEFAULT_MODEL_PATH

    parser = build_parser()
    for flag in ("--model", "--trust-model"):
        options = _options(parser, flag)
        assert {"predict", "evaluate", "serve", "live"} <= set(options)
        assert len({action.help for action in options.values()}) == 1, flag
    assert _options(parser, "--model")["evaluate"].default == DEFAULT_MODEL_PATH


def test_a_command_is_required_and_predict_is_one():
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])  # a command is required
    assert parser.parse_args(["predict", "x.jpg"]).run.__name__ == "run_predict"
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "clip.mp4", "--frame-stride", "0"])


@pytest.mark.parametrize("text, value", [
    ("dropout=0.3", 0.3), ("dense_units=[64, 32]", (64, 32)), ("dense_units=(64,)", (64,)),
    ("early_stopping_patience=None", None), ("early_stopping_patience=null", None),
    ("horizontal_flip=false", False), ("class_weight=balanced", "balanced"),
])
def test_one_name_value_syntax_reads_python_and_json_literals(text, value):
    assert name_value(text) == (text.partition("=")[0], value)


@pytest.mark.parametrize("command", [
    ["train"], ["search", "--synthetic", "--n-trials", "1"],
])
def test_an_unknown_parameter_stops_every_command_before_training(command, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*command, "--param", "droput=0.3", "--storage" if "search" in command else
                 "--out", f"sqlite:///{out}" if "search" in command else str(out)]) == 2
    assert "has no parameter 'droput'; did you mean 'dropout'?" in capsys.readouterr().err
    assert not out.exists()


def test_search_is_a_subcommand_with_the_same_options_as_train():
    parser = build_parser()
    train = parser.parse_args(["train", "--max-train-rows", "9", "--set", "depth=2"])
    search = parser.parse_args(["search", "--synthetic", "--max-train-rows", "9",
                                "--param", "depth=2"])
    assert train.max_train_rows == search.max_train_rows == 9
    assert train.params == search.params == [("depth", 2)]
    assert search.run.__name__ == "run_search" and search.preset == "quick"


def test_tensorflow_python_warnings_are_hidden_with_the_native_logs(tmp_path):
    import subprocess
    import sys

    project_root = Path(__file__).resolve().parent.parent

    code = ("import logging; from fer_estimator.cli_options import silence_native_logs; "
            "logging.getLogger('tensorflow').warning('before'); silence_native_logs(); "
            "logging.getLogger('tensorflow').warning('triggered tf.function retracing'); "
            "logging.getLogger('tensorflow').error('an error still shows')")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(project_root)})
    assert result.returncode == 0, result.stderr
    assert "before" in result.stderr and "an error still shows" in result.stderr
    assert "retracing" not in result.stderr


def test_tensorflow_start_up_lines_are_hidden_unless_verbose(model, tmp_path):
    import subprocess
    import sys

    project_root = Path(__file__).resolve().parent.parent

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(project_root)
    result = subprocess.run(
        [sys.executable, "-m", "fer_estimator.cli", "predict", "--demo", "--model", str(model),
         "--trust-model"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "astronaut: 1 face" in result.stdout
    for noise in ("absl::InitializeLog", "oneDNN", "cuda", "cuInit"):
        assert noise not in result.stderr


# --- outputs checked before any work; exit statuses; one-line errors --------------------------

@pytest.mark.parametrize("outputs, message", [
    (["--json", "{photo}"], "--json {photo} is the input INPUT 1 {photo}: it would be overwritten"),
    (["--csv", "{model}"], "--csv {model} is the input --model {model}"),
    (["--json", "{tmp}/r.out", "--csv", "{tmp}/r.out"],
     "--csv {tmp}/r.out is the path of --json too"),
    (["--json", "{photo}/r.json"], "cannot be written: {photo} is a file, not a folder"),
    (["--csv", "{tmp}"], "--csv {tmp} is an existing folder"),
    (["--out", "{photo}"], "--out {photo} is the input itself"),
])
def test_predict_outputs_are_checked_before_the_first_image(model, photos, tmp_path, capsys,
                                                            monkeypatch, outputs, message):
    photo = photos / "a.jpg"
    before = photo.read_bytes()
    values = {"photo": photo, "model": model, "tmp": tmp_path}
    monkeypatch.setattr("fer_estimator.faces.FacePipeline.warm_up", _never_called)
    status = main(["predict", str(photo), "--model", str(model), "--trust-model",
                   *[arg.format(**values) for arg in outputs]])
    assert status == 2
    assert message.format(**values) in capsys.readouterr().err
    assert photo.read_bytes() == before and model.exists()


def _never_called(*args, **kwargs):
    raise AssertionError("the work started before the outputs were checked")


@pytest.mark.parametrize("out, message", [
    ("{tmp}", "out {tmp} is an existing folder"),
    ("{tmp}/m.json", "the report {tmp}/m.json is the path of out too"),
    ("{tmp}/data.csv", "out {tmp}/data.csv is the input data {tmp}/data.csv"),
])
def test_train_outputs_are_checked_before_the_first_epoch(tmp_path, capsys, monkeypatch, out,
                                                          message):
    data = tmp_path / "data.csv"
    data.write_text("emotion,pixels,Usage\n")
    monkeypatch.setattr("fer_estimator.training.load_split", _never_called)
    status = main(["train", "--data", str(data), "--out", out.format(tmp=tmp_path)])
    assert status == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert data.read_text() == "emotion,pixels,Usage\n"


def test_evaluate_outputs_are_checked_before_the_model_loads(model, tmp_path, capsys,
                                                             monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setattr("fer_estimator.safe_format.load", _never_called)
    status = main(["evaluate", "--model", str(model), "--trust-model", "--data", "x.csv",
                   "--out-dir", str(blocker)])
    assert status == 2
    assert f"--out-dir {blocker} is an existing file; give a folder" in capsys.readouterr().err


@pytest.fixture
def failing_train(monkeypatch):
    """``train`` raising the exception a test puts in ``failing_train.error``."""
    class Failing:
        error = None

        def run(self, args):
            raise self.error

    failing = Failing()
    # The command table holds each command's run function: replace the train entry's.
    from fer_estimator import cli

    monkeypatch.setattr(cli, "COMMANDS", tuple(
        dataclasses.replace(command, run=failing.run) if command.name == "train" else command
        for command in cli.COMMANDS))
    return failing


@pytest.mark.parametrize("error, status, line", [
    (KeyboardInterrupt(), 130, "fer-estimator train: interrupted (Ctrl-C)"),
    (ValueError("bad value"), 2, "fer-estimator train: error: bad value"),
    (TypeError("a bug"), 70, "fer-estimator train: internal error (TypeError: a bug); run again "
                             "with --verbose for the traceback, and report it"),
    (RuntimeError("a bug"), 70, "fer-estimator train: internal error (RuntimeError: a bug)"),
])
def test_every_ending_is_one_line_with_its_documented_status(failing_train, capsys, error,
                                                              status, line):
    failing_train.error = error
    assert main(["train"]) == status
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err
    assert f"{status} " in build_parser().format_help()  # the status is documented


def test_an_internal_error_shows_its_traceback_with_verbose(failing_train, capsys):
    failing_train.error = TypeError("a bug")
    assert main(["train", "--verbose"]) == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "internal error" in err


def test_a_huge_message_is_capped(failing_train, capsys):
    failing_train.error = ValueError("x" * 10**6)  # a 1 MB "column name" quoted from a file
    # "error: " and the million x: 1,000,007 characters, 1,000 of them shown.
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 1200 and "(999,007 more characters)" in err


def test_sigterm_during_a_batch_saves_what_ctrl_c_saves(model, photos, tmp_path, capsys,
                                                        monkeypatch):
    import signal

    from fer_estimator import cli

    predict_source = cli._predict_source

    def terminated_at_the_second(pipeline, source, frame_stride):
        if source.name == "b.png":
            signal.raise_signal(signal.SIGTERM)  # `kill -TERM`, delivered to this thread
        return predict_source(pipeline, source, frame_stride)

    monkeypatch.setattr(cli, "_predict_source", terminated_at_the_second)
    json_path, csv_path = tmp_path / "r.json", tmp_path / "r.csv"
    status = main(["predict", str(photos / "a.jpg"), str(photos / "b.png"), "--model",
                   str(model), "--trust-model", "--json", str(json_path), "--csv", str(csv_path)])
    assert status == 143
    assert "fer-estimator predict: terminated (SIGTERM)" in capsys.readouterr().err
    assert [image["image"] for image in json.loads(json_path.read_text())["images"]] == \
        [str(photos / "a.jpg")]
    assert pd.read_csv(csv_path)["image"].tolist() == [str(photos / "a.jpg")]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_names_that_are_not_utf8_round_trip_in_the_csv_and_json(model, photos, tmp_path,
                                                                capsys):
    name = b"caf\xe9.jpg"  # Latin-1, not UTF-8
    raw_path = os.path.join(os.fsencode(photos), name)
    with open(raw_path, "wb") as file:
        file.write((photos / "a.jpg").read_bytes())
    path = os.fsdecode(raw_path)  # how Python holds it: the bad byte as a lone surrogate
    json_path, csv_path = tmp_path / "r.json", tmp_path / "r.csv"
    status = main(["predict", path, "--model", str(model), "--trust-model",
                   "--json", str(json_path), "--csv", str(csv_path)])
    assert status == 0, capsys.readouterr().err
    assert "caf\\xe9.jpg: 1 face" in capsys.readouterr().out
    [from_json] = [image["image"] for image in json.loads(json_path.read_text())["images"]]
    [from_csv] = pd.read_csv(csv_path, encoding_errors="surrogateescape")["image"].tolist()
    assert os.fsencode(from_json) == os.fsencode(from_csv) == raw_path


def test_serve_on_a_taken_port_is_a_clear_setup_error(model, capsys):
    pytest.importorskip("uvicorn")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["serve", "--port", str(port), "--model", str(model), "--trust-model"])
    assert status == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
