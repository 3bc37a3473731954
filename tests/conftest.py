"""The tests' one support module: every shared helper is a fixture here (synthetic faces, the
tests' CNN settings, scripts, tampered archives, search helpers, guards, the ../shared folder).
Test modules request these fixtures; none imports this module or another test module."""

import contextlib
import importlib.util
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up chatter

import numpy as np
import pandas as pd
import pytest

from fer_estimator.presets import MICRO, TINY
from fer_estimator.synthetic import make_synthetic_faces


# ---- the tests' networks -----------------------------------------------------------------------
def _seeded_settings(preset):
    """A function returning a fresh, seeded copy of ``preset`` with any overrides."""
    def settings(**overrides):
        return {**preset, "random_state": 0, **overrides}
    return settings


@pytest.fixture(scope="session")
def tiny_cnn():
    """``tiny_cnn(**overrides)``: a fresh dict of TINY's FERClassifier settings, seeded."""
    # Fits in seconds on two CPU cores, still able to learn the synthetic faces. Seeded: every
    # run of a test trains the same network (the presets carry no seed). A fresh dict per call:
    # no test can change another's settings; session-scoped for module-scoped fixtures.
    return _seeded_settings(TINY)


@pytest.fixture(scope="session")
def micro_cnn():
    """``micro_cnn(**overrides)``: a fresh dict of MICRO's FERClassifier settings, seeded."""
    # The smallest network that runs: for tests of the plumbing, not of learning.
    return _seeded_settings(MICRO)


