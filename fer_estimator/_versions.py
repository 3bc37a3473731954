"""Versions recorded in saved models, and the warning when a model is loaded under others."""

import importlib.metadata
import warnings

# The packages whose major version decides whether a saved model predicts the same.
CHECKED_PACKAGES = ("fer_estimator", "keras", "scikeras")


def _package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def current_versions():
    """Return the fer-estimator, Keras and scikeras versions and the Keras backend in use."""
    import keras  # saving a model has loaded it already

    return {
        "fer_estimator": _package_version("fer-estimator"),
        "keras": keras.__version__,
        "scikeras": _package_version("scikeras"),
        "keras_backend": keras.config.backend(),
    }


def _major(version):
    return version.split(".", 1)[0]


def check_saved_versions(saved, what, packages=CHECKED_PACKAGES):
    """Warn when a model saved under other major versions of ``packages`` is loaded.

    A different Keras backend is fine (the saved network is backend-agnostic) and is not
    warned about; a different major version of fer-estimator, Keras or scikeras may not load
    or predict the same. Entries that are not version strings are ignored. The ONNX runtime,
    which uses neither Keras nor scikeras, checks fer-estimator's alone.
    """
    current = {name: _package_version(name.replace("_", "-")) for name in packages}
    saved = saved if isinstance(saved, dict) else {}
    mismatched = [
        f"{name} {saved[name]} (now {current[name]})"
        for name in packages
        if isinstance(saved.get(name), str) and "unknown" not in (saved[name], current[name])
        and _major(saved[name]) != _major(current[name])
    ]
    if mismatched:
        warnings.warn(
            f"This {what} was saved with {', '.join(mismatched)}: a different major version may "
            f"not predict the same. Re-train it, or install the versions it was saved with.",
            UserWarning, stacklevel=3)
