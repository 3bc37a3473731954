"""Pruners selectable by name."""

import numpy as np

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    import optuna
    from optuna.trial import TrialState

from .options import PRUNERS


def make_pruner(pruner, *, n_steps):
    """Return the Optuna pruner named ``pruner`` (or ``pruner`` itself when it is one).

    Parameters
    ----------
    pruner : {"median", "hyperband", "none"}, optuna.pruners.BasePruner or None
        ``"median"``: :class:`SameStepMedianPruner`: stop a trial whose value at its latest
        step is worse than the median of completed trials' values at that step, once 3 trials
        have completed; from the first epoch on, as Optuna's ``MedianPruner`` (a learning
        rate far off shows after one epoch).
        ``"hyperband"``: several successive-halving brackets with budgets from 1 step to
        ``n_steps``, hedging against an early step that ranks trials badly.
        ``"none"`` or None: never prune.
    n_steps : int
        Steps of a trial that is not pruned (folds × the most epochs the search space allows,
        or folds).

    Returns
    -------
    optuna.pruners.BasePruner
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return SameStepMedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 1),
                                              reduction_factor=3)
    raise ValueError(f"pruner must be one of {PRUNERS}, an optuna.pruners.BasePruner or None, "
                     f"got {pruner!r}")


class SameStepMedianPruner(optuna.pruners.BasePruner):
    """Prune a trial whose latest intermediate value is worse than the median at that step.

    The median is that of the *completed* trials' values at the step, as in Optuna's
    ``MedianPruner``.

    Optuna's ``MedianPruner`` compares a trial's *best* value so far with the others' values
    at the current step. The search's steps run across folds (``fold * epochs + epoch``) and
    every fold starts training afresh, so after the first fold a trial's best value is its
    first fold's last epoch, above any trial's early epochs in the next fold: that pruner
    could then never prune, and only the first fold was ever pruned. Comparing the value at a
    step with the values of other trials at the same step (same fold, same epoch) compares
    like with like in every fold.

    Parameters
    ----------
    n_startup_trials : int, default=3
        No pruning until this many trials have completed.
    n_warmup_steps : int, default=0
        No pruning before this step of a trial.
    """

    def __init__(self, n_startup_trials=3, n_warmup_steps=0):
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study, trial):
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        # Completed trials only, as Optuna's percentile pruners: a pruned trial was stopped
        # for being behind, and counting it would pull the median down until nothing is pruned.
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < self.n_startup_trials:
            return False
        others = [t.intermediate_values[step] for t in completed
                  if step in t.intermediate_values]
        if not others:
            return False
        value, median = trial.intermediate_values[step], float(np.nanmedian(others))
        if study.direction == optuna.study.StudyDirection.MAXIMIZE:
            return value < median
        return value > median
