"""scikit-learn's parameter validation, the one style every class of the package checks its
parameters with: a ``_parameter_constraints`` table, checked when the work starts, with
scikit-learn's messages ("The 'box_margin' parameter of FacePipeline must be a float in the
range [0.0, 1.0]. Got nan instead.").

The names live in a private scikit-learn module: this is the one place that imports them, and
``tests/test_scikeras_adapter.py`` fails, naming the one that moved, when a release changes
them.
"""

from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = ["HasMethods", "Interval", "InvalidParameterError", "Options", "StrOptions",
           "check_params"]


def check_params(constraints, params, caller_name):
    """Check ``params`` (name -> value) against ``constraints`` (name -> list of constraints,
    as in a ``_parameter_constraints`` table).

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` (and ``TypeError``) naming the parameter, ``caller_name`` (the class
        or method), what the parameter must be and the value it got.
    """
    validate_parameter_constraints(constraints, params, caller_name=caller_name)
