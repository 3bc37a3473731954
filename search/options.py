"""The search's option names and defaults, in a module that imports neither Optuna nor Keras:
the command line builds its ``--help`` from them."""

from pathlib import Path

# Pruners selectable by name (see fer_estimator.search.pruners.make_pruner).
PRUNERS = ("median", "hyperband", "none")
# What a trial reports for pruning (see fer_estimator.search.objective).
PRUNE_ON = ("epoch", "fold")

# Heartbeats of running trials (seconds), and retries of a dead worker's trial.
DEFAULT_HEARTBEAT_INTERVAL = 60
DEFAULT_MAX_RETRY = 2

DEFAULT_STUDIES_DIR = "studies"
DEFAULT_STUDY_DB = "fer-search.db"


def default_storage_url(directory=DEFAULT_STUDIES_DIR):
    """Return the embedded default: ``sqlite:///<directory>/fer-search.db`` (relative to the cwd).

    Parameters
    ----------
    directory : str or path-like, default="studies"
        Folder of the SQLite file; created by :func:`~fer_estimator.search.open_storage` when
        missing.

    Returns
    -------
    str
    """
    return f"sqlite:///{Path(directory) / DEFAULT_STUDY_DB}"
