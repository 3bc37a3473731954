"""What each install brings, and the one line that names the ``pip install`` when a feature needs
more than is installed.

The plain ``pip install fer-estimator`` is the inference install: predict, serve and live on
ONNX networks (onnxruntime), without TensorFlow or Keras. ``FERClassifier``, training,
evaluation and search need the training install, ``pip install "fer-estimator[train]"``.
Imports nothing heavy.
"""

import contextlib

TRAINING_INSTALL = 'pip install "fer-estimator[train]"'
# The top-level modules of the `train` extra's packages (pyproject.toml): a module missing
# among them means that install is missing. A missing module of another name, inside a
# package that is installed, is a broken install, which the training install would not fix.
TRAINING_MODULES = frozenset({"keras", "tensorflow", "scikeras", "optuna", "sqlalchemy",
                              "pandas", "matplotlib", "h5py", "tf2onnx", "onnx"})


class MissingInstallError(ModuleNotFoundError):
    """A feature needs packages of an install that is not there; the message is one line
    naming the feature and the ``pip install`` to run.

    A ``ModuleNotFoundError`` (an ``ImportError``), as Python raises for the missing package
    itself: ``except ImportError`` around an optional feature keeps working. ``name`` is the
    missing module's.
    """


@contextlib.contextmanager
def requires_install(feature, *, needs="the training install", command=TRAINING_INSTALL,
                     modules=TRAINING_MODULES):
    """Within the block, a missing package of ``modules`` raises :class:`MissingInstallError`.

    Wrap the imports that a feature needs beyond the inference install (at the top of its
    module, or in the function that needs them)::

        with requires_install("FERClassifier"):
            import keras

    Parameters
    ----------
    feature : str
        What needs the packages, as the user calls it (``"FERClassifier"``, ``"fer-estimator
        train"``): the message starts with it.
    needs : str, default="the training install"
        What it needs, as the message names it.
    command : str, default='pip install "fer-estimator[train]"'
        The command that installs it.
    modules : collection of str, default=TRAINING_MODULES
        The top-level modules that install brings. A ``ModuleNotFoundError`` for any other
        module (a dependency of an installed package, a module of this project) goes through
        unchanged: the install named would not fix it.

    Raises
    ------
    MissingInstallError
        ``"<feature> needs <needs>: <command>"``, chained to the original error.
    """
    try:
        yield
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if isinstance(error, MissingInstallError) or missing not in modules:
            raise
        raise MissingInstallError(f"{feature} needs {needs}: {command}",
                                  name=error.name) from error
