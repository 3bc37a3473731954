"""Batch runs of ``fer-estimator predict``: bad inputs are skipped and reported, results kept,
outputs never overwrite each other, huge images are refused before decoding."""

import json
import struct
import time
import zlib

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from fer_estimator import FacePipeline
from fer_estimator.cli import build_parser, main
from fer_estimator.faces.batch import AnnotatedNames, predict_batch
from fer_estimator.faces.media import ImageTooLargeError, read_image


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7))), path)
    return path


def _png_declaring(width, height):
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's shape)."""
    _ok, png = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
    png = bytearray(png.tobytes())
    ihdr = bytearray(png[12:29])  # b"IHDR" + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    png[12:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(png)


def test_bad_files_are_skipped_and_the_good_ones_saved(model, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    astronaut = data.astronaut()[:, :, ::-1]
    cv2.imwrite(str(folder / "a_good.jpg"), astronaut)
    (folder / "b_empty.jpg").write_bytes(b"")
    cv2.imwrite(str(folder / "c_strip.png"), np.full((1, 400), 128, np.uint8))
    (folder / "d_bomb.png").write_bytes(_png_declaring(20000, 20000))
    (folder / "e_truncated.jpg").write_bytes(cv2.imencode(".jpg", astronaut)[1][:200].tobytes())
    cv2.imwrite(str(folder / "f_good.png"), astronaut[::2, ::2])
    json_path, csv_path = tmp_path / "r.json", tmp_path / "r.csv"
    started = time.perf_counter()
    status = main(["predict", str(folder), "--model", str(model), "--trust-model",
                   "--json", str(json_path), "--csv", str(csv_path), "--out", str(tmp_path / "o")])
    assert time.perf_counter() - started < 60  # the 20000x20000 PNG is never decoded
    err = capsys.readouterr().err
    assert status == 1
    assert f"skipped {folder / 'b_empty.jpg'}: not a readable image" in err
    assert f"skipped {folder / 'd_bomb.png'}: 400,000,000 pixels, more than the limit" in err
    assert "--max-pixels" in err
    assert "Traceback" not in err
    images = [image["image"] for image in json.loads(json_path.read_text())["images"]]
    assert str(folder / "a_good.jpg") in images and str(folder / "f_good.png") in images
    assert str(folder / "c_strip.png") in images  # a 1x400 strip: no face, no crash
    frame = pd.read_csv(csv_path)
    assert set(frame["image"]) == {str(folder / "a_good.jpg"), str(folder / "f_good.png")}


def test_the_pixel_limit_is_configurable(model, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), data.astronaut())
    assert main(["predict", str(photo), "--model", str(model), "--trust-model",
                 "--max-pixels", "1000"]) == 1
    assert "512x512 = 262,144 pixels, more than the limit of 1,000" in capsys.readouterr().err
    assert main(["predict", str(photo), "--model", str(model), "--trust-model",
                 "--max-pixels", "0"]) == 0
    with pytest.raises(ImageTooLargeError):
        read_image(photo, max_pixels=512 * 511)
    assert read_image(photo, max_pixels=None).shape == (512, 512, 3)
    with pytest.raises(ImageTooLargeError):
        FacePipeline(DummyClassifier().fit(np.zeros((2, 4)), [0, 1]),
                     max_pixels=1000).predict(str(photo))


def test_inputs_with_the_same_name_get_their_own_outputs(model, tmp_path):
    astronaut = data.astronaut()[:, :, ::-1]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "IMG_1.jpg"), astronaut)
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "a" / "IMG_1.jpg"), str(tmp_path / "b" / "IMG_1.jpg"),
                 str(tmp_path / "a" / "IMG_1.jpg"), "--model", str(model), "--trust-model",
                 "--out", str(out)]) == 0
    written = sorted(str(path.relative_to(out)) for path in out.rglob("*.jpg"))
    assert written == ["a/IMG_1-2.jpg", "a/IMG_1.jpg", "b/IMG_1.jpg"]


