"""Where the project keeps its shipped models, and where the development data sits, found
relative to the source checkout."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "fer2013-7class.joblib"
# The team's data folder beside the checkout (absent on fresh machines): the default data of
# the scripts, and what the tests that need real data look for.
SHARED_DIR = PROJECT_ROOT.parent / "shared"
SHARED_FER2013_CSV = SHARED_DIR / "data" / "fer2013.csv.gz"
