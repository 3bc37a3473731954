"""``fer-estimator train`` and ``evaluate`` on a small FER2013-format CSV the test writes."""

import json

import numpy as np
import pytest

from fer_estimator import EMOTIONS, load, load_fer2013
from fer_estimator.cli import main
from fer_estimator.synthetic import make_synthetic_faces

TINY_PARAMS = ["--preset", "micro", "--param", "dense_units=(16,)", "--set", "batch_size=32"]


@pytest.fixture(scope="module")
def trained(fer_csv, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("FER_ESTIMATOR_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("models") / "tiny.fer.zip"
    assert main(["train", "--data", str(fer_csv), "--out", str(out), "--epochs", "2",
                 "--seed", "3", *TINY_PARAMS]) == 0
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_train_saves_model_and_report(trained, fer_csv):
    report = json.loads(trained.with_name("tiny.json").read_text())
    assert report["train_rows"] == 210 and report["test_rows"] == 70
    assert report["params"]["depth"] == 1 and report["params"]["epochs"] == 2
    assert report["params"]["random_state"] == 3  # --seed seeds the preset's network too
    assert "accuracy_tta" in report and report["classes"][0] == "Angry"
    # The reported accuracy is the saved model's on the PublicTest rows.
    X_test, codes = load_fer2013(fer_csv, usage="PublicTest", return_X_y=True, cache=False)
    model = load(trained)
    assert model.score(X_test, np.array(EMOTIONS)[codes]) == pytest.approx(report["accuracy"])
    assert len(model[-1].history_["loss"]) == 2


def test_evaluate_writes_report_and_figures(trained, fer_csv, tmp_path, capsys):
    out_dir = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(trained), "--data", str(fer_csv),
                 "--out-dir", str(out_dir)]) == 0
    report = json.loads((out_dir / "evaluation.json").read_text())
    assert report["n_samples"] == 70 and report["usage"] == "PublicTest"
    assert (out_dir / "confusion_matrix.png").exists()
    assert (out_dir / "training_curves.png").exists()
    assert "accuracy TTA" in capsys.readouterr().out


def test_evaluate_writes_into_the_current_folder_by_default(trained, fer_csv, tmp_path,
                                                           monkeypatch, capsys):
    """Never beside the model: that is the package's or the repository's models/ folder for
    the shipped model, whose committed figures a quick run would replace."""
    beside_the_model = set(trained.parent.iterdir())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["evaluate", "--model", str(trained), "--data", str(fer_csv),
                 "--max-rows", "20"]) == 0
    assert json.loads((work / "tiny-evaluation" / "evaluation.json").read_text())[
        "n_samples"] == 20
    assert set(trained.parent.iterdir()) == beside_the_model
    assert f"in {work / 'tiny-evaluation'}" in capsys.readouterr().out


def test_evaluate_names_a_missing_model(fer_csv, tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "nope.joblib"),
                 "--data", str(fer_csv)]) == 2
    assert "nope.joblib" in capsys.readouterr().err


def test_train_rejects_a_malformed_param():
    with pytest.raises(SystemExit):
        main(["train", "--param", "no-equals-sign"])


def test_training_resumes_from_its_checkpoint(tmp_path, tiny_cnn):
    """A fit interrupted after an epoch continues from there, and history_ holds every epoch."""
    import keras
    import numpy as np

    from fer_estimator.pipeline import make_fer_pipeline
    from fer_estimator.training import fit_resumable

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # as if the process were killed after epoch 1 was saved

    X, y = make_synthetic_faces(140, random_state=2)
    params = tiny_cnn(epochs=3)
    interrupted = make_fer_pipeline(**params)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y, cnn__callbacks=[
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), double_checkpoint=True),
            keras.callbacks.CSVLogger(str(tmp_path / "history.log"), append=True),
            StopAfterFirstEpoch()])
    resumed = fit_resumable(make_fer_pipeline(**params), X, y, checkpoint_dir=tmp_path)
    epochs = np.genfromtxt(tmp_path / "history.log", delimiter=",", names=True)["epoch"]
    assert epochs.tolist() == [0, 1, 2]  # epoch 0 was not trained again
    assert len(resumed.named_steps["cnn"].history_["loss"]) == 3
    assert not (tmp_path / "backup").exists()  # a finished fit removes its checkpoint
