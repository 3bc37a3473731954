"""Image-folder data sets: an export of a FER2013 CSV loads, trains, evaluates and searches as the
CSV itself does; every bad folder is an error or a reported skip."""

import json
import os

import cv2
import numpy as np
import pytest

from fer_estimator import EMOTIONS, load_fer2013
from fer_estimator.cli import main
from fer_estimator.folders import load_image_folder, save_image_folder
from fer_estimator.training import load_split

MICRO_OPTIONS = ["--preset", "micro", "--epochs", "2", "--seed", "3"]


@pytest.fixture(scope="module")
def fer_folder(fer_csv, tmp_path_factory):
    """The ``fer_csv`` rows as FER2013's image release: train|test/<emotion>/<row>.png."""
    bunch = load_fer2013(fer_csv, cache=False)
    folder = tmp_path_factory.mktemp("release")
    save_image_folder(folder, bunch.data, bunch.target_names[bunch.target], bunch.usage)
    return folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_ESTIMATOR_CACHE", str(tmp_path / "cache"))


def _gray(side=48, value=128):
    return np.full((side, side), value, np.uint8)


def _class_folders(root, counts):
    """``root/<name>/<i>.png`` with ``counts[name]`` images each; returns root."""
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(root / name / f"{index}.png"), _gray(value=index))
    return root


def test_a_release_export_loads_as_the_csv(fer_csv, fer_folder):
    csv, folder = load_fer2013(fer_csv, cache=False), load_image_folder(fer_folder)
    np.testing.assert_array_equal(folder.data, csv.data)
    np.testing.assert_array_equal(folder.target, csv.target)
    np.testing.assert_array_equal(folder.usage, csv.usage)
    assert list(folder.target_names) == list(EMOTIONS) and folder.skipped == []
    six = load_image_folder(fer_folder, n_classes=6, return_X_y=True)
    np.testing.assert_array_equal(six[1], load_fer2013(fer_csv, n_classes=6, cache=False).target)
    for got, expected in zip(load_split(fer_folder), load_split(fer_csv), strict=True):
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(got, expected)


def test_the_second_load_comes_from_the_cache_until_a_file_changes(fer_folder, tmp_path,
                                                                     monkeypatch):
    import fer_estimator.folders as folders

    first = load_image_folder(fer_folder, cache_dir=tmp_path)
    monkeypatch.setattr(folders, "_decode_all", lambda *args: pytest.fail("decoded again"))
    np.testing.assert_array_equal(load_image_folder(fer_folder, cache_dir=tmp_path).data,
                                  first.data)
    monkeypatch.undo()
    changed = sorted(fer_folder.glob("train/Happy/*.png"))[0]
    original = cv2.imread(str(changed), cv2.IMREAD_GRAYSCALE)
    try:
        cv2.imwrite(str(changed), 255 - original)
        reloaded = load_image_folder(fer_folder, cache_dir=tmp_path)
        row = int(changed.stem)
        np.testing.assert_array_equal(reloaded.data[row], 255 - original)
    finally:
        cv2.imwrite(str(changed), original)


@pytest.mark.slow
def test_train_evaluate_and_search_match_the_csv(fer_csv, fer_folder, tmp_path, capsys):
    reports = {}
    for name, data in (("csv", fer_csv), ("folder", fer_folder)):
        out = tmp_path / name / "model.fer.zip"
        assert main(["train", "--data", str(data), "--out", str(out), *MICRO_OPTIONS]) == 0
        trained = json.loads(out.with_name("model.json").read_text())
        assert main(["evaluate", "--model", str(out), "--data", str(data),
                     "--out-dir", str(tmp_path / name / "evaluation")]) == 0
        evaluated = json.loads((tmp_path / name / "evaluation" / "evaluation.json").read_text())
        capsys.readouterr()
        assert main(["search", "--data", str(data), "--n-trials", "1", "--cv", "2", "--pruner",
                     "none", "--no-refit", "--study-name", name, "--sampler-seed", "0",
                     "--space", '{"dropout": [0.1], "depth": [1]}',
                     "--storage", f"sqlite:///{tmp_path / name / 'study.db'}",
                     *MICRO_OPTIONS]) == 0
        trials = [line.split()[:4] for line in capsys.readouterr().out.splitlines()
                  if "COMPLETE" in line and line.split()[0] == "0"]
        reports[name] = trained, evaluated, trials
    (csv_train, csv_eval, csv_trials), (folder_train, folder_eval, folder_trials) = \
        reports.values()
    for key in ("accuracy", "accuracy_tta", "per_class", "classes", "train_rows", "test_rows"):
        assert folder_train[key] == csv_train[key], key
    assert folder_eval["accuracy"] == csv_eval["accuracy"] == csv_train["accuracy"]
    assert folder_eval["usage"] == "PublicTest"
    assert len(csv_trials) == 1 and folder_trials == csv_trials  # the same CV score


def test_shipped_model_scores_the_same_on_a_folder_of_the_csv_rows(tmp_path, capsys,
                                                                   shared_fer2013_csv):
    from fer_estimator._paths import DEFAULT_MODEL_PATH

    SHARED_FER2013_CSV = shared_fer2013_csv
    X, codes = load_fer2013(SHARED_FER2013_CSV, usage="PublicTest", return_X_y=True)
    save_image_folder(tmp_path / "export", X[:300], np.array(EMOTIONS)[codes[:300]],
                      np.full(300, "PublicTest"))
    accuracies = []
    for data in (SHARED_FER2013_CSV, tmp_path / "export"):
        out_dir = tmp_path / f"evaluation-{len(accuracies)}"
        assert main(["evaluate", "--model", str(DEFAULT_MODEL_PATH), "--data", str(data),
                     "--max-rows", "300", "--out-dir", str(out_dir)]) == 0
        accuracies.append(json.loads((out_dir / "evaluation.json").read_text())["accuracy"])
    capsys.readouterr()
    assert accuracies[0] == accuracies[1]


