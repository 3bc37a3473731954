"""search.FERSearchCV: studies on synthetic faces with tiny CNNs, pruning, resume, bad input."""

import time
import warnings

import keras
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from fer_estimator.pipeline import make_fer_pipeline
from fer_estimator.search import (
    FERSearchCV,
    StorageUnavailableError,
    default_search_space,
    distribution_from_spec,
    open_storage,
    summary_table,
    trial_counts,
)
from fer_estimator.search.storage import describe_storage
from fer_estimator.synthetic import make_synthetic_faces


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(140, random_state=1)


@pytest.fixture
def new_search(tmp_path, micro_cnn, search_space):
    """``new_search(**options)``: a FERSearchCV of the micro network over the shared two-parameter
    space, 2 folds, stored in the test's folder unless the options say otherwise."""
    # One or two epochs of a network with a few thousand weights: each fit takes seconds.
    def search(**options):
        options.setdefault("storage", f"sqlite:///{tmp_path / 'study.db'}")
        options.setdefault("cv", 2)
        return FERSearchCV(make_fer_pipeline(**micro_cnn()), search_space, **options)
    return search


def _finished(study):
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def test_study_returns_fitted_best_estimator(faces, micro_cnn, new_search, search_space):
    X, y = faces
    search = new_search(n_trials=2, pruner="none").fit(X, y)

    completed = search.study_.get_trials(states=(TrialState.COMPLETE,))
    assert len(completed) == 2
    assert search.best_score_ == max(t.value for t in completed)
    assert set(search.best_params_) == set(search_space)
    assert search.best_estimator_.get_params()["cnn__dropout"] == search.best_params_["dropout"]
    predictions = search.predict(X[:10])
    assert predictions.shape == (10,) and set(predictions) <= set(y)
    assert search.predict_proba(X[:3]).shape == (3, 7)
    # Every fold trained all its epochs, and the per-fold scores were recorded.
    best = search.best_trial_
    assert best.user_attrs["epochs_trained"] == 2 * micro_cnn()["epochs"]
    assert {"split0_test_score", "split1_test_score"} <= set(best.user_attrs)
    # Nothing can prune, so no epoch was evaluated on its held-out fold.
    assert best.intermediate_values == {}
    assert "2 COMPLETE" in summary_table(search.study_)


@pytest.mark.parametrize("prune_on, epochs_per_trial", [("epoch", 1), ("fold", 2)])
def test_pruned_trials_end_pruned_not_failed(faces, new_search, prune_at_step, prune_on,
                                             epochs_per_trial):
    X, y = faces
    with pytest.warns(RuntimeWarning, match="no completed trial"):
        search = new_search(n_trials=2, pruner=prune_at_step(0), prune_on=prune_on,
                            refit=False).fit(X, y)

    assert trial_counts(search.study_) == {"PRUNED": 2}
    for trial in search.study_.trials:
        # Pruned at the first report: after one epoch, or after the first fold's two.
        assert trial.user_attrs["epochs_trained"] == epochs_per_trial
        assert list(trial.intermediate_values) == [0]


