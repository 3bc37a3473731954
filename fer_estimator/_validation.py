"""Checks shared by the command lines and the search: parameter names with "did you mean"."""

import difflib

from sklearn.pipeline import Pipeline


def check_parameter_names(estimator, names, *, what="parameter"):
    """Raise a ValueError naming every unknown parameter name, with close valid names.

    A name is known when ``estimator.get_params(deep=True)`` has it, when it is a parameter of
    a Pipeline's final step given without the step prefix (``dropout`` for ``cnn__dropout``),
    or when it is a parameter a scikeras wrapper routes (``fit__*``, ``optimizer__*``...).
    Call it before any work (the first trial, the first epoch), where a typo such as
    ``--set droput=0.3`` would otherwise fail late or be silently ignored.

    Parameters
    ----------
    estimator : estimator or Pipeline
    names : iterable of str
    what : str, default="parameter"
        What the names are, for the message (``"--set parameter"``).

    Raises
    ------
    ValueError
        ``unknown parameter 'droput' of FERClassifier (did you mean 'dropout'?); valid names:
        ...``.
    """
    valid = set(estimator.get_params(deep=True))
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    prefix = f"{estimator.steps[-1][0]}__" if isinstance(estimator, Pipeline) else ""
    routed = tuple(f"{route}__" for route in getattr(final, "_routing_prefixes", ()))
    unknown = [name for name in names
               if name not in valid and prefix + name not in valid
               and not (isinstance(name, str) and name.startswith(routed) and routed)]
    if not unknown:
        return
    own = sorted(final.get_params(deep=False))
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), own + sorted(valid), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ValueError(f"unknown {what}{'s' if len(unknown) > 1 else ''} "
                     f"{', '.join(hints)} of {type(final).__name__}; valid names: "
                     f"{', '.join(own)}")
