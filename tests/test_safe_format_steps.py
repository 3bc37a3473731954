"""The safe format's step registry: a new step type, or a FERClassifier subclass, saves and
loads through .fer.zip with only its own class and one registration (issue #18)."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from fer_estimator import EMOTIONS, FERClassifier, PixelTransformer, load, save
from fer_estimator.presets import MICRO
from fer_estimator.safe_format import DESCRIPTION_MEMBER, SafeFormatError, register_step, steps


class ContrastClip(TransformerMixin, BaseEstimator):
    """A new step type: clips normalised images to ``limit`` times their fitted spread."""

    def __init__(self, limit=2.0):
        self.limit = limit

    def fit(self, X, y=None):
        self.spread_ = float(np.std(X))
        return self

    def transform(self, X):
        check_is_fitted(self)
        bound = self.limit * self.spread_
        return np.clip(X, -bound, bound)

    def to_safe_description(self):
        check_is_fitted(self)
        return {"fitted": {"spread_": self.spread_}}

    @classmethod
    def from_safe_description(cls, params, description, network):
        spread = description.get("fitted", {}).get("spread_")
        if not isinstance(spread, float) or not spread > 0:
            raise ValueError(f"'fitted.spread_' must be a positive number; it is {spread!r}")
        clip = cls(**params)
        clip.spread_ = spread
        return clip


class CalibratedFERClassifier(FERClassifier):
    """A FERClassifier subclass: the parent's hooks save it."""


@pytest.fixture
def registry(monkeypatch):
    """The step registry, restored after the test."""
    monkeypatch.setattr(steps, "STEP_TYPES", dict(steps.STEP_TYPES))
    return steps.STEP_TYPES


@pytest.fixture(scope="module")
def data(synthetic_split):
    X_train, y_train, X_test, _ = synthetic_split
    return X_train[:100], np.array(EMOTIONS)[y_train[:100]], X_test[:20]


def _fit(data, middle, classifier):
    X, y, _ = data
    return Pipeline([("pixels", PixelTransformer("standardize")), *middle,
                     ("cnn", classifier(**{**MICRO, "epochs": 1, "random_state": 0}))]).fit(X, y)


@pytest.fixture(scope="module")
def clipped(data):
    return _fit(data, [("clip", ContrastClip(1.5))], FERClassifier)


def test_a_new_step_type_needs_only_its_class_and_one_registration(registry, clipped, data,
                                                                    tmp_path):
    pipeline = clipped
    with pytest.raises(SafeFormatError, match=r"step 'clip' is a .*ContrastClip.* register its "
                                              r"class \(fer_estimator\.safe_format\."
                                              r"register_step\)"):
        save(pipeline, tmp_path / "unregistered.fer.zip")
    register_step(ContrastClip)
    path = save(pipeline, tmp_path / "clip.fer.zip")
    with zipfile.ZipFile(path) as archive:
        clip = json.loads(archive.read(DESCRIPTION_MEMBER))["steps"][1]
    assert clip == {"name": "clip", "class": "ContrastClip", "params": {"limit": 1.5},
                    "fitted": {"spread_": pipeline["clip"].spread_}}
    loaded = load(path)
    assert type(loaded["clip"]) is ContrastClip and loaded["clip"].limit == 1.5
    np.testing.assert_array_equal(loaded.predict_proba(data[2]), pipeline.predict_proba(data[2]))


def test_a_registered_steps_own_checks_run_at_load(registry, clipped, tmp_path):
    register_step(ContrastClip)
    path = save(clipped, tmp_path / "clip.fer.zip")
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    description = json.loads(contents[DESCRIPTION_MEMBER])
    description["steps"][1]["fitted"]["spread_"] = -1.0
    with zipfile.ZipFile(tmp_path / "bad.fer.zip", "w") as archive:
        for name, content in {**contents, DESCRIPTION_MEMBER: json.dumps(description)}.items():
            archive.writestr(name, content)
    with pytest.raises(SafeFormatError, match=r"bad\.fer\.zip: step 1 \(ContrastClip\): "
                                              r"'fitted\.spread_' must be a positive number"):
        load(tmp_path / "bad.fer.zip")
    del registry["ContrastClip"]  # a file naming a type this process does not know
    with pytest.raises(SafeFormatError, match=r"step 1 must be a PixelTransformer; the "
                                              r"description says 'ContrastClip'"):
        load(path)


def test_a_fer_classifier_subclass_is_saved_once_registered(registry, data, tmp_path):
    pipeline = _fit(data, [], CalibratedFERClassifier)
    with pytest.raises(SafeFormatError, match="CalibratedFERClassifier"):
        save(pipeline, tmp_path / "unregistered.fer.zip")
    register_step(CalibratedFERClassifier, final=True)
    loaded = load(save(pipeline, tmp_path / "subclass.fer.zip"))
    assert type(loaded[-1]) is CalibratedFERClassifier
    np.testing.assert_array_equal(loaded.predict_proba(data[2]), pipeline.predict_proba(data[2]))


def test_registration_refuses_a_class_without_hooks_or_a_taken_name(registry):
    with pytest.raises(TypeError, match=r"has no \['to_safe_description', "
                                        r"'from_safe_description'\]"):
        register_step(BaseEstimator)
    with pytest.raises(ValueError, match="'PixelTransformer' is already registered"):
        register_step(ContrastClip, name="PixelTransformer")
