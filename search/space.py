"""The search space: which FERClassifier parameters a study tunes, and over which ranges."""

from collections.abc import Mapping

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )


def default_search_space(*, tune_base_filters=False, tune_batch_size=False):
    """Return the default search space for 48×48 face images.

    Parameters
    ----------
    tune_base_filters : bool, default=False
        Also tune the filters of the first convolution block (16, 32 or 64).
    tune_batch_size : bool, default=False
        Also tune the batch size (32, 64 or 128).

    Returns
    -------
    dict of str to optuna.distributions.BaseDistribution
        ``depth`` 2-4 blocks (48 px halves to 24, 12, 6, 3: a fifth block would leave
        no image), ``dropout`` 0.1-0.5, ``l2`` 1e-6-1e-2 and ``learning_rate``
        1e-4-3e-3, the last two on a log scale.
    """
    space = {
        "depth": IntDistribution(2, 4),
        "dropout": FloatDistribution(0.1, 0.5),
        "l2": FloatDistribution(1e-6, 1e-2, log=True),
        "learning_rate": FloatDistribution(1e-4, 3e-3, log=True),
    }
    if tune_base_filters:
        space["base_filters"] = CategoricalDistribution([16, 32, 64])
    if tune_batch_size:
        space["batch_size"] = CategoricalDistribution([32, 64, 128])
    return space


def distribution_from_spec(name, spec):
    """Build an Optuna distribution from a plain JSON-like description.

    Parameters
    ----------
    name : str
        Parameter name, used in error messages.
    spec : dict or list
        A list is a set of choices. A dict has ``low`` and ``high`` (ints give an integer
        range, otherwise a float range) and optionally ``log`` (bool) and ``step``;
        or ``choices`` (list).

    Returns
    -------
    optuna.distributions.BaseDistribution

    Examples
    --------
    >>> distribution_from_spec("dropout", {"low": 0.1, "high": 0.4})
    FloatDistribution(high=0.4, log=False, low=0.1, step=None)
    >>> distribution_from_spec("depth", [2, 3])
    CategoricalDistribution(choices=(2, 3))
    """
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"search space entry {name!r} must be a list of choices or a dict with "
                         f"'low' and 'high', got {spec!r}")
    unknown = set(spec) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise ValueError(f"search space entry {name!r} has unknown keys {sorted(unknown)}; "
                         f"use 'low', 'high', 'log', 'step' or 'choices'")
    if "choices" in spec:
        if not spec["choices"]:
            raise ValueError(f"search space entry {name!r} has no choices")
        return CategoricalDistribution(spec["choices"])
    if "low" not in spec or "high" not in spec:
        raise ValueError(f"search space entry {name!r} needs both 'low' and 'high', got {spec!r}")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    try:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            return IntDistribution(low, high, log=log, step=step or 1)
        return FloatDistribution(low, high, log=log, step=step)
    except ValueError as error:
        raise ValueError(f"search space entry {name!r}: {error}") from error


def resolve_search_space(estimator, search_space):
    """Map each search-space name onto a parameter of ``estimator``.

    A name is used as is when ``estimator.get_params()`` knows it (``"cnn__dropout"``);
    a bare name (``"dropout"``) of a Pipeline's final step gets that step's prefix.

    Parameters
    ----------
    estimator : estimator or Pipeline
        The estimator whose parameters are tuned.
    search_space : mapping of str to optuna.distributions.BaseDistribution
        The space, keyed by the names the user chose.

    Returns
    -------
    dict of str to str
        Search-space name -> ``estimator.set_params`` name.

    Raises
    ------
    ValueError
        When the space is empty, a value is not an Optuna distribution, or a name is no
        parameter of the estimator (the message lists the valid names).
    """
    if not isinstance(search_space, Mapping) or not search_space:
        raise ValueError(f"search_space must be a non-empty mapping of parameter names to Optuna "
                         f"distributions, got {search_space!r}")
    valid = set(estimator.get_params(deep=True))
    prefix = param_prefix(estimator)
    resolved, unknown = {}, []
    for name, distribution in search_space.items():
        if not isinstance(distribution, BaseDistribution):
            raise ValueError(f"search space entry {name!r} must be an Optuna distribution (e.g. "
                             f"optuna.distributions.FloatDistribution), got {distribution!r}")
        if name in valid:
            resolved[name] = name
        elif prefix + name in valid:
            resolved[name] = prefix + name
        else:
            unknown.append(name)
    if unknown:
        final = final_step(estimator)
        tunable = sorted(final.get_params(deep=False))
        raise ValueError(f"unknown parameter name(s) {unknown} in the search space of "
                         f"{type(final).__name__}; valid names: {tunable}")
    return resolved


