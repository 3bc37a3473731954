"""Several worker processes on one study finish exactly the requested trials together."""

import inspect
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.distributions import distribution_to_json

from fer_estimator.search import StorageUnavailableError, open_storage, trial_counts

ROOT = Path(__file__).resolve().parents[1]
# .ci/run starts a server with .ci/postgres.sh and exports its URL: the PostgreSQL case must
# then pass. Without the variable it tries .ci/postgres.sh's default URL and skips when nothing
# answers there.
POSTGRES_URL = os.environ.get("FER_OPTUNA_POSTGRES_URL")
DEFAULT_POSTGRES_URL = "postgresql://fer:fer@127.0.0.1:5432/fer_optuna"

# A worker: the tiny study of test_search.py, every trial pruned after one epoch (fast). The
# fixtures' micro network, space and pruner are written into its source: a worker is a plain
# Python process, with no fixtures.
WORKER = """
import sys, warnings
import optuna
from optuna.distributions import json_to_distribution
from fer_estimator.pipeline import make_fer_pipeline
from fer_estimator.synthetic import make_synthetic_faces
from fer_estimator.search import FERSearchCV

{pruner_class}
settings = {settings!r}
space = {{name: json_to_distribution(text) for name, text in {space!r}.items()}}
storage, study_name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
X, y = make_synthetic_faces(140, random_state=1)
warnings.simplefilter("ignore", RuntimeWarning)  # no COMPLETE trial: all are pruned
FERSearchCV(make_fer_pipeline(**settings), space, n_trials=n_trials, cv=2,
            pruner={pruner_name}(0), storage=storage, study_name=study_name,
            refit=False).fit(X, y)
"""


@pytest.fixture
def worker(micro_cnn, search_space, prune_at_step):
    """The source of a worker process (WORKER, with the shared network, space and pruner)."""
    return WORKER.format(
        pruner_class=textwrap.dedent(inspect.getsource(prune_at_step)),
        pruner_name=prune_at_step.__name__, settings=micro_cnn(),
        space={name: distribution_to_json(value) for name, value in search_space.items()})


def _run_workers(worker, storage, study_name, n_trials, n_workers=2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    workers = [subprocess.Popen([sys.executable, "-c", worker, storage, study_name,
                                 str(n_trials)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
               for _ in range(n_workers)]
    for process in workers:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]


def _check_study(storage, study_name, n_trials):
    study = optuna.load_study(study_name=study_name, storage=storage)
    counts = trial_counts(study)
    # Exactly n_trials ran to the end; a trial created after the total was claimed ended
    # unrun ("surplus"); nothing failed, nothing is left running or waiting.
    assert counts.pop("PRUNED") == n_trials, counts
    assert set(counts) <= {"surplus"}, counts
    workers = {t.user_attrs["worker"] for t in study.trials if "worker" in t.user_attrs}
    assert len(workers) == 2, f"one worker ran every trial: {workers}"


def test_two_workers_share_a_sqlite_study(tmp_path, worker):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    _run_workers(worker, url, "shared", n_trials=6)
    _check_study(url, "shared", n_trials=6)


def test_two_workers_share_a_postgresql_study(worker):
    url = POSTGRES_URL or DEFAULT_POSTGRES_URL
    try:
        storage = open_storage(url)
    except StorageUnavailableError as error:
        if POSTGRES_URL:
            raise  # a server was named (as CI does): it must answer
        pytest.skip(f"FER_OPTUNA_POSTGRES_URL is unset and no PostgreSQL server answers at "
                    f"{DEFAULT_POSTGRES_URL} (`eval \"$(bash .ci/postgres.sh)\"` starts one "
                    f"and sets it): {error}")
    study_name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        _run_workers(worker, url, study_name, n_trials=6)
        _check_study(storage, study_name, n_trials=6)
    finally:
        optuna.delete_study(study_name=study_name, storage=storage)


OPEN_AT_ONCE = """
import sys, time
from fer_estimator.search import open_storage
start_at = float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))  # every process creates the schema at once
open_storage(sys.argv[1])
"""


def test_workers_opening_a_new_database_together_all_succeed(tmp_path):
    import time

    url = f"sqlite:///{tmp_path / 'new.db'}"
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start_at = str(time.time() + 8.0)  # after every interpreter has imported optuna
    openers = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, url, start_at], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(4)]
    for opener in openers:
        output, _ = opener.communicate(timeout=120)
        assert opener.returncode == 0, output[-3000:]
