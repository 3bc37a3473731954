"""The inference install as a user gets it: the wheel installed with ``[demo]`` into a fresh
virtual environment (no system site packages, dependencies from the package registry) runs the
README's main job, with neither Keras nor TensorFlow there (issue #19)."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from fer_estimator._extras import TRAINING_MODULES

pytestmark = pytest.mark.slow

# Installing resolves about 20 packages: minutes on a cold pip cache, seconds on a warm one.
INSTALL_TIMEOUT = 900


def _registry_unreachable():
    """Why the package registry pip installs from cannot be reached; None when it can."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/pip/", timeout=10):
            return None
    except (OSError, ValueError) as error:
        return f"{index}: {error}"


def _venv_env(venv):
    """The environment of a command in ``venv``, as after activating it: nothing of this
    checkout's on the path (PYTHONPATH would import its sources instead of the wheel's)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "VIRTUAL_ENV": str(venv),
            "PATH": os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])}


@pytest.fixture(scope="module")
def inference_venv(wheel, tmp_path_factory):
    """A fresh virtual environment with ``<wheel>[demo]`` installed: the README's first
    command's install, without the training packages."""
    unreachable = _registry_unreachable()
    if unreachable is not None:
        pytest.skip(f"the package registry is unreachable ({unreachable}): installing the "
                    f"inference set needs it")
    venv = tmp_path_factory.mktemp("inference") / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, timeout=300)
    if made.returncode != 0:  # Debian's python3 without python3-venv (ensurepip) installed
        pytest.skip(f"no virtual environment could be made: {made.stderr.strip()}")
    subprocess.run(["nice", "-n", "5", str(venv / "bin" / "python"), "-m", "pip", "install",
                    "--quiet", f"{wheel}[demo]"], env=_venv_env(venv), check=True,
                   timeout=INSTALL_TIMEOUT)
    return venv


def _run_in(venv, *command, cwd=None):
    return subprocess.run(command, env=_venv_env(venv), cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_inference_install_holds_no_training_package(inference_venv):
    for module in ("keras", "tensorflow"):
        result = _run_in(inference_venv, "python", "-c", f"import {module}")
        assert f"No module named '{module}'" in result.stderr, (module, result.stderr)
    result = _run_in(inference_venv, "python", "-c",
                     "import importlib.util\n"
                     f"print(sorted(name for name in {sorted(TRAINING_MODULES)!r} "
                     f"if importlib.util.find_spec(name)))")
    assert result.stdout.strip() == "[]", result.stderr


def test_readme_main_job_runs_without_keras(inference_venv, tmp_path):
    """``fer-estimator predict --demo --out astronaut-emotions.jpg``, from an empty folder:
    the astronaut's one face found and classified by the shipped model in onnxruntime."""
    out = tmp_path / "astronaut-emotions.jpg"
    result = _run_in(inference_venv, "fer-estimator", "predict", "--demo", "--out", out.name,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("astronaut: 1 face: "), result.stdout
    assert out.stat().st_size > 0
    # The wheel's copy ran, not this checkout's.
    result = _run_in(inference_venv, "python", "-c",
                     "import fer_estimator; print(fer_estimator.__file__)", cwd=tmp_path)
    assert Path(result.stdout.strip()).is_relative_to(inference_venv), result.stdout
