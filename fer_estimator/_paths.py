"""Where the shipped models are, installed or in a source checkout, and where the development
data sits. Imports nothing heavy: the command line's ``--help`` reads it."""

import importlib.util
import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
# pyproject.toml maps the repository's models/ folder to fer_estimator/models: a wheel install
# has it there, as package data; a source checkout (editable install or not) has it beside the
# package.
_INSTALLED_MODELS_DIR = PACKAGE_DIR / "models"
MODELS_DIR = _INSTALLED_MODELS_DIR if _INSTALLED_MODELS_DIR.is_dir() else PROJECT_ROOT / "models"
# The safe format (never unpickled); scripts/make_safe_models.py derives it from the joblib file.
DEFAULT_MODEL_PATH = MODELS_DIR / "fer2013-7class.fer.zip"
# The team's data folder beside the checkout (absent on fresh machines and in installs): the
# default data of the scripts, and what the tests that need real data look for.
# $FER_ESTIMATOR_SHARED_DIR points elsewhere (a git worktree's parent is not the checkout's).
SHARED_DIR = Path(os.environ.get("FER_ESTIMATOR_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SHARED_FER2013_CSV = SHARED_DIR / "data" / "fer2013.csv.gz"
SHARED_GROUP_PHOTO = SHARED_DIR / "data" / "photos" / "group_selfie.jpg"


def checkout_search_dir():
    """The repository's top-level ``search/`` folder when running from a source checkout, else
    None (an install has it inside the package, as ``fer_estimator/search``)."""
    folder = PROJECT_ROOT / "search"
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (folder / "__init__.py").is_file():
        return folder
    return None


class _SubpackageFinder:
    """An import finder for one subpackage kept outside its package's folder: ``name`` (a full
    dotted name) is the package ``folder``; its submodules are found in ``folder`` as usual."""

    def __init__(self, name, folder):
        self.name, self.folder = name, Path(folder)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(
            fullname, self.folder / "__init__.py", submodule_search_locations=[str(self.folder)])


def map_subpackage(name, folder):
    """Import the package ``folder`` as ``name`` (``fer_estimator.search`` from a checkout's
    top-level ``search/``), ahead of other finders; nothing else of ``folder``'s parent becomes
    importable under the package. Calling it again for the same ``name`` changes nothing."""
    if not any(isinstance(finder, _SubpackageFinder) and finder.name == name
               for finder in sys.meta_path):
        sys.meta_path.insert(0, _SubpackageFinder(name, folder))


def shared_yunet_model():
    """The newest ``face_detection_yunet*.onnx`` in the shared models folder, or None."""
    return max((SHARED_DIR / "models").glob("face_detection_yunet*.onnx"), default=None)