def test_class_names_follow_fer2013_where_the_folders_spell_emotions(tmp_path):
    spelled = load_image_folder(_class_folders(tmp_path / "a", {"neutral": 1, "happiness": 1,
                                                                 "Angry": 2}))
    assert list(spelled.target_names) == ["Angry", "Happy", "Neutral"]
    assert list(spelled.target) == [0, 1, 2, 0]  # by file name (0.png, 1.png), then class
    other = load_image_folder(_class_folders(tmp_path / "b", {"dog": 1, "cat": 1}))
    assert list(other.target_names) == ["cat", "dog"]
    with pytest.raises(ValueError, match=r"n_classes=7 .*\['cat', 'dog'\] do not"):
        load_image_folder(tmp_path / "b", n_classes=7)
    with pytest.raises(ValueError, match=r"\['happy', 'joy'\] all mean Happy"):
        load_image_folder(_class_folders(tmp_path / "c", {"happy": 1, "joy": 1}))


def test_images_of_another_size_or_colour_are_resized_and_said_once(tmp_path):
    save_image_folder(tmp_path / "a", np.stack([_gray(96), _gray(96)]), ["x", "y"])
    colour = np.zeros((60, 60, 3), np.uint8)
    colour[..., 2] = 255  # red, in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "a" / "x" / "red.jpg"), colour)
    with pytest.warns(UserWarning, match="3 image.s. were not 48x48") as caught:
        bunch = load_image_folder(tmp_path / "a")
    assert len(caught) == 1
    assert bunch.data.shape == (3, 48, 48) and bunch.data.dtype == np.uint8
    assert abs(int(bunch.data[2].mean()) - 76) <= 2  # gray of pure red: 0.299 * 255


@pytest.mark.filterwarnings("ignore:.*skipped:UserWarning")
@pytest.mark.parametrize("make, message", [
    (lambda root: None, "is empty"),
    (lambda root: (root / "notes.txt").write_text("x"), "1 entries but no class folders"),
    (lambda root: _class_folders(root / "train", {"happy": 1}) and (root / "happy").mkdir(),
     r"mixes split folders \['train'\] with class folders \['happy'\]"),
    (lambda root: (root / "happy").mkdir() or (root / "happy" / "a.txt").write_text("x"),
     "holds no readable image"),
])
def test_folders_that_make_no_data_set_are_refused(tmp_path, make, message):
    root = tmp_path / "data"
    root.mkdir()
    make(root)
    with pytest.raises(ValueError, match=message):
        load_image_folder(root)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_image_folder(tmp_path / "nope")


def test_one_class_only_cannot_train(tmp_path, capsys):
    root = _class_folders(tmp_path / "one", {"happy": 3})
    with pytest.raises(ValueError, match=r"only one class holds images \(Happy\)"):
        load_split(root)
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "m.fer.zip"),
                 *MICRO_OPTIONS]) == 2
    assert "only one class holds images" in capsys.readouterr().err


def test_entries_that_are_not_images_are_skipped_and_named(tmp_path):
    root = _class_folders(tmp_path / "data", {"happy": 2, "sad": 2})
    (root / "happy" / "notes.txt").write_text("not an image")
    (root / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _class_folders(root / "sad", {"nested": 1})
    (root / "sad" / "self.png").symlink_to("self.png")  # a link to itself: a loop
    (root / "sad" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    (root / "loop").symlink_to(".", target_is_directory=True)  # a class folder loop
    cv2.imwrite(str(root / "stray.png"), _gray())  # in no class folder
    with pytest.warns(UserWarning, match="skipped 7 entries") as caught:
        bunch = load_image_folder(root)
    reasons = {os.path.relpath(path, root): reason for path, reason in bunch.skipped}
    assert set(reasons) == {"happy/notes.txt", "happy/broken.png", "sad/nested", "sad/self.png",
                            "sad/up", "loop", "stray.png"}
    assert "not an image file" in reasons["happy/notes.txt"]
    assert "not a readable image" in reasons["happy/broken.png"]
    assert "nested folders are not classes" in reasons["sad/nested"]
    assert "symbolic links" in reasons["sad/self.png"]
    assert "a loop" in reasons["loop"]
    assert "has no label" in reasons["stray.png"]
    assert all(name in str(caught[0].message) for name in ("notes.txt", "broken.png", "nested"))
    assert list(bunch.target_names) == ["Happy", "Sad"] and len(bunch.target) == 4
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        load_image_folder(root, on_error="raise")


def test_names_that_are_not_utf8(tmp_path):
    root = _class_folders(tmp_path / "data", {"happy": 1, "sad": 1})
    odd_file = os.fsdecode(os.fsencode(root / "sad") + b"/caf\xe9.png")
    save_image_folder(tmp_path / "tmp", _gray(value=7)[None], ["x"])
    os.rename(next((tmp_path / "tmp" / "x").iterdir()), odd_file)
    bunch = load_image_folder(root)
    assert len(bunch.target) == 3 and bunch.data[list(bunch.filenames).index(odd_file)][0, 0] == 7
    os.mkdir(os.fsencode(root) + b"/h\xe4ppy")
    with pytest.raises(ValueError, match=r"h\\xe4ppy has a name that is not UTF-8"):
        load_image_folder(root)
