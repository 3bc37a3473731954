"""Shared fixtures: synthetic faces, tiny CNN settings and the optional ../shared folder."""

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up chatter

import numpy as np
import pandas as pd
import pytest

from fer_estimator.presets import MICRO, TINY
from fer_estimator.synthetic import make_synthetic_faces

# A CNN small enough to fit in seconds on two CPU cores, still able to learn the synthetic faces;
# seeded, so every run of a test trains the same network (the presets carry no seed).
TINY_CNN = {**TINY, "random_state": 0}
# The smallest network that runs, seeded: for tests of the plumbing, not of learning.
MICRO_CNN = {**MICRO, "random_state": 0}


def load_script(name):
    """Import ``scripts/<name>.py`` (the scripts folder is not a package) as a module."""
    scripts = Path(__file__).resolve().parent.parent / "scripts"
    # As when a script runs: its own folder on the path, for scripts/_shared.py.
    if str(scripts) not in sys.path:
        sys.path.append(str(scripts))
    spec = importlib.util.spec_from_file_location(name, scripts / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fail_if_a_network_is_built(monkeypatch):
    """From now on in the test, building a FERClassifier's Keras network raises."""
    from fer_estimator import FERClassifier

    def build(*args, **kwargs):
        raise AssertionError("a network was built")

    monkeypatch.setattr(FERClassifier, "_keras_build_fn", build)
    monkeypatch.setattr("fer_estimator.classifier.build_network", build)


@contextlib.contextmanager
def building_no_network_nor_drawing_random_numbers(monkeypatch):
    """Fail the test if the code in the ``with`` block builds a Keras network of a
    FERClassifier or draws from NumPy's global random generator."""
    fail_if_a_network_is_built(monkeypatch)
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    yield
    assert np.random.rand() == expected, "the global NumPy random generator was used"


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
