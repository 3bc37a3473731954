"""What a study tells people: progress lines, trial counts, a summary table, a JSON report."""

import sys
from collections import Counter

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    import keras
    from optuna.trial import TrialState

from .study import FINISHED_STATES


def _format_params(params):
    return ", ".join(f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in params.items())


def _seconds(trial):
    if trial.datetime_start is None or trial.datetime_complete is None:
        return float("nan")
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def is_surplus(trial):
    """Whether ``trial`` was ended unrun because the study already had its trials."""
    return bool(trial.user_attrs.get("surplus"))


class ProgressPrinter:
    """Optuna callback printing one line per finished trial.

    Parameters
    ----------
    n_trials : int
        The study's requested total, shown as ``[done/total]``.
    stream : file-like, default=sys.stdout
    """

    def __init__(self, n_trials, stream=None):
        self.n_trials = n_trials
        self.stream = stream

    def __call__(self, study, trial):
        if is_surplus(trial):
            return
        done = len(study.get_trials(deepcopy=False, states=FINISHED_STATES))
        value = "" if trial.value is None else f" score={trial.value:.4f}"
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = f" best={study.best_value:.4f}" if completed else ""
        reason = trial.user_attrs.get("fail_reason")  # invalid parameters (run_trials)
        print(f"[{done}/{self.n_trials}] trial {trial.number} {trial.state.name}{value}{best} "
              f"epochs={trial.user_attrs.get('epochs_trained', '?')} "
              f"{_seconds(trial):.0f}s | {_format_params(trial.params)}"
              f"{f' | {reason}' if reason else ''}",
              file=self.stream or sys.stdout, flush=True)


def trial_counts(study):
    """Count the study's trials per state (``surplus``: ended unrun, see ``run_trials``).

    Returns
    -------
    dict of str to int
    """
    counts = Counter("surplus" if is_surplus(trial) else trial.state.name
                     for trial in study.get_trials(deepcopy=False))
    return dict(sorted(counts.items()))


def epochs_trained(study):
    """Total epochs trained by all finished trials of the study (every fold counted)."""
    return sum(trial.user_attrs.get("epochs_trained", 0)
               for trial in study.get_trials(deepcopy=False, states=FINISHED_STATES))


def trials_time(study):
    """Seconds all finished trials of the study took together, summed over runs and workers.

    Unlike a run's wall time, it covers every run of a resumed study.
    """
    return sum(_seconds(trial)
               for trial in study.get_trials(deepcopy=False, states=FINISHED_STATES))


def summary_table(study, top=10):
    """Return a text table of the ``top`` best finished trials, best first.

    Parameters
    ----------
    study : optuna.Study
    top : int, default=10

    Returns
    -------
    str
    """
    trials = sorted(study.get_trials(deepcopy=False, states=FINISHED_STATES),
                    key=lambda t: (t.state != TrialState.COMPLETE, -(t.value or 0.0)))[:top]
    header = f"{'trial':>5}  {'state':<8}  {'score':>6}  {'epochs':>6}  {'time':>6}  params"
    lines = [header, "-" * len(header)]
    for trial in trials:
        value = "" if trial.value is None else f"{trial.value:.4f}"
        lines.append(f"{trial.number:>5}  {trial.state.name:<8}  {value:>6}  "
                     f"{trial.user_attrs.get('epochs_trained', ''):>6}  "
                     f"{_seconds(trial):>5.0f}s  {_format_params(trial.params)}")
    counts = ", ".join(f"{n} {state}" for state, n in trial_counts(study).items())
    lines.append(f"{len(study.trials)} trials: {counts}; {epochs_trained(study)} epochs trained")
    return "\n".join(lines)


def device_summary():
    """Return the Keras backend and the devices it computes on (GPUs when visible).

    Returns
    -------
    dict
        ``{"backend": "tensorflow", "devices": ["/device:CPU:0"]}``.
    """
    try:
        devices = [str(device) for device in keras.distribution.list_devices()]
    except (NotImplementedError, RuntimeError, ValueError) as error:
        # keras.distribution has no device listing on every backend (torch).
        devices = [f"unknown ({type(error).__name__})"]
    return {"backend": keras.config.backend(), "devices": devices}


def build_report(search, *, storage, wall_time_s, test_accuracy=None, extra=None):
    """Gather the facts of a finished search into a JSON-ready dict.

    Parameters
    ----------
    search : FERSearchCV
        Fitted.
    storage : str
        Storage description with the password hidden (see ``describe_storage``).
    wall_time_s : float
        Seconds this run took (a resumed study's earlier runs not counted: see
        ``trials_time_s`` in the report).
    test_accuracy : float or None, default=None
        Accuracy of ``best_estimator_`` on the held-out split.
    extra : dict or None
        More entries (data set, options), added last.

    Returns
    -------
    dict
    """
    study = search.study_
    report = {
        "study_name": study.study_name,
        "storage": storage,
        "best_trial": search.best_trial_.number,
        "best_params": search.best_params_,
        "cv_score": search.best_score_,
        "cv_folds": search.n_splits_,
        "test_accuracy": test_accuracy,
        "trial_counts": trial_counts(study),
        "epochs_trained": epochs_trained(study),
        "trials_time_s": round(trials_time(study), 1),
        "wall_time_s": round(wall_time_s, 1),
        "refit_time_s": round(getattr(search, "refit_time_", 0.0), 1),
        **device_summary(),
    }
    report.update(extra or {})
    return report
