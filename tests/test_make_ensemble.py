"""scripts/make_ensemble.py on networks trained on a small FER2013-format CSV."""

import json

import numpy as np
import pytest

from fer_estimator import load, make_fer_pipeline, save, soft_voting_ensemble
from fer_estimator.presets import MICRO
from fer_estimator.training import load_split


@pytest.fixture(scope="module")
def make_ensemble(load_script):
    """scripts/make_ensemble.py, imported once for this module."""
    return load_script("make_ensemble")


@pytest.fixture(scope="module", autouse=True)
def parsed_csv_cache(tmp_path_factory):
    """Parsed CSVs are cached in a temporary folder, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_ESTIMATOR_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def members(fer_csv, tmp_path_factory):
    """Two networks of other seeds holding out the same images, saved as the script takes them."""
    X_train, y_train, *_ = load_split(fer_csv)
    folder = tmp_path_factory.mktemp("members")
    paths = []
    for seed in (0, 1):
        params = {**MICRO, "epochs": 3, "validation_fraction": 0.2,
                  "validation_random_state": 0, "random_state": seed}
        path = folder / f"fer2013-7class-seed{seed}.fer.zip"
        save(make_fer_pipeline("standardize", **params).fit(X_train, y_train), path)
        paths.append(path)
    return paths


def test_a_paying_ensemble_is_scored_and_saved_with_its_6_class_variant(
        make_ensemble, members, fer_csv, tmp_path, capsys):
    out = tmp_path / "fer2013-7class-ensemble.fer.zip"
    args = [*map(str, members), "--out", str(out), "--data", str(fer_csv)]
    assert make_ensemble.main([*args, "--min-gain", "-1"]) == 0
    report = json.loads((tmp_path / "fer2013-7class-ensemble.json").read_text())
    assert report["validation_rows"] == 42  # 20% of 210 Training rows
    assert set(report["validation"]) == {"fer2013-7class-seed0", "fer2013-7class-seed1",
                                         "ensemble"}
    assert report["test_rows"] == 70 and report["n_classes"] == 7
    ensemble = load(out)
    *_, X_test, y_test, _ = load_split(fer_csv)
    assert ensemble.score(X_test, y_test) == pytest.approx(report["accuracy"])
    six = load(tmp_path / "fer2013-6class-ensemble.fer.zip")
    assert "Disgust" not in six.classes_ and len(six.classes_) == 6
    assert (tmp_path / "fer2013-7class-ensemble-evaluation" / "confusion_matrix.png").is_file()
    assert "7-class ensemble: PublicTest accuracy" in capsys.readouterr().out


def test_an_ensemble_below_the_gain_is_not_saved(make_ensemble, members, fer_csv, tmp_path,
                                                 capsys):
    out = tmp_path / "fer2013-7class-ensemble.joblib"
    status = make_ensemble.main([*map(str, members), "--out", str(out), "--data", str(fer_csv),
                                 "--min-gain", "1.0"])
    assert status == 1 and not list(tmp_path.iterdir())
    assert "not saved: the ensemble adds" in capsys.readouterr().out


def test_validation_only_prints_the_gain_and_writes_nothing(make_ensemble, members, fer_csv,
                                                            tmp_path, capsys):
    assert make_ensemble.main([*map(str, members), "--data", str(fer_csv),
                               "--validation-only"]) == 0
    printed = capsys.readouterr().out
    assert "validation (42 Training images no member trained on)" in printed
    assert "nothing saved (--validation-only)" in printed and "PublicTest" not in printed
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("arguments, message", [
    ([], "--out is required (or --validation-only)"),
    (["--validation-only", "--out", "x-7class.fer.zip"], "--validation-only saves nothing"),
])
def test_where_to_save_must_match_the_mode(make_ensemble, members, arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_ensemble.main([*map(str, members), *arguments])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_members_with_other_validation_images_are_refused(make_ensemble, members, fer_csv,
                                                          tmp_path):
    X_train, y_train, *_ = load_split(fer_csv)
    other = tmp_path / "other-split.fer.zip"
    params = {**MICRO, "validation_fraction": 0.2, "random_state": 5}
    save(make_fer_pipeline("standardize", **params).fit(X_train, y_train), other)
    with pytest.raises(ValueError, match="did not hold out the same images"):
        make_ensemble.main([str(members[0]), str(other), "--out",
                            str(tmp_path / "fer2013-7class-x.joblib"), "--data", str(fer_csv)])
    assert np.all([path.suffix == ".zip" for path in tmp_path.iterdir()])


def test_an_ensemble_given_as_a_member_brings_its_networks(make_ensemble, members, fer_csv,
                                                           tmp_path, capsys):
    earlier = tmp_path / "earlier-ensemble.fer.zip"
    save(soft_voting_ensemble([load(path) for path in members], names=["a", "b"]), earlier)
    out = tmp_path / "fer2013-7class-ensemble.fer.zip"
    assert make_ensemble.main([str(earlier), "--out", str(out), "--data", str(fer_csv),
                               "--min-gain", "-1"]) == 0
    report = json.loads((tmp_path / "fer2013-7class-ensemble.json").read_text())
    assert report["members"] == ["a", "b"] and report["sources"] == [earlier.name]
    assert set(report["validation"]) == {"a", "b", "ensemble"}
    assert list(load(out).named_steps["vote"].named_estimators_) == ["a", "b"]

    with pytest.raises(SystemExit) as exit_info:
        make_ensemble.main([str(out), str(earlier), "--out", str(tmp_path / "x-7class.fer.zip"),
                            "--data", str(fer_csv)])
    assert exit_info.value.code == 2
    assert "two members are named 'a'" in capsys.readouterr().err
