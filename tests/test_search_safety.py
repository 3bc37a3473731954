"""Studies know what they were run on; parameter names and storage URLs are checked and
redacted before any trial (issue #9)."""

import warnings

import optuna
import pandas as pd
import pytest

from fer_estimator import make_fer_pipeline
from fer_estimator._redact import redact_urls
from fer_estimator.cli import search_main as main
from fer_estimator.search import FERSearchCV
from fer_estimator.search.storage import describe_storage
from fer_estimator.search.study import CONTEXT_ATTR, StudyMismatchError
from fer_estimator.synthetic import make_synthetic_faces


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(140, random_state=1)


@pytest.fixture
def quick_search(micro_cnn, search_space, prune_at_step):
    """``quick_search(storage, **cnn)``: a one-trial study "guarded" in ``storage``, its trial
    pruned at its first report, of the micro network with the ``cnn`` settings changed."""
    def search(storage, **cnn):
        return FERSearchCV(make_fer_pipeline(**micro_cnn(**cnn)), search_space, n_trials=1, cv=2,
                           pruner=prune_at_step(0), refit=False, storage=storage,
                           study_name="guarded")
    return search


def test_a_study_refuses_other_data_or_settings(tmp_path, faces, quick_search):
    X, y = faces
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all trials pruned: no best_*
        first = quick_search(storage).fit(X, y)
        context = first.study_.user_attrs[CONTEXT_ATTR]
        assert context["data"]["rows"] == 140 and context["settings"]["params"]["cnn__epochs"] == 2
        with pytest.raises(StudyMismatchError, match=r"data.rows: 140 -> 100.*--study-name"):
            quick_search(storage).fit(X[:100], y[:100])
        with pytest.raises(StudyMismatchError, match=r"settings.params.cnn__epochs: 2 -> 3"):
            quick_search(storage, epochs=3).fit(X, y)
        changed = X.copy()
        changed[0, 0, 0] ^= 1
        with pytest.raises(StudyMismatchError, match=r"data\.digest"):
            quick_search(storage).fit(changed, y)
        # The same data and settings resume it.
        quick_search(storage).set_params(n_trials=2).fit(X, y)
    study = optuna.load_study(study_name="guarded", storage=storage)
    assert len(study.trials) == 2


def _fer_csv(path, n=140):
    X, y = make_synthetic_faces(n, random_state=3)
    pd.DataFrame({"emotion": y, "pixels": [" ".join(map(str, image.ravel())) for image in X],
                  "Usage": ["Training", "PublicTest"] * (n // 2)}).to_csv(path, index=False)
    return path


def test_the_cli_does_not_report_a_synthetic_study_as_the_fer2013_result(tmp_path, capsys,
                                                                         micro_search_options):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    common = ["--storage", storage, "--n-trials", "1", "--cv", "2", "--pruner", "none",
              "--models-dir", str(tmp_path / "models"), "--space", '{"dropout": [0.1]}',
              "--quiet", *micro_search_options]
    assert main(["--synthetic", "--max-rows", "140", "--no-refit", *common]) == 0
    capsys.readouterr()
    status = main(["--data", str(_fer_csv(tmp_path / "fer.csv")), *common])
    err = capsys.readouterr().err
    assert status == 2
    assert "study 'fer-search'" in err and "'synthetic faces' -> " in err and "fer.csv" in err
    assert "--study-name" in err
    assert not (tmp_path / "models").exists()  # nothing refitted or saved
    study = optuna.load_study(study_name="fer-search", storage=storage)
    assert len(study.trials) == 1


@pytest.mark.parametrize("setting, message", [
    ("nonexistent=3", "FERClassifier has no parameter 'nonexistent'"),
    ("droput=0.3", "has no parameter 'droput'; did you mean 'dropout'?"),
])
def test_unknown_set_names_fail_before_any_trial(tmp_path, capsys, setting, message):
    status = main(["--synthetic", "--storage", f"sqlite:///{tmp_path / 'studies.db'}",
                   "--set", setting])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize("url", ["postgresql://fer:s3cret@db:notaport/x",
                                 "postgresql://fer:s3cret@127.0.0.1:9/x"])
def test_storage_passwords_never_reach_a_message(tmp_path, capsys, micro_search_options, url):
    assert main(["--synthetic", "--storage", url, "--max-rows", "140", *micro_search_options]) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "fer:***@" in err


def test_redact_urls():
    assert redact_urls("at mysql+pymysql://u:p@ss@h/db and sqlite:///x.db") == \
        "at mysql+pymysql://u:***@h/db and sqlite:///x.db"
    assert describe_storage("postgresql://u:pw@h:bad/x") == "postgresql://u:***@h:bad/x"
    assert redact_urls("no url here") == "no url here"


@pytest.mark.parametrize("storage", [None, "object"])
def test_a_refused_study_names_its_storage(tmp_path, monkeypatch, faces, quick_search, storage):
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///studies/fer-search.db"  # the default storage, under the working directory
    (tmp_path / "studies").mkdir()
    if storage == "object":
        storage = optuna.storages.RDBStorage(url)
    optuna.create_study(study_name="guarded", storage=url, direction="maximize").set_user_attr(
        CONTEXT_ATTR, {"data": {"rows": 1}})
    X, y = faces
    with pytest.raises(StudyMismatchError, match="study 'guarded' in sqlite:///studies/"
                                                 r"fer-search\.db was run on other data"):
        quick_search(storage).fit(X, y)
