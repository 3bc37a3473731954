"""Where the shipped models are, installed or in a source checkout. Imports nothing heavy: the
command line's ``--help`` reads it."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# pyproject.toml maps the repository's models/ folder to fer_estimator/models: a wheel install
# has it there, as package data; a source checkout (editable install or not) has it beside the
# package.
_INSTALLED_MODELS_DIR = PACKAGE_DIR / "models"
MODELS_DIR = (_INSTALLED_MODELS_DIR if _INSTALLED_MODELS_DIR.is_dir()
              else PACKAGE_DIR.parent / "models")
# The safe format (never unpickled); scripts/make_safe_models.py derives it from the joblib file.
DEFAULT_MODEL_PATH = MODELS_DIR / "fer2013-7class.fer.zip"
