"""Where the project keeps its shipped models, and where the development data sits, found
relative to the source checkout."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
# The safe format (never unpickled); scripts/make_safe_models.py derives it from the joblib file.
DEFAULT_MODEL_PATH = MODELS_DIR / "fer2013-7class.fer.zip"
# The team's data folder beside the checkout (absent on fresh machines): the default data of
# the scripts, and what the tests that need real data look for. $FER_ESTIMATOR_SHARED_DIR points
# elsewhere (a git worktree's parent is not the checkout's).
SHARED_DIR = Path(os.environ.get("FER_ESTIMATOR_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SHARED_FER2013_CSV = SHARED_DIR / "data" / "fer2013.csv.gz"
SHARED_GROUP_PHOTO = SHARED_DIR / "data" / "photos" / "group_selfie.jpg"


def shared_yunet_model():
    """The newest ``face_detection_yunet*.onnx`` in the shared models folder, or None."""
    return max((SHARED_DIR / "models").glob("face_detection_yunet*.onnx"), default=None)
