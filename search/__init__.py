"""Optuna hyperparameter search over the FER pipeline (cross-validated, prunable, shared).

Installed as ``fer_estimator.search`` (the repository keeps it in the top-level ``search/``
folder). ``import fer_estimator.search`` loads neither Optuna nor Keras: the names below load
their module on first use.
"""

from fer_estimator._lazy import attach

from .options import PRUNE_ON, PRUNERS, default_storage_url

# Public name -> the submodule that defines it, imported on first access.
_LAZY_NAMES = {
    "FERSearchCV": "searcher",
    "StorageUnavailableError": "storage",
    "build_report": "report",
    "create_or_load_study": "study",
    "default_search_space": "space",
    "describe_storage": "storage",
    "device_summary": "report",
    "distribution_from_spec": "space",
    "make_pruner": "pruners",
    "open_storage": "storage",
    "run_trials": "study",
    "save_study_plots": "plots",
    "summary_table": "report",
    "trial_counts": "report",
}

# A list literal, sorted in place, so that linters see the re-exported names.
__all__ = ["PRUNERS", "PRUNE_ON", "default_storage_url", *_LAZY_NAMES]
__all__.sort()


__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
