"""Pictures of a study for people: optimisation history and parameter importances."""

import warnings
from pathlib import Path

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as optuna_plots

from fer_estimator.persistence import write_atomically


def _save(axes, path):
    figure = axes.figure
    figure.tight_layout()
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120))
    plt.close(figure)
    return Path(path)


def study_plot_names(stem):
    """The file names :func:`save_study_plots` may write for ``stem``."""
    return f"{stem}-history.png", f"{stem}-importances.png"


def save_study_plots(study, directory, stem):
    """Save the optimisation history and the parameter importances as PNG files.

    Parameters
    ----------
    study : optuna.Study
    directory : str or path-like
    stem : str
        File name prefix: ``<stem>-history.png`` and ``<stem>-importances.png``.

    Returns
    -------
    list of pathlib.Path
        The files written. Importances need two COMPLETE trials whose parameters vary;
        with fewer they are skipped.
    """
    directory = Path(directory)
    history_name, importances_name = study_plot_names(stem)
    written = []
    with warnings.catch_warnings():
        # optuna.visualization.matplotlib is "experimental" since Optuna 2.2.
        warnings.simplefilter("ignore", ExperimentalWarning)
        written.append(_save(optuna_plots.plot_optimization_history(study),
                             directory / history_name))
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) >= 2 and any(t.params != completed[0].params for t in completed):
            written.append(_save(optuna_plots.plot_param_importances(study),
                                 directory / importances_name))
    return written