def check_params(estimator):
    """Check the parameter values of ``estimator`` (of every step of a Pipeline) as its ``fit``
    would when it starts, without fitting it.

    Each estimator that declares ``_parameter_constraints`` (scikit-learn's and
    FERClassifier's, whose check also runs the rules between its parameters, ``check_params``)
    is checked; a step that checks its parameters only in ``fit`` is not.

    Parameters
    ----------
    estimator : estimator or Pipeline

    Raises
    ------
    ValueError
        scikit-learn's ``InvalidParameterError`` (also a ``TypeError``), or the rule a
        combination breaks: "The 'class_weight' parameter of FERClassifier must be ...".
    """
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is not None and not isinstance(step, str):  # "passthrough"
                check_params(step)
        return
    if (hasattr(type(estimator), "_parameter_constraints")
            and callable(getattr(estimator, "_validate_params", None))):
        # On a clone: a check that normalised a value in place would change the template.
        clone(estimator)._validate_params()


def check_search_space(estimator, search_space, param_names, X_head=None, y_head=None):
    """Check that every value the space lets a parameter take is valid on its own.

    Each parameter's range is checked at its ends (every choice of a categorical one), the
    estimator's other parameters as they are: scikit-learn's constraints are ranges and
    sets, so a range whose ends pass passes whole. Given a few samples of the data, each value
    is also checked against the shape the final step receives, when that step has a
    ``check_input_shape`` method (FERClassifier's: ``depth=9`` leaves no pixel of a 48×48
    image). A combination of tuned values that breaks a rule between parameters
    (FERClassifier's ``warmup_epochs < epochs``) is found when a trial samples it: that trial
    fails (see :func:`~fer_estimator.search.study.run_trials`).

    Parameters
    ----------
    estimator : estimator or Pipeline
    search_space : mapping of str to optuna.distributions.BaseDistribution
    param_names : mapping of str to str
        Search-space name -> ``set_params`` name (see :func:`resolve_search_space`).
    X_head, y_head : array-like, optional
        A few samples (two are enough) and their labels, for the shape check.

    Raises
    ------
    ValueError
        Naming the entry, the value and the parameter's rule.
    """
    for name, distribution in search_space.items():
        if isinstance(distribution, CategoricalDistribution):
            values = distribution.choices
        else:
            values = (distribution.low, distribution.high)
        for value in values:
            candidate = clone(estimator).set_params(**{param_names[name]: value})
            try:
                check_params(candidate)
                if X_head is not None:
                    _check_final_input_shape(candidate, X_head, y_head)
            except (ValueError, TypeError) as error:
                raise ValueError(f"search space entry {name!r} allows {value!r}, an invalid "
                                 f"value: {error}") from None


def _check_final_input_shape(estimator, X_head, y_head):
    """Run a Pipeline's first steps on ``X_head``; let the final step check the shape."""
    final = final_step(estimator)
    if not callable(getattr(final, "check_input_shape", None)):
        return
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        X_head = clone(estimator[:-1]).fit_transform(X_head, y_head)
    final.check_input_shape(np.asarray(X_head).shape[1:])


def most_epochs(estimator, search_space, param_names):
    """The most epochs a fit of a trial can train: the estimator's, or the largest value of a
    tuned ``epochs``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Its final step has an ``epochs`` parameter.
    search_space : mapping of str to optuna.distributions.BaseDistribution
        Checked (:func:`check_search_space`): a tuned ``epochs`` takes positive ints.
    param_names : mapping of str to str

    Returns
    -------
    int
    """
    epochs = param_prefix(estimator) + "epochs"
    tuned = [search_space[name] for name, target in param_names.items() if target == epochs]
    if not tuned:
        return int(final_step(estimator).get_params()["epochs"])
    return max(int(max(distribution.choices)) if isinstance(distribution, CategoricalDistribution)
               else int(distribution.high) for distribution in tuned)


def final_step(estimator):
    """Return the estimator a Pipeline ends with (or ``estimator`` itself)."""
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def param_prefix(estimator):
    """The ``set_params`` prefix of a Pipeline's final step (``"cnn__"``), or ``""``."""
    return f"{estimator.steps[-1][0]}__" if isinstance(estimator, Pipeline) else ""


def suggest(trial, name, distribution):
    """Ask ``trial`` for a value of ``name`` drawn from ``distribution`` (public Optuna API only).

    Parameters
    ----------
    trial : optuna.Trial
    name : str
    distribution : FloatDistribution, IntDistribution or CategoricalDistribution

    Returns
    -------
    float, int or a choice of the distribution
    """
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high,
                                   step=distribution.step, log=distribution.log)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high,
                                 step=distribution.step, log=distribution.log)
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(f"unsupported distribution for {name!r}: {distribution!r}")
