"""Training sets cut from labelled photos: ``cut_faces`` and ``fer-estimator cut-faces``."""

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_estimator.cli import main
from fer_estimator.faces import FacePipeline
from fer_estimator.faces.training_set import cut_faces
from fer_estimator.folders import load_image_folder


def faces_by_width(bgr):
    """A detector for the test photos: a 100-pixel-wide photo holds no face, 200 one, 300 two
    (the second one larger)."""
    count = bgr.shape[1] // 100 - 1
    return np.array([(10 + 100 * i, 10, 60 + 20 * i, 60 + 20 * i) for i in range(count)])


@pytest.fixture
def photos(tmp_path):
    """photos/happy/{none,one,two}.jpg and photos/sad/one.jpg, plus a text file."""
    root = tmp_path / "photos"
    for label, widths in (("happy", {"none": 100, "one": 200, "two": 300}), ("sad", {"one": 200})):
        (root / label).mkdir(parents=True)
        for name, width in widths.items():
            photo = np.random.default_rng(width).integers(0, 255, (120, width, 3), np.uint8)
            cv2.imwrite(str(root / label / f"{name}.jpg"), photo)
    (root / "sad" / "notes.txt").write_text("not a photo")
    return root


@pytest.mark.parametrize("several, expected", [("skip", 2), ("largest", 3), ("all", 4)])
def test_every_face_becomes_a_labelled_crop(photos, tmp_path, several, expected):
    out = tmp_path / "faces"
    report = cut_faces(photos, out, pipeline=FacePipeline(detector=faces_by_width),
                       several=several)
    assert report.written == expected
    assert report.no_face == [str(photos / "happy" / "none.jpg")]
    assert report.several_faces == [str(photos / "happy" / "two.jpg")]
    assert [path for path, _ in report.failed] == [str(photos / "sad" / "notes.txt")]
    table = pd.read_csv(out / "faces.csv")
    assert len(table) == expected
    if several == "largest":
        assert table.loc[table.faces_in_photo == 2, "width"].tolist() == [80]
    bunch = load_image_folder(out, cache=False)
    assert bunch.data.shape == (expected, 48, 48)
    assert sorted(bunch.target_names[bunch.target]) == sorted(table.label.str.capitalize())
    first = table.iloc[0]
    photo = cv2.cvtColor(cv2.imread(first.source), cv2.COLOR_BGR2GRAY)
    crop = photo[first.y:first.y + first.height, first.x:first.x + first.width]
    np.testing.assert_array_equal(
        cv2.imread(str(out / first.file), cv2.IMREAD_GRAYSCALE),
        cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA))


def test_the_crops_folder_must_be_new_and_outside_the_photos(photos, tmp_path):
    with pytest.raises(ValueError, match="inside the photos' folder"):
        cut_faces(photos, photos / "faces", pipeline=FacePipeline(detector=faces_by_width))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.png").write_bytes(b"")
    with pytest.raises(ValueError, match="is not empty"):
        cut_faces(photos, tmp_path / "used", pipeline=FacePipeline(detector=faces_by_width))
    with pytest.raises(ValueError, match="several must be one of"):
        cut_faces(photos, tmp_path / "new", several="first")


def test_cut_faces_command_on_a_group_photo(tmp_path, capsys, shared_group_photo):
    group = shared_group_photo
    (tmp_path / "photos" / "happy").mkdir(parents=True)
    (tmp_path / "photos" / "happy" / "group.jpg").write_bytes(group.read_bytes())
    assert main(["cut-faces", str(tmp_path / "photos"), "--out", str(tmp_path / "skip")]) == 1
    assert "skipped" in capsys.readouterr().err
    assert main(["cut-faces", str(tmp_path / "photos"), "--out", str(tmp_path / "all"),
                 "--several", "all"]) == 0
    assert "face crops" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "all" / "faces.csv")) > 1