def test_out_in_the_inputs_own_folder_never_overwrites_an_input(model, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    astronaut = data.astronaut()[:, :, ::-1]
    cv2.imwrite(str(folder / "a.jpg"), astronaut)
    cv2.imwrite(str(folder / "b.png"), astronaut[::2, ::2])
    originals = {path.name: path.read_bytes() for path in folder.iterdir()}
    # The same folder, spelt another way.
    assert main(["predict", str(folder), "--model", str(model), "--trust-model",
                 "--out", str(tmp_path / "photos" / ".." / "photos")]) == 0
    assert {name: (folder / name).read_bytes() for name in originals} == originals
    assert sorted(path.name for path in folder.iterdir()) == ["a-2.jpg", "a.jpg", "b-2.png",
                                                              "b.png"]

    single = folder / "a.jpg"
    assert main(["predict", str(single), "--model", str(model), "--trust-model",
                 "--out", str(single)]) == 2
    assert "is the input itself" in capsys.readouterr().err
    assert single.read_bytes() == originals["a.jpg"]


@pytest.mark.parametrize("inputs", [["a.jpg", "b.jpg"], ["clip.avi"]], ids=["two", "video"])
def test_out_naming_a_file_needs_a_single_still_image(model, tmp_path, capsys, inputs):
    for name in inputs:
        (tmp_path / name).write_bytes(b"never read")
    out = tmp_path / "x.jpg"
    assert main(["predict", *(str(tmp_path / name) for name in inputs), "--model", str(model),
                 "--trust-model", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} names a file but" in err
    assert "skipped" not in err and not out.exists()


@pytest.fixture
def flat_rows_model(tmp_path):
    """A fitted classifier of flat feature rows, which cannot take (n, 48, 48) face crops."""
    path = tmp_path / "rows.joblib"
    joblib.dump(LogisticRegression().fit(np.eye(7), list(range(7))), path)
    return path


def test_a_model_that_cannot_take_face_crops_fails_once_before_any_input(
        flat_rows_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(folder / name), data.astronaut()[:, :, ::-1])
    assert main(["predict", str(folder), "--model", str(flat_rows_model), "--trust-model"]) == 2
    err = capsys.readouterr().err
    assert "LogisticRegression cannot classify face crops (uint8 arrays of shape (n, 48, 48))" \
        in err
    assert "skipped" not in err and err.count("error:") == 1


def test_warm_up_loads_and_checks_the_model_once(model, flat_rows_model):
    pipeline = FacePipeline(model, trust=True)
    assert pipeline.warm_up() is pipeline
    with pytest.raises(ValueError, match="cannot classify face crops") as caught:
        FacePipeline(flat_rows_model, trust=True).warm_up()
    assert isinstance(caught.value.__cause__, ValueError)  # the model's own error, kept


def test_videos_sharing_a_stem_get_distinct_frame_names(tmp_path):
    sources = [tmp_path / "clip.avi", tmp_path / "clip.mp4", tmp_path / "other.avi"]
    names = AnnotatedNames(tmp_path / "out", sources)
    assert names.target(sources[0], 0).name == "clip_avi_frame000000.jpg"
    assert names.target(sources[1], 0).name == "clip_mp4_frame000000.jpg"
    assert names.target(sources[2], 3).name == "other_frame000003.jpg"
    assert names.target("astronaut").name == "astronaut.jpg"


def test_results_are_saved_even_when_the_run_stops(model, tmp_path):
    pipeline = FacePipeline(model, trust=True)
    good = data.astronaut()[:, :, ::-1].copy()

    def iter_source(source):
        if source == "second":
            raise KeyboardInterrupt  # Ctrl-C, or any error that stops the run
        return pipeline.iter_predict(good, return_images=True)

    json_path = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        predict_batch(pipeline, ["first", "second"], iter_source, json_path=json_path)
    assert len(json.loads(json_path.read_text())["images"]) == 1


def test_a_model_that_is_not_a_classifier_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "text.joblib"
    joblib.dump("not a model", path)
    assert main(["predict", "--demo", "--model", str(path), "--trust-model"]) == 2
    assert "predict_proba" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(path), "--trust-model", "--data", "x.csv"]) == 2
    assert "does not hold a fitted classifier" in capsys.readouterr().err


def test_exit_statuses_are_documented():
    text = build_parser().format_help()
    assert "1    done, but some inputs were skipped" in text and "2    usage" in text
    assert "70   internal error" in text and "130  interrupted" in text and "143" in text
