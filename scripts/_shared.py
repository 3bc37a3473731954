"""Where the team's data sits for the scripts: the ``shared/`` folder beside the checkout.

Development paths, not the library's: an installed package knows nothing of them. Absent on
fresh machines; ``$FER_ESTIMATOR_SHARED_DIR`` points elsewhere (a git worktree's parent is not
the checkout's). The tests find the same folder through ``tests/conftest.py``.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("FER_ESTIMATOR_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SHARED_FER2013_CSV = SHARED_DIR / "data" / "fer2013.csv.gz"
SHARED_GROUP_PHOTO = SHARED_DIR / "data" / "photos" / "group_selfie.jpg"
