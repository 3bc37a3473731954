"""The step types a ``.fer.zip`` pipeline may hold, and how a step is described and rebuilt.

Each saved class owns its state through a pair of hooks, as Keras layers do with
``get_config``/``from_config``; the format knows no class by name:

``to_safe_description(self)``
    The fitted state the file keeps beside ``get_params(deep=False)``: a dict of plain values
    (lists, numbers, strings) stored in the step's table. Raises
    :class:`~sklearn.exceptions.NotFittedError` when not fitted, ValueError for a state the
    format cannot hold.
``from_safe_description(cls, params, description, network)`` (a classmethod)
    The fitted step rebuilt from its ``params`` (checked against the class's own parameters)
    and its step table ``description``, for the pipeline whose network is ``network`` (a
    transformer checks that its output fits the network's input). Raises ValueError naming
    the field that is wrong; the format adds the file and the step.

A pipeline's last step is ``final`` (a classifier holding its Keras network as ``model_``,
as scikeras estimators do); the steps before it are not. A new step type, or a subclass of a
registered one, is its own class and one call: ``register_step(MyStep)``.
"""

from dataclasses import dataclass

from sklearn.exceptions import NotFittedError

from ..transform import PixelTransformer
from .description import plain
from .errors import SafeFormatError, quoted, shortened

# Parameters that hold Python objects in general: the safe format keeps them at None.
OBJECT_PARAMS = ("model", "build_fn", "callbacks")
_RESERVED_KEYS = ("name", "class", "params")


@dataclass(frozen=True)
class StepType:
    """A class the format saves, under ``name``; ``final`` for the classifier ending a
    pipeline."""

    cls: type
    name: str
    final: bool


# Name in the file -> its step type.
STEP_TYPES = {}


def register_step(cls, *, name=None, final=False):
    """Let the safe format save and load ``cls``, under ``name`` (default: the class name).

    Parameters
    ----------
    cls : type
        A scikit-learn estimator class with the hooks ``to_safe_description`` and
        ``from_safe_description`` (see the module's description), constructible with no
        arguments.
    name : str, optional
        The name the file records; the class's ``__name__`` by default.
    final : bool, default=False
        Whether it ends a pipeline and holds its network (``model_``).

    Returns
    -------
    type
        ``cls``.
    """
    name = cls.__name__ if name is None else name
    missing = [hook for hook in ("to_safe_description", "from_safe_description")
               if not callable(getattr(cls, hook, None))]
    if missing:
        raise TypeError(f"{cls.__qualname__} cannot be a safe-format step: it has no {missing}")
    known = STEP_TYPES.get(name)
    if known is not None and known.cls is not cls:
        raise ValueError(f"the step name {name!r} is already registered for "
                         f"{known.cls.__module__}.{known.cls.__qualname__}")
    STEP_TYPES[name] = StepType(cls, name, final)
    return cls


def _step_type_of(step):
    """The registered type of ``step``: its exact class (a subclass may hold state its
    parent's hooks do not save, so it is registered itself)."""
    return next((step_type for step_type in STEP_TYPES.values()
                 if step_type.cls is type(step)), None)


def describe_step(name, step, final):
    """The step table of ``step``, the pipeline's last one when ``final``."""
    step_type = _step_type_of(step)
    if step_type is None or step_type.final != final:
        expected = [t.name for t in STEP_TYPES.values() if t.final == final]
        raise SafeFormatError(
            f"the safe format holds a Pipeline of steps of the registered types, ending in a "
            f"classifier, or a soft_voting_ensemble of such pipelines; step {name!r} is a "
            f"{type(step).__module__}.{type(step).__qualname__}, where a "
            f"{' or '.join(expected)} can be. Save this model with "
            f"fer_estimator.persistence.dump_joblib instead, or register its class "
            f"(fer_estimator.safe_format.register_step)")
    kind = step_type.name
    # A class may keep some parameters as records only (a path instead of an object).
    params = (step.safe_params() if hasattr(step, "safe_params")
              else step.get_params(deep=False))
    for key in OBJECT_PARAMS:
        if params.get(key) is not None:
            raise SafeFormatError(
                f"{kind} parameter {key}={quoted(params[key])} is a Python object, which the "
                f"safe format does not store; set it to None (set_params) before saving, or "
                f"save with dump_joblib")
    described = {"name": name, "class": kind,
                 "params": {key: plain(value, f"{kind} parameter {key}")
                            for key, value in params.items()}}
    try:
        state = step.to_safe_description()
    except NotFittedError:
        raise SafeFormatError(f"the {kind} is not fitted: fit the pipeline first") from None
    except ValueError as error:
        raise SafeFormatError(f"the {kind} cannot be saved in the safe format: {error}") from error
    clashes = sorted(set(state) & set(_RESERVED_KEYS))
    if clashes:
        raise SafeFormatError(f"{kind}.to_safe_description returns {clashes}, which the format "
                              f"keeps for itself")
    described.update({key: plain(value, f"{kind}'s {key}") for key, value in state.items()})
    return described


def rebuild_step(description, network, where, final):
    """The fitted step of the step table ``description`` (``where`` names it in errors)."""
    kind = description.get("class")
    step_type = STEP_TYPES.get(kind) if isinstance(kind, str) else None
    if step_type is None or step_type.final != final:
        expected = [t.name for t in STEP_TYPES.values() if t.final == final]
        raise SafeFormatError(f"{where} must be a {' or '.join(expected)}; the description "
                              f"says {quoted(kind)}")
    where = f"{where} ({step_type.name})"
    params = _params(description.get("params"), step_type.cls, where)
    try:
        step = step_type.cls.from_safe_description(params, description, network)
    except (ValueError, TypeError) as error:  # scikit-learn's parameter errors are both
        raise SafeFormatError(f"{where}: {shortened(str(error), 1000)}") from error
    if final and getattr(step, "model_", None) is not network:
        raise SafeFormatError(f"{where}: from_safe_description does not hold the network")
    return step


def _params(params, cls, where):
    """The saved ``params``, refused unless they are ``cls``'s own and plain values."""
    if not isinstance(params, dict):
        raise SafeFormatError(f"{where} has no parameter table")
    defaults = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SafeFormatError(f"{where}: unknown {cls.__name__} parameter(s) "
                              f"{quoted(unknown)}; it was saved by another fer-estimator "
                              f"version")
    if any(params.get(key) is not None for key in OBJECT_PARAMS):
        raise SafeFormatError(f"{where}: the parameters {list(OBJECT_PARAMS)} must be null in a "
                              f"model file")
    # JSON turned tuples into lists: give back the type the default has (dense_units).
    return {key: tuple(value) if isinstance(defaults[key], tuple) and isinstance(value, list)
            else value for key, value in params.items()}


# The transformer fer-estimator saves; the classifier registers where Keras loads
# (:mod:`.model_file`), so that the ONNX runtime rebuilds transformers without Keras.
register_step(PixelTransformer)
