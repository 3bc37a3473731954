"""The package as users install it: quick to import, one top-level package in the wheel, the
shipped model inside it, and one command line."""

import importlib
import os
import re
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

import fer_estimator
from fer_estimator._extras import TRAINING_MODULES
from fer_estimator._paths import DEFAULT_MODEL_PATH, MODELS_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("keras", "tensorflow", "jax", "torch", "optuna", "matplotlib")
# What the inference install (pyproject.toml's dependencies) holds: no training package.
INFERENCE_SET = {"numpy", "opencv-python-headless", "pillow", "onnxruntime", "scikit-learn",
                 "joblib", "tqdm"}
# The training install's packages, which the inference install leaves out: the `train` extra.
TRAINING_ONLY = ("keras", "tensorflow", "scikeras", "optuna", "sqlalchemy", "pandas",
                 "matplotlib", "h5py", "tf2onnx", "onnx")
# Run first in a subprocess: from then on, importing a training package fails as it does where
# it is not installed (ModuleNotFoundError naming it), even in this environment, which has them.
WITHOUT_TRAINING_INSTALL = (
    "import importlib.abc, sys\n"
    "class NotInstalled(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name.partition('.')[0] in {TRAINING_ONLY!r}:\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, NotInstalled())\n")
TRAINING_INSTALL_LINE = 'needs the training install: pip install "fer-estimator[train]"'
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


def test_the_predict_serve_and_live_code_imports_without_the_training_install():
    """What the inference install runs imports none of the training packages: the face
    pipeline, serve's and live's modules, the ONNX runtime, and every command's --help."""
    result = _run_python(
        WITHOUT_TRAINING_INSTALL
        + "import contextlib, io\n"
          "import fer_estimator.faces, fer_estimator.serve\n"
          "from fer_estimator.faces import FacePipeline, FaceResults\n"
          "import fer_estimator.faces.batch, fer_estimator.faces.media\n"
          "import fer_estimator.serve.app, fer_estimator.serve.live, fer_estimator.serve.model\n"
          "import fer_estimator.runtime, fer_estimator.data\n"
          "from fer_estimator.cli import COMMANDS, main\n"
          "for command in COMMANDS:\n"
          "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
          "        main([command.name, '--help'])\n"
          f"print(sorted(name for name in sys.modules if name.partition('.')[0] in "
          f"{TRAINING_ONLY!r}))\n")
    assert result.stdout.strip() == "[]"


def test_results_write_their_csv_without_pandas(tmp_path, monkeypatch):
    """``predict --csv`` on the inference install: the bytes pandas' ``to_csv`` writes."""
    from fer_estimator.faces import Face, FaceResults, ImageFaces

    classes = ("Happy", "Sad, or not")
    faces = [Face(box=(1, 2, 30, 40), label="Happy", score=float("nan"),
                  probabilities={"Happy": 0.7, "Sad, or not": 0.30000001192092896}),
             Face(box=(5, 6, 7, 8), label="Sad, or not", score=0.5,
                  probabilities={"Happy": 1 / 3, "Sad, or not": 2 / 3})]
    results = FaceResults([ImageFaces(os.fsdecode(b'caf\xe9 "1".jpg'), None, 64, 48, faces),
                           ImageFaces(3, 7, 64, 48, faces[1:]), ImageFaces("none.png", None, 9, 9)],
                          classes)
    results.to_frame().to_csv(tmp_path / "pandas.csv", index=False, errors="surrogateescape")
    monkeypatch.setitem(sys.modules, "pandas", None)  # importing it now fails
    results.to_csv(tmp_path / "own.csv")
    assert (tmp_path / "own.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    with pytest.raises(ImportError, match=r"^FaceResults.to_frame needs pandas: pip install "
                                          r"pandas$"):
        results.to_frame()


@pytest.mark.parametrize("statement, feature", [
    ("from fer_estimator import FERClassifier", "FERClassifier"),
    ("fer_estimator.make_fer_pipeline()", "FERClassifier"),
    ("from fer_estimator.search import FERSearchCV", "fer_estimator.search"),
    ("import fer_estimator.search.storage", "fer_estimator.search"),
    # Any regular file: pandas is imported before it is read (a cached load needs no pandas).
    ("fer_estimator.load_fer2013(sys.executable, cache=False)", "load_fer2013"),
    ("import fer_estimator.training", "training"),
    ("import fer_estimator.evaluation", "evaluation"),
    ("from fer_estimator.faces.training_set import cut_faces", "cut_faces"),
    # A pickled pipeline: unpickling it imports FERClassifier.
    (f"fer_estimator.load_joblib({str(MODELS_DIR / 'fer2013-7class.joblib')!r})",
     "FERClassifier"),
])
def test_training_features_without_the_training_install_name_its_pip_install(statement,
                                                                            feature):
    result = _run_python(
        WITHOUT_TRAINING_INSTALL
        + "import fer_estimator\n"
          "try:\n"
          f"    {statement}\n"
          "except ImportError as error:\n"
          "    print(type(error).__name__, error, sep=': ')\n")
    assert result.stdout.strip() == f"MissingInstallError: {feature} {TRAINING_INSTALL_LINE}"


@pytest.mark.parametrize("command, feature", [
    (["train", "--out", "{tmp}/model.fer.zip"], "training"),
    (["evaluate", "--data", "{tmp}/data.csv"], "evaluation"),
    (["search", "--synthetic", "--models-dir", "{tmp}/search"], "the search"),
    (["cut-faces", "{tmp}", "--out", "{tmp}/faces"], "cut_faces"),
])
def test_training_commands_without_the_training_install_stop_with_one_line(command, feature,
                                                                           tmp_path):
    argv = [part.format(tmp=tmp_path) for part in command]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TRAINING_INSTALL
         + f"from fer_estimator.cli import main\nsys.exit(main({argv!r}))\n"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"fer-estimator {command[0]}: error: {feature} {TRAINING_INSTALL_LINE}")


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


def _declared_requirements(wheel):
    """The wheel's Requires-Dist lines: ``{extra (None: the base install): {name: extras}}``,
    names lowercased, extras a sorted tuple."""
    names = zipfile.ZipFile(wheel).namelist()
    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    declared = {}
    for line in metadata.splitlines():
        match = re.fullmatch(r"Requires-Dist: ([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?[^;]*"
                             r"(?:; extra == \"([^\"]+)\")?", line)
        if match:
            name, extras, extra = match.groups()
            declared.setdefault(extra, {})[name.lower()] = tuple(sorted(
                part.strip() for part in (extras or "").split(",") if part.strip()))
    return declared


def test_wheel_declares_what_the_code_imports(wheel):
    declared = _declared_requirements(wheel)
    assert set(declared[None]) == INFERENCE_SET
    # The names of the training packages are their modules' names, which the one-line error
    # of a missing training install recognises.
    assert set(declared["train"]) == set(TRAINING_ONLY) == TRAINING_MODULES
    assert "optuna-integration" not in {name for extra in declared.values() for name in extra}
    assert declared["dask"] == {"dask": ("distributed",)}
    assert declared["test"]["fer-estimator"] == ("dask", "serve", "train")
    assert declared["all"] == {"fer-estimator": ("dask", "demo", "serve", "train")}
