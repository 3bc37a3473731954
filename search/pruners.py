"""Pruners selectable by name."""

import optuna

PRUNERS = ("median", "hyperband", "none")


def make_pruner(pruner, *, n_steps):
    """Return the Optuna pruner named ``pruner`` (or ``pruner`` itself when it is one).

    Parameters
    ----------
    pruner : {"median", "hyperband", "none"}, optuna.pruners.BasePruner or None
        ``"median"``: stop a trial whose best intermediate value is below the median of
        earlier trials at the same step, after 3 trials and 1 warm-up step.
        ``"hyperband"``: successive halving over budgets from 1 step to ``n_steps``.
        ``"none"`` or None: never prune.
    n_steps : int
        Steps of a trial that is not pruned (folds × epochs or folds).

    Returns
    -------
    optuna.pruners.BasePruner
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 1),
                                              reduction_factor=3)
    raise ValueError(f"pruner must be one of {PRUNERS}, an optuna.pruners.BasePruner or None, "
                     f"got {pruner!r}")
