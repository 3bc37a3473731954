"""Lazy public names for a package's ``__init__``: a module-level ``__getattr__`` (PEP 562)
that imports the submodule defining a name on its first use, as scikit-learn and Optuna do.
Keeps ``import fer_estimator`` free of Keras, TensorFlow, Optuna and matplotlib."""

import importlib
import sys


def attach(package, lazy_names):
    """Return ``(__getattr__, __dir__)`` for ``package`` (its ``__name__``).

    Parameters
    ----------
    package : str
        The package's name; its ``__init__`` assigns the two functions at module level.
    lazy_names : dict of str to str
        Public name -> name of the submodule (relative to ``package``) that defines it.
    """
    def __getattr__(name):
        if name not in lazy_names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{lazy_names[name]}", package), name)
        setattr(sys.modules[package], name, value)  # later accesses skip __getattr__
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(lazy_names))

    return __getattr__, __dir__
