"""Property-based tests (Hypothesis) of the model-file description: any value in any field of
a .fer.zip description rebuilds a model or raises SafeFormatError naming the file, never
another error from scikit-learn, Keras or NumPy internals (issue #20)."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_estimator import EMOTIONS, load, make_fer_pipeline, save
from fer_estimator.presets import MICRO
from fer_estimator.safe_format import DESCRIPTION_MEMBER, NETWORK_MEMBER, SafeFormatError
from fer_estimator.safe_format.description import read_description
from fer_estimator.safe_format.pipelines import build_pipeline

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
WHERE = "fuzzed.fer.zip"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8)


@pytest.fixture(scope="module")
def saved(synthetic_split, tmp_path_factory):
    """A saved tiny pipeline: its description, and its network as loaded."""
    X_train, y_train, _, _ = synthetic_split
    pipeline = make_fer_pipeline("standardize", **{**MICRO, "epochs": 1, "random_state": 0})
    pipeline.fit(X_train[:60], np.array(EMOTIONS)[y_train[:60]])
    path = save(pipeline, tmp_path_factory.mktemp("fuzz") / "model.fer.zip")
    with zipfile.ZipFile(path) as archive:
        description = json.loads(archive.read(DESCRIPTION_MEMBER))
    return description, load(path)[-1].model_


def _field_edits():
    """(step index, key path inside the step table, new value)."""
    keys = st.sampled_from([("params", "image_size"), ("params", "normalization"),
                            ("params", "input_scale"), ("fitted", "mean_"), ("fitted", "scale_"),
                            ("params", "depth"), ("params", "dense_units"), ("params", "dropout"),
                            ("params", "classes"), ("classes",), ("fitted",), ("params",),
                            ("fitted", "history_"), ("name",), ("class",)])
    return st.tuples(st.integers(0, 1), keys, json_values)


def _edited(steps, index, keys, value):
    steps = json.loads(json.dumps(steps))
    table = steps[index]
    for key in keys[:-1]:
        table = table.setdefault(key, {}) if isinstance(table.get(key, {}), dict) else {}
    table[keys[-1]] = value
    return steps


@FUZZ
@given(st.lists(_field_edits(), min_size=1, max_size=3))
def test_any_field_value_rebuilds_a_model_or_raises_safe_format_error(saved, edits):
    description, network = saved
    steps = description["steps"]
    for index, keys, value in edits:
        steps = _edited(steps, index, keys, value)
    try:
        model = build_pipeline(steps, network, WHERE, pipeline=True)
    except SafeFormatError as error:
        assert str(error).startswith(WHERE) and len(str(error)) < 2000
        return
    assert model[-1].model_ is network


def _archive(description):
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as archive:
        archive.writestr(DESCRIPTION_MEMBER, description)
        archive.writestr(NETWORK_MEMBER, b"")
    return zipfile.ZipFile(content)


@FUZZ
@given(st.one_of(json_values, st.dictionaries(
    st.sampled_from(["format", "format_version", "pipeline", "steps", "versions"]),
    json_values)).map(json.dumps) | st.binary(max_size=200))
def test_any_description_is_read_or_refused_with_safe_format_error(text):
    try:
        read_description(_archive(text), WHERE)
    except SafeFormatError as error:
        assert WHERE in str(error) and len(str(error)) < 2000
