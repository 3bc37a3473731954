"""The package as users install it: quick to import, one top-level package in the wheel, the
shipped model inside it, and one command line."""

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

import fer_estimator
from fer_estimator._paths import DEFAULT_MODEL_PATH, MODELS_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("keras", "tensorflow", "jax", "torch", "optuna", "matplotlib")
# The shipped model files that travel in the wheel (pyproject.toml's package-data).
PACKAGED_MODEL_PATTERNS = ("README.md", "*.json", "*.fer.zip")


def _run_python(code, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, check=True, timeout=300)


def test_importing_the_package_and_building_the_cli_load_no_heavy_library():
    result = _run_python(
        "import contextlib, io, sys\n"
        "import fer_estimator, fer_estimator.search\n"
        "from fer_estimator.cli import main\n"
        "for command in ('predict', 'train', 'evaluate', 'search'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main([command, '--help'])\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n")
    assert result.stdout.strip() == "[]"


def test_public_names_load_on_first_use():
    from fer_estimator.classifier import FERClassifier

    assert fer_estimator.FERClassifier is FERClassifier
    assert set(fer_estimator.__all__) <= set(dir(fer_estimator))
    for name in fer_estimator.__all__:
        assert getattr(fer_estimator, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'FERClasifier'"):
        fer_estimator.FERClasifier  # noqa: B018


def test_search_is_a_subpackage_of_fer_estimator():
    import fer_estimator.search as search

    assert search.FERSearchCV.__module__ == "fer_estimator.search.searcher"
    # From the checkout's root, where a top-level `search` package could be imported by mistake.
    result = _run_python(
        "import sys\n"
        "import fer_estimator.search, fer_estimator.search.cli\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'search'))\n",
        cwd=PROJECT_ROOT)
    assert result.stdout.strip() == "[]"


def test_only_search_of_the_checkout_joins_the_package():
    """In a checkout, the top-level search/ folder is fer_estimator.search (pyproject.toml's
    package-dir, which an editable install maps too); the checkout's other folders are not
    modules of the package: no second copy of fer_estimator."""
    for name in ("fer_estimator.fer_estimator", "fer_estimator.scripts", "fer_estimator.tests"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(name)


def test_importing_the_package_adds_no_import_finder():
    result = _run_python("import sys\n"
                         "import fer_estimator, fer_estimator.search.cli, fer_estimator.faces\n"
                         "print([type(finder).__module__ for finder in sys.meta_path])\n")
    assert "fer_estimator" not in result.stdout, result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the committed tree (a build writes build/ and
    *.egg-info beside the sources), offline: no build isolation."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the project's files")
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("the build backend (setuptools, in the test extra) is not installed")
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    files = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (PROJECT_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(source)], check=True, timeout=600)
    [path] = dist.glob("fer_estimator-*.whl")
    return path


def test_wheel_holds_one_top_level_package_with_search_and_the_shipped_model(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == {"fer_estimator"}
    assert "fer_estimator/search/searcher.py" in names
    assert "fer_estimator/search/cli.py" in names

    packaged = {name.split("/")[-1] for name in names if name.startswith("fer_estimator/models/")}
    expected = {path.name for path in MODELS_DIR.iterdir()
                if any(fnmatch(path.name, pattern) for pattern in PACKAGED_MODEL_PATTERNS)}
    expected.add(DEFAULT_MODEL_PATH.name)  # what `fer-estimator predict` loads by default
    assert packaged == expected  # nothing else: no evaluation figures, no other variant

    entry_points = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith("entry_points.txt"))).decode()
    assert "fer-estimator = fer_estimator.cli:main" in entry_points
    assert "fer-search = fer_estimator.cli:search_main" in entry_points


def test_wheel_declares_what_the_code_imports(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    required = {line.split(":", 1)[1].split(";")[0].strip().split(">")[0].split("<")[0]
                .split("=")[0].split("[")[0].strip().lower()
                for line in metadata.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert "optuna-integration" not in required
    assert {"sqlalchemy", "optuna", "scikeras", "keras", "scikit-learn"} <= required
