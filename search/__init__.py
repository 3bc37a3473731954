"""Optuna hyperparameter search over the FER pipeline (cross-validated, prunable, shared)."""

from .plots import save_study_plots
from .pruners import PRUNERS, make_pruner
from .report import build_report, device_summary, summary_table, trial_counts
from .searcher import FERSearchCV
from .space import default_search_space, distribution_from_spec
from .storage import StorageUnavailableError, default_storage_url, describe_storage, open_storage
from .study import create_or_load_study, run_trials

__all__ = [
    "FERSearchCV",
    "PRUNERS",
    "StorageUnavailableError",
    "build_report",
    "create_or_load_study",
    "default_search_space",
    "default_storage_url",
    "describe_storage",
    "device_summary",
    "distribution_from_spec",
    "make_pruner",
    "open_storage",
    "run_trials",
    "save_study_plots",
    "summary_table",
    "trial_counts",
]
