"""``fer-search`` (fer_estimator.search.cli.main, the same as ``fer-estimator search``): a whole
run on synthetic faces, and bad options."""

import json

from fer_estimator import load
from fer_estimator.search.cli import main

MICRO_SETTINGS = ["--preset", "micro", "--epochs", "2"]


def test_run_saves_model_report_and_plots(tmp_path, capsys):
    status = main(["--synthetic", "--max-rows", "140", "--n-trials", "2", "--cv", "2",
                   "--pruner", "none", "--study-name", "cli",
                   "--storage", f"sqlite:///{tmp_path / 'studies.db'}",
                   "--models-dir", str(tmp_path / "models"),
                   "--space", '{"dropout": {"low": 0.0, "high": 0.5}, "depth": [1]}',
                   *MICRO_SETTINGS])
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
