"""What fer_estimator._scikeras relies on in scikeras and scikit-learn.

These tests fail, naming the name that moved, when an upgrade of scikeras or scikit-learn
changes a private name the adapter overrides or calls: update the adapter (and the range of
scikeras in pyproject.toml) then.
"""

import inspect
import re
from numbers import Real

import numpy as np
import pytest
import sklearn.utils._param_validation as param_validation
from scikeras.utils.transformers import ClassifierLabelEncoder
from scikeras.wrappers import BaseWrapper, KerasClassifier
from sklearn.base import BaseEstimator, ClassifierMixin

from fer_estimator import FERClassifier
from fer_estimator import _scikeras as scikeras_adapter
from fer_estimator._scikeras import (
    SCIKERAS_CALLBACK_LISTS,
    SCIKERAS_CLASS_ATTRIBUTES,
    SCIKERAS_ENCODER_METHODS,
    SCIKERAS_METHODS,
)
from fer_estimator.presets import MICRO

UPDATE = "scikeras changed what fer_estimator/_scikeras.py relies on: update the adapter"


@pytest.mark.parametrize("owner, name, parameters", [
    *((BaseWrapper, name, parameters) for name, parameters in SCIKERAS_METHODS.items()),
    *((ClassifierLabelEncoder, name, parameters)
      for name, parameters in SCIKERAS_ENCODER_METHODS.items()),
])
def test_overridden_scikeras_methods_keep_their_parameters(owner, name, parameters):
    method = getattr(owner, name, None)
    assert callable(method), f"{owner.__name__}.{name} is gone. {UPDATE}"
    assert tuple(inspect.signature(method).parameters) == parameters, \
        f"{owner.__name__}.{name}{inspect.signature(method)} changed. {UPDATE}"


def test_the_guard_lists_name_every_private_scikeras_name_the_adapter_uses():
    # Any `self._x`, `super()._x` or `BaseWrapper._x` of the adapter, and any `_x` it defines,
    # that scikeras' own classes define: an override or a call that a release can break.
    source = inspect.getsource(scikeras_adapter)
    used = set(re.findall(r"(?:self|super\(\)|BaseWrapper)\.(_[a-z]\w*)", source))
    used |= {name for name in vars(scikeras_adapter.ScikerasClassifier)
             if re.match(r"_[a-z]", name)}

    def in_scikeras(name, cls):
        return any(name in vars(base) for base in cls.__mro__
                   if base.__module__.startswith("scikeras"))

    guarded = {*SCIKERAS_METHODS, *SCIKERAS_CLASS_ATTRIBUTES, *SCIKERAS_CALLBACK_LISTS}
    unguarded = {name for name in used if in_scikeras(name, BaseWrapper)} - guarded
    assert not unguarded, f"add {sorted(unguarded)} to the guard lists of _scikeras.py"
    encoder_used = {name for name, value in vars(scikeras_adapter._OneHotLabelEncoder).items()
                    if re.match(r"_[a-z]", name) and inspect.isfunction(value)
                    and in_scikeras(name, ClassifierLabelEncoder)}
    assert encoder_used <= set(SCIKERAS_ENCODER_METHODS)


def test_scikeras_class_attributes_are_still_sets_of_names():
    for name in SCIKERAS_CLASS_ATTRIBUTES:
        value = getattr(BaseWrapper, name, None)
        assert isinstance(value, (set, frozenset)), f"BaseWrapper.{name} changed. {UPDATE}"
    assert "class_weight" in BaseWrapper._fit_kwargs, UPDATE
    assert {"fit", "predict", "optimizer"} <= BaseWrapper._routing_prefixes, UPDATE


def test_scikeras_keeps_its_callbacks_in_the_lists_the_adapter_extends():
    for name, method in zip(SCIKERAS_CALLBACK_LISTS, ("_fit_keras_model", "_predict_raw"),
                            strict=True):
        assert f"self.{name}" in inspect.getsource(getattr(BaseWrapper, method)), \
            f"BaseWrapper.{method} no longer reads self.{name}. {UPDATE}"
    images = np.zeros((4, 8, 8), dtype="float32")
    classifier = FERClassifier(**MICRO).initialize(images, np.array([0, 1, 0, 1]))
    for name in SCIKERAS_CALLBACK_LISTS:
        assert isinstance(getattr(classifier, name, None), list), \
            f"BaseWrapper._initialize_callbacks no longer sets {name}. {UPDATE}"


def test_keras_classifier_has_no_behaviour_the_adapter_does_not_redo():
    # The adapter redoes KerasClassifier's own methods on BaseWrapper; a new one needs a look.
    own = {name for name, value in vars(KerasClassifier).items()
           if callable(value) or isinstance(value, (property, staticmethod))}
    assert own == {"__init__", "_type_of_target", "_fit_kwargs", "scorer", "target_encoder",
                   "initialize", "fit", "partial_fit", "predict_proba"}, UPDATE


def test_scikit_learn_parameter_validation_keeps_its_names_and_message():
    for name in ("HasMethods", "Interval", "InvalidParameterError", "Options", "StrOptions",
                 "validate_parameter_constraints"):
        assert hasattr(param_validation, name), \
            f"sklearn.utils._param_validation.{name} is gone: update fer_estimator/_validation.py"
    constraints = {"dropout": [param_validation.Interval(Real, 0, 1, closed="left")]}
    with pytest.raises(ValueError, match=r"The 'dropout' parameter of FERClassifier must be a "
                                         r"float in the range \[0.0, 1.0\)\. Got 'x' instead"):
        param_validation.validate_parameter_constraints(constraints, {"dropout": "x"},
                                                        caller_name="FERClassifier")


def test_mixins_stand_in_scikit_learns_order():
    mro = FERClassifier.__mro__
    assert mro.index(ClassifierMixin) < mro.index(BaseWrapper) < mro.index(BaseEstimator)


def test_every_constructor_parameter_has_a_constraint():
    parameters = set(FERClassifier().get_params())
    assert parameters == set(FERClassifier._parameter_constraints)
