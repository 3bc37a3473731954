"""Saved pipelines: joblib round trips across processes and Keras backends, version records."""

import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest

from conftest import TINY_CNN
from fer_estimator import FERClassifier, make_fer_pipeline
from fer_estimator.persistence import dump_joblib


def _run_python(code, **env):
    """Run ``code`` in a fresh interpreter (optionally under another Keras backend)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory, synthetic_split):
    X_train, y_train, X_test, _ = synthetic_split
    pipeline = make_fer_pipeline(**{**TINY_CNN, "epochs": 2}).fit(X_train[:200], y_train[:200])
    folder = tmp_path_factory.mktemp("saved")
    dump_joblib(pipeline, folder / "pipeline.joblib")
    np.save(folder / "faces.npy", X_test[:20])
    return pipeline, folder


def test_pipeline_predicts_identically_in_a_fresh_process(saved_pipeline):
    pipeline, folder = saved_pipeline
    _run_python(f"""
        import joblib, numpy as np
        pipeline = joblib.load({str(folder / "pipeline.joblib")!r})
        faces = np.load({str(folder / "faces.npy")!r})
        np.save({str(folder / "proba.npy")!r}, pipeline.predict_proba(faces))
    """)
    expected = pipeline.predict_proba(np.load(folder / "faces.npy"))
    np.testing.assert_allclose(np.load(folder / "proba.npy"), expected, rtol=1e-5, atol=1e-6)


def test_saved_model_records_versions(saved_pipeline):
    _, folder = saved_pipeline
    loaded = joblib.load(folder / "pipeline.joblib")
    versions = loaded.named_steps["cnn"]._saved_versions
    assert set(versions) == {"fer_estimator", "keras", "scikeras", "keras_backend"}


def test_loading_under_another_major_version_warns(saved_pipeline):
    pipeline, _ = saved_pipeline
    state = pipeline.named_steps["cnn"].__getstate__()
    state["_saved_versions"] = {**state["_saved_versions"], "keras": "2.15.0"}
    blank = FERClassifier.__new__(FERClassifier)
    with pytest.warns(UserWarning, match=r"keras 2\.15\.0"):
        blank.__setstate__(state)


def test_saved_model_holds_the_network_once(saved_pipeline):
    pipeline, _ = saved_pipeline
    classifier = pipeline.named_steps["cnn"]
    network_bytes = len(pickle.dumps(classifier.model_))
    assert len(pickle.dumps(classifier)) < 1.5 * network_bytes


def test_unfitted_classifier_pickles_without_versions():
    state = FERClassifier().__getstate__()
    assert "_saved_versions" not in state


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed: no second Keras backend to train under")
def test_model_trained_under_jax_loads_and_predicts_under_this_backend(tmp_path, synthetic_split):
    X_train, y_train, X_test, _ = synthetic_split
    np.save(tmp_path / "train.npy", X_train[:150])
    np.save(tmp_path / "labels.npy", y_train[:150])
    np.save(tmp_path / "faces.npy", X_test[:10])
    _run_python(f"""
        import keras, numpy as np
        from fer_estimator import make_fer_pipeline
        from fer_estimator.persistence import dump_joblib
        assert keras.config.backend() == "jax", keras.config.backend()
        pipeline = make_fer_pipeline(**{{**{TINY_CNN!r}, "epochs": 2, "validation_fraction": 0.2}})
        pipeline.fit(np.load({str(tmp_path / "train.npy")!r}), np.load({str(tmp_path / "labels.npy")!r}))
        assert len(pipeline.named_steps["cnn"].history_["val_loss"]) == 2
        dump_joblib(pipeline, {str(tmp_path / "jax.joblib")!r})
        np.save({str(tmp_path / "proba.npy")!r}, pipeline.predict_proba(np.load({str(tmp_path / "faces.npy")!r})))
    """, KERAS_BACKEND="jax")
    loaded = joblib.load(tmp_path / "jax.joblib")
    assert loaded.named_steps["cnn"]._saved_versions["keras_backend"] == "jax"
    np.testing.assert_allclose(loaded.predict_proba(np.load(tmp_path / "faces.npy")),
                               np.load(tmp_path / "proba.npy"), rtol=1e-4, atol=1e-5)