class StopAfterOneEpoch(keras.callbacks.Callback):
    """Ends every fit after its first epoch, as early stopping would."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


@pytest.mark.parametrize("prune_on, final_step, stopped_early", [
    ("epoch", 3, False), ("fold", 1, False), ("epoch", 2, True)])
def test_a_fully_trained_trial_is_not_pruned_at_its_final_step(tmp_path, faces, micro_cnn,
                                                                search_space, prune_at_step,
                                                                prune_on, final_step,
                                                                stopped_early):
    X, y = faces
    cnn = micro_cnn(callbacks=[StopAfterOneEpoch()] if stopped_early else None)
    search = FERSearchCV(make_fer_pipeline(**cnn), search_space,
                         storage=f"sqlite:///{tmp_path / 's.db'}", cv=2, n_trials=1,
                         pruner=prune_at_step(final_step), prune_on=prune_on,
                         refit=False).fit(X, y)

    trial = search.study_.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert max(trial.intermediate_values) == final_step
    epochs_per_fold = 1 if stopped_early else micro_cnn()["epochs"]
    assert trial.user_attrs["epochs_trained"] == 2 * epochs_per_fold


def test_epoch_reports_use_a_unique_step_per_fold_and_epoch(faces, new_search):
    X, y = faces
    search = new_search(n_trials=1, pruner="median").fit(X, y)
    steps = sorted(search.best_trial_.intermediate_values)
    assert steps == [0, 1, 2, 3]  # fold 0 epochs 0-1, fold 1 epochs 0-1
    assert all(0.0 <= v <= 1.0 for v in search.best_trial_.intermediate_values.values())


def test_study_resumes_to_the_requested_total(faces, new_search, prune_at_step):
    X, y = faces
    options = dict(pruner=prune_at_step(0), refit=False, study_name="resumed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first = new_search(n_trials=2, **options).fit(X, y)
        assert len(_finished(first.study_)) == 2
        second = new_search(n_trials=3, **options).fit(X, y)
    trials = second.study_.trials
    assert [t.number for t in trials] == [0, 1, 2]
    assert len(_finished(second.study_)) == 3
    # Trial 2 was run by the second call, after the first two.
    assert trials[2].datetime_start > trials[1].datetime_complete


# The test plays the dead worker with study.ask(), which Optuna warns about; and reads the
# retry link with an API Optuna still calls experimental.
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_dead_workers_trial_is_retried(tmp_path, faces, new_search):
    X, y = faces
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="retry", storage=storage, direction="maximize")
    dead = study.ask({"dropout": FloatDistribution(0.0, 0.5),
                      "learning_rate": FloatDistribution(1e-3, 1e-2, log=True)})
    storage.record_heartbeat(dead._trial_id)  # then its worker "dies": no more heartbeats
    time.sleep(3)

    search = new_search(n_trials=1, storage=storage, study_name="retry",
                        pruner="none").fit(X, y)

    trials = search.study_.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].params == trials[0].params
    assert optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(
        trials[1]) == dead.number


@pytest.mark.parametrize("space, message", [
    ({"dropuot": FloatDistribution(0.0, 0.5)}, r"unknown parameter name\(s\) \['dropuot'\]"),
    ({}, "non-empty mapping"),
    ({"dropout": (0.0, 0.5)}, "must be an Optuna distribution"),
])
def test_bad_search_space_fails_before_training(tmp_path, faces, micro_cnn, space, message):
    X, y = faces
    search = FERSearchCV(make_fer_pipeline(**micro_cnn()), space,
                         storage=f"sqlite:///{tmp_path / 'study.db'}")
    with pytest.raises(ValueError, match=message):
        search.fit(X, y)
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize("n_samples, n_classes, message", [
    (0, 7, "empty dataset"),
    (20, 1, "single class"),
])
def test_bad_data_fails_before_training(tmp_path, new_search, n_samples, n_classes, message):
    X = np.zeros((n_samples, 48, 48), np.uint8)
    y = np.zeros(n_samples, int) if n_classes == 1 else np.arange(n_samples) % n_classes
    with pytest.raises(ValueError, match=message):
        new_search().fit(X, y)
    assert not (tmp_path / "study.db").exists()


def test_class_smaller_than_the_folds_is_reported(faces, new_search):
    X, y = faces
    y = y.copy()
    y[0] = 99  # a class with a single sample cannot appear in both of 2 folds
    with pytest.raises(ValueError, match=r"class\(es\) \[99\] have fewer samples than cv=2"):
        new_search().fit(X, y)


def test_unreachable_storage_fails_before_training(faces, micro_cnn, search_space):
    X, y = faces
    url = "postgresql://fer:secret@127.0.0.1:9/fer_optuna"  # port 9 (discard): nothing listens
    search = FERSearchCV(make_fer_pipeline(**micro_cnn()), search_space, storage=url)
    with pytest.raises(StorageUnavailableError, match=r"fer:\*\*\*@127\.0\.0\.1:9") as error:
        search.fit(X, y)
    assert "secret" not in str(error.value)


@pytest.mark.parametrize("options, message", [
    ({"pruner": "sometimes"}, "pruner must be one of"),
    ({"prune_on": "batch"}, "'prune_on' parameter of FERSearchCV must be a str among"),
    ({"n_trials": 0}, "'n_trials' parameter of FERSearchCV must be an int in the range"),
    ({"n_trials": 2.5}, "'n_trials' parameter of FERSearchCV"),
    ({"n_trials": True}, r"'n_trials' parameter of FERSearchCV .* Got True"),
    ({"timeout": -1}, r"'timeout' parameter of FERSearchCV must be a float in the range "
                      r"\(0.0, inf\) or None. Got -1"),
    ({"timeout": float("nan")}, r"'timeout' parameter of FERSearchCV .* Got nan"),
    ({"heartbeat_interval": 0}, r"'heartbeat_interval' parameter .* \[1, inf\) or None. Got 0"),
    ({"max_retry": -1}, r"'max_retry' parameter .* \[0, inf\) or None. Got -1"),
    ({"subsample": 1.5}, r"'subsample' parameter .* a float in the range \(0.0, 1.0\] or None. "
                         r"Got 1.5"),
])
def test_bad_options_fail_before_the_study(tmp_path, faces, new_search, options, message):
    X, y = faces
    with pytest.raises(ValueError, match=message):
        new_search(**options).fit(X, y)
    assert not (tmp_path / "study.db").exists()


def test_default_space_names_are_classifier_parameters():
    space = default_search_space(tune_base_filters=True, tune_batch_size=True)
    assert set(space) == {"depth", "dropout", "l2", "learning_rate", "base_filters",
                          "batch_size"}
    assert space["learning_rate"].log and space["l2"].log
    params = make_fer_pipeline().named_steps["cnn"].get_params()
    assert set(space) <= set(params)


def test_distribution_from_spec():
    assert distribution_from_spec("depth", {"low": 2, "high": 4}) == IntDistribution(2, 4)
    assert distribution_from_spec("lr", {"low": 1e-4, "high": 1e-2, "log": True}).log
    assert distribution_from_spec("units", [32, 64]).choices == (32, 64)
    with pytest.raises(ValueError, match="needs both 'low' and 'high'"):
        distribution_from_spec("dropout", {"low": 0.1})
    with pytest.raises(ValueError, match="unknown keys"):
        distribution_from_spec("dropout", {"low": 0.1, "hi": 0.2})


def test_describe_storage_hides_the_password():
    assert describe_storage("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"


def test_tuned_epochs_keep_one_step_per_fold_and_epoch(tmp_path, faces, monkeypatch, micro_cnn,
                                                        prune_at_step):
    # Steps are fold * stride + epoch with one stride for every trial, the most epochs the space
    # allows: an epochs=1 trial's second fold reports at step 2, where an epochs=2 trial's
    # second fold starts, so the pruner compares the same fold and epoch.
    from fer_estimator.search import searcher

    X, y = faces
    seen = []
    make_pruner = searcher.make_pruner
    monkeypatch.setattr(searcher, "make_pruner", lambda pruner, *, n_steps: (
        seen.append(n_steps) or make_pruner(pruner, n_steps=n_steps)))
    search = FERSearchCV(
        make_fer_pipeline(**micro_cnn()), {"epochs": CategoricalDistribution([1, 2])},
        storage=f"sqlite:///{tmp_path / 's.db'}", cv=2, n_trials=2, refit=False,
        sampler=optuna.samplers.GridSampler({"epochs": [1, 2]}, seed=0),
        pruner=prune_at_step(99)).fit(X, y)

    steps = {trial.params["epochs"]: set(trial.intermediate_values)
             for trial in search.study_.trials}
    assert steps == {1: {0, 2}, 2: {0, 1, 2, 3}}
    assert seen == [4]  # 2 folds of at most 2 epochs


def test_a_storage_object_without_heartbeats_is_not_waited_on(tmp_path, faces, new_search):
    # A trial left RUNNING by a dead worker never ends without heartbeats: waiting for it (as
    # fit did when heartbeat_interval was left at its default) would never return.
    X, y = faces
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="abandoned", storage=storage, direction="maximize")
    study.ask()  # its worker died before telling
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="no completed trial"):
        new_search(n_trials=1, storage=storage, study_name="abandoned", refit=False,
                   timeout=20).fit(X, y)
    assert time.monotonic() - start < 10


def test_heartbeat_options_given_with_a_storage_object_warn(tmp_path, faces, new_search):
    X, y = faces
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")
    optuna.create_study(study_name="given", storage=storage, direction="maximize").ask()
    with pytest.warns(UserWarning, match=r"heartbeat_interval=10 and max_retry=5 are ignored"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no completed trial
            new_search(n_trials=1, storage=storage, study_name="given", refit=False,
                       heartbeat_interval=10, max_retry=5, timeout=20).fit(X, y)


@pytest.mark.parametrize("options, message", [
    ({"heartbeat_interval": 0}, "heartbeat_interval must be None or a positive int, got 0"),
    ({"grace_period": -1}, "grace_period must be None or a positive int, got -1"),
    ({"max_retry": -1}, "max_retry must be None or a non-negative int, got -1"),
])
def test_open_storage_rejects_bad_heartbeat_options_without_blaming_the_storage(
        tmp_path, options, message):
    with pytest.raises(ValueError, match=message) as error:
        open_storage(f"sqlite:///{tmp_path / 'new' / 's.db'}", **options)
    assert not isinstance(error.value, StorageUnavailableError)
    assert not (tmp_path / "new").exists()


def test_classes_are_counted_in_the_cross_validation_sample(tmp_path, faces, new_search,
                                                            prune_at_step):
    X, y = faces
    y = y.copy()
    y[np.flatnonzero(y == 6)[3:]] = 0  # class 6 keeps 3 rows: enough for 3 folds, not half
    with pytest.raises(ValueError, match=r"class\(es\) \[6\] have fewer samples than cv=3 "
                                         r"folds in the cross-validation sample"):
        new_search(cv=3, subsample=0.5, n_trials=1, pruner=prune_at_step(0),
                   refit=False).fit(X, y)
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize("space, message", [
    ({"depth": IntDistribution(0, 2)}, r"search space entry 'depth' allows 0.*'depth' "
                                       r"parameter of FERClassifier"),
    ({"class_weight": CategoricalDistribution(["balanced", "balance"])},
     r"search space entry 'class_weight' allows 'balance'"),
    ({"epochs": CategoricalDistribution([1, 2])}, r"allows 1.*'warmup_epochs'"),
])
def test_a_space_allowing_an_invalid_value_fails_before_training(tmp_path, faces, micro_cnn,
                                                                 space, message):
    X, y = faces
    # A cosine schedule's warm-up must end before the last epoch: epochs=1 is invalid here.
    cnn = micro_cnn(lr_schedule="cosine", warmup_epochs=1.0)
    search = FERSearchCV(make_fer_pipeline(**cnn), space,
                         storage=f"sqlite:///{tmp_path / 'study.db'}")
    with pytest.raises(ValueError, match=message):
        search.fit(X, y)
    assert not (tmp_path / "study.db").exists()


def test_an_invalid_combination_fails_its_trial_and_the_worker_goes_on(tmp_path, faces, micro_cnn):
    # epochs=1 and warmup_epochs=1.0 are valid alone, not together (a cosine schedule's
    # warm-up ends before the last epoch).
    X, y = faces
    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(study_name="combos", storage=url, direction="maximize").enqueue_trial(
        {"epochs": 1, "warmup_epochs": 1.0})  # the first trial samples that combination
    space = {"epochs": CategoricalDistribution([1, 2]),
             "warmup_epochs": CategoricalDistribution([0.0, 1.0])}
    search = FERSearchCV(make_fer_pipeline(**micro_cnn(), lr_schedule="cosine"), space, cv=2,
                         n_trials=2, storage=url, study_name="combos", pruner="none",
                         refit=False, sampler=optuna.samplers.GridSampler(
                             {"epochs": [2], "warmup_epochs": [0.0, 1.0]}, seed=0))
    search.fit(X, y)

    first, *others = search.study_.trials
    assert first.state == TrialState.FAIL
    assert "'warmup_epochs' parameter of FERClassifier" in first.user_attrs["fail_reason"]
    assert [trial.state for trial in others] == [TrialState.COMPLETE] * 2


def test_a_space_of_invalid_combinations_only_stops_the_worker(tmp_path, faces, micro_cnn):
    X, y = faces
    space = {"epochs": CategoricalDistribution([1]),
             "warmup_epochs": CategoricalDistribution([1.0])}
    search = FERSearchCV(make_fer_pipeline(**micro_cnn(), lr_schedule="cosine"), space, cv=2,
                         n_trials=1,
                         storage=f"sqlite:///{tmp_path / 's.db'}", pruner="none")
    with pytest.raises(ValueError, match=r"the last 10 trials of this worker had invalid "
                                         r"parameters.*'warmup_epochs'"):
        search.fit(X, y)


def test_a_depth_too_deep_for_the_images_is_refused_before_the_study(tmp_path, faces, micro_cnn):
    X, y = faces
    search = FERSearchCV(make_fer_pipeline(**micro_cnn()), {"depth": IntDistribution(1, 6)},
                         storage=f"sqlite:///{tmp_path / 'study.db'}")
    with pytest.raises(ValueError, match=r"search space entry 'depth' allows 6.*depth must "
                                         r"be between 1 and 5"):
        search.fit(X, y)
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize("uri, database", [
    ("sqlite:///file:studies/uri.db?mode=rwc&uri=true", "studies/uri.db"),
    ("sqlite:///file:{tmp}/abs/uri.db?uri=true", "{tmp}/abs/uri.db"),
])
def test_a_sqlite_uri_storage_makes_no_folder_named_file(tmp_path, monkeypatch, uri, database):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    storage = open_storage(uri.format(tmp=tmp_path))
    optuna.create_study(storage=storage, study_name="uri")
    assert (work / database.format(tmp=tmp_path)).is_file()
    assert not any(path.name.startswith("file:") for path in work.iterdir())