# ---- scripts/ -----------------------------------------------------------------------------------
def _load_script(name):
    """Import ``scripts/<name>.py`` (the scripts folder is not a package) as a module."""
    scripts = Path(__file__).resolve().parent.parent / "scripts"
    # As when a script runs: its own folder on the path, for scripts/_shared.py.
    if str(scripts) not in sys.path:
        sys.path.append(str(scripts))
    spec = importlib.util.spec_from_file_location(name, scripts / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)``: ``scripts/<name>.py`` imported as a module, afresh each call."""
    return _load_script


# ---- guards: what the code under test must not do -----------------------------------------------
@pytest.fixture
def forbid_network_building(monkeypatch):
    """``forbid_network_building()``: from then on in the test, building a network raises."""
    def forbid():
        from fer_estimator import FERClassifier

        def build(*args, **kwargs):
            raise AssertionError("a network was built")

        monkeypatch.setattr(FERClassifier, "_keras_build_fn", build)
        monkeypatch.setattr("fer_estimator.classifier.build_network", build)
    return forbid


def _same_numpy_state(state, other):
    """Whether two ``np.random.get_state()`` tuples are the same state."""
    (name, keys, *rest), (other_name, other_keys, *other_rest) = state, other
    return name == other_name and np.array_equal(keys, other_keys) and rest == other_rest


@contextlib.contextmanager
def _global_rng_untouched():
    """Assert that the block leaves NumPy's and Python's global random generators as it found
    them: nothing drawn from them, neither re-seeded."""
    # Seeded from fresh entropy, not a fixed seed: code re-seeding with the test's fixed seed
    # (ensemble members take seeds 0 to 4) would leave that seed's state as it found it.
    np.random.seed(secrets.randbits(32))
    random.seed(secrets.randbits(64))
    numpy_state, python_state = np.random.get_state(), random.getstate()
    yield
    # Compared first, asserted after: a failure names the generator, without 624-word dumps.
    numpy_untouched = _same_numpy_state(np.random.get_state(), numpy_state)
    python_untouched = random.getstate() == python_state
    assert numpy_untouched, ("NumPy's global random generator (np.random) was drawn from or "
                             "re-seeded")
    assert python_untouched, ("Python's global random generator (the random module) was drawn "
                              "from or re-seeded")


@pytest.fixture
def global_rng_untouched():
    """``with global_rng_untouched():`` fails if the block draws from or seeds a global RNG."""
    return _global_rng_untouched


# ---- .fer.zip archives --------------------------------------------------------------------------
def _rewrite_archive(source, target, description=None, network=None, raw_description=None,
                     members=None):
    """A copy of the archive ``source`` with its description, network or members edited."""
    from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER

    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    if description is not None:
        contents[DESCRIPTION_MEMBER] = json.dumps(description(json.loads(
            contents[DESCRIPTION_MEMBER])))
    if raw_description is not None:
        contents[DESCRIPTION_MEMBER] = raw_description(contents[DESCRIPTION_MEMBER].decode())
    if network is not None:
        contents[NETWORK_MEMBER] = network
    if members is not None:
        contents = members(contents)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return target


@pytest.fixture(scope="session")
def rewrite_archive():
    """``rewrite_archive(source, target, **edits)``: an edited copy of a .fer.zip archive."""
    return _rewrite_archive


# ---- search studies -----------------------------------------------------------------------------
@pytest.fixture
def search_space():
    """A fresh FERSearchCV space of two parameters (dropout, learning rate) for tiny studies."""
    from optuna.distributions import FloatDistribution

    return {"dropout": FloatDistribution(0.0, 0.5),
            "learning_rate": FloatDistribution(1e-3, 1e-2, log=True)}


@pytest.fixture(scope="session")
def prune_at_step():
    """The pruner class ``PruneAtStep(step)``: prunes every trial reporting at ``step`` or later."""
    import optuna  # here, not at the top: most test modules never need it

    class PruneAtStep(optuna.pruners.BasePruner):
        """Prunes every trial that reports at ``step`` or later (``PruneAtStep(0)``: at its
        first report)."""

        def __init__(self, step):
            self.step = step

        def prune(self, study, trial):
            return trial.last_step >= self.step

    return PruneAtStep


@pytest.fixture
def micro_search_options():
    """A fresh list of ``fer-search`` options: the micro network, trained 2 epochs."""
    return ["--preset", "micro", "--epochs", "2"]


# ---- the wheel ----------------------------------------------------------------------------------
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The folders the wheel's packages come from (pyproject.toml's packages and package-dir): their
# new files count before they are committed; other untracked files (a training run's
# checkpoints) stay out of the copy.
PACKAGE_FOLDERS = ("fer_estimator/", "search/", "models/")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The project's wheel, built once per session, offline (no build isolation), from a copy
    of the working tree's project files: the tracked ones and the new files of the package
    folders (a build writes build/ and *.egg-info beside the sources)."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the project's files")
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("the build backend (setuptools, in the test extra) is not installed")
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")

    def git_files(*options):
        return subprocess.run(["git", "ls-files", *options], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, check=True).stdout.splitlines()

    new = [name for name in git_files("--others", "--exclude-standard")
           if name.startswith(PACKAGE_FOLDERS)]
    for name in [*git_files(), *new]:
        if (PROJECT_ROOT / name).is_file():  # a tracked file deleted in the working tree is not
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(source)], check=True, timeout=600)
    [path] = dist.glob("fer_estimator-*.whl")
    return path


# ---- the team's shared data (development paths: the library knows nothing of them) ----------
# The shared/ folder beside the checkout; $FER_ESTIMATOR_SHARED_DIR points elsewhere (a git
# worktree's parent is not the checkout's). scripts/_shared.py finds the same folder.
SHARED_DIR = Path(os.environ.get("FER_ESTIMATOR_SHARED_DIR",
                                 Path(__file__).resolve().parent.parent.parent / "shared"))
SHARED_FER2013_CSV = SHARED_DIR / "data" / "fer2013.csv.gz"
SHARED_GROUP_PHOTO = SHARED_DIR / "data" / "photos" / "group_selfie.jpg"


def require_shared(path):
    """Skip the calling test when a ../shared file is absent (fresh machines do not have it)."""
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the project's shared data beside the "
                    f"checkout (../shared)")
    return path


@pytest.fixture
def shared_fer2013_csv():
    """The shared FER2013 CSV; skips the test when it is absent."""
    return require_shared(SHARED_FER2013_CSV)


@pytest.fixture
def shared_group_photo():
    """The shared group photo (2048x1536, six faces); skips the test when it is absent."""
    return require_shared(SHARED_GROUP_PHOTO)
# ---- end of the shared data -------------------------------------------------------------------


@pytest.fixture(scope="session")
def synthetic_faces():
    """700 synthetic 48×48 uint8 faces (100 per class) and their int labels."""
    return make_synthetic_faces(700, random_state=0)


@pytest.fixture(scope="session")
def synthetic_split(synthetic_faces):
    """The synthetic faces split 500 / 200 into train and test."""
    X, y = synthetic_faces
    return X[:500], y[:500], X[500:], y[500:]


@pytest.fixture(scope="session")
def scaled_images(synthetic_faces):
    """The synthetic faces as FERClassifier takes them: float32 (n, 48, 48, 1) in [0, 1]."""
    X, y = synthetic_faces
    return (X[..., np.newaxis] / 255.0).astype(np.float32), y


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    """A small FER2013-format CSV: 210 Training and 70 PublicTest rows of synthetic faces."""
    X, y = make_synthetic_faces(280, random_state=1)
    usage = ["Training"] * 210 + ["PublicTest"] * 70
    path = tmp_path_factory.mktemp("data") / "fer2013.csv"
    pd.DataFrame({"emotion": y, "pixels": [" ".join(map(str, image.ravel())) for image in X],
                  "Usage": usage}).to_csv(path, index=False)
    return path
