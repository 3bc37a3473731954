"""Saved pipelines: joblib round trips across processes and Keras backends, version records."""

import hashlib
import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

from fer_estimator import FERClassifier, make_fer_pipeline, manifest, persistence
from fer_estimator.manifest import UntrustedModelError
from fer_estimator.persistence import dump_joblib, write_atomically


def _run_python(code, **env):
    """Run ``code`` in a fresh interpreter (optionally under another Keras backend)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory, synthetic_split, tiny_cnn):
    X_train, y_train, X_test, _ = synthetic_split
    pipeline = make_fer_pipeline(**tiny_cnn(epochs=2)).fit(X_train[:200], y_train[:200])
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
def test_model_trained_under_jax_loads_and_predicts_under_this_backend(tmp_path, synthetic_split,
                                                                      tiny_cnn):
    X_train, y_train, X_test, _ = synthetic_split
    np.save(tmp_path / "train.npy", X_train[:150])
    np.save(tmp_path / "labels.npy", y_train[:150])
    np.save(tmp_path / "faces.npy", X_test[:10])
    _run_python(f"""
        import keras, numpy as np
        from fer_estimator import make_fer_pipeline
        from fer_estimator.persistence import dump_joblib
        assert keras.config.backend() == "jax", keras.config.backend()
        pipeline = make_fer_pipeline(**{tiny_cnn(epochs=2, validation_fraction=0.2)!r})
        pipeline.fit(np.load({str(tmp_path / "train.npy")!r}),
                     np.load({str(tmp_path / "labels.npy")!r}))
        assert len(pipeline.named_steps["cnn"].history_["val_loss"]) == 2
        dump_joblib(pipeline, {str(tmp_path / "jax.joblib")!r})
        np.save({str(tmp_path / "proba.npy")!r},
                pipeline.predict_proba(np.load({str(tmp_path / "faces.npy")!r})))
    """, KERAS_BACKEND="jax")
    loaded = joblib.load(tmp_path / "jax.joblib")
    assert loaded.named_steps["cnn"]._saved_versions["keras_backend"] == "jax"
    np.testing.assert_allclose(loaded.predict_proba(np.load(tmp_path / "faces.npy")),
                               np.load(tmp_path / "proba.npy"), rtol=1e-4, atol=1e-5)


class _Payload:
    """Unpickling it creates the folder ``marker``: a harmless stand-in for an attacker's code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _load_through_safe_format(path):
    from fer_estimator.safe_format import load
    return load(path)


@pytest.mark.parametrize("load", [
    lambda path: manifest.load_trusted_joblib(path),
    # Passes once safe_format.load loads pickles through manifest.load_trusted_joblib.
    _load_through_safe_format,
], ids=["load_trusted_joblib", "fer_estimator.load"])
def test_a_pickle_swapped_after_its_hash_check_is_never_unpickled(tmp_path, monkeypatch, load):
    """The bytes whose SHA-256 is checked are the bytes unpickled: swapping the file after the
    check (a time-of-check to time-of-use race) loads nothing of the new file."""
    path, marker = tmp_path / "model.joblib", tmp_path / "payload-ran"
    joblib.dump({"shipped": True}, path)
    shipped = manifest.file_sha256(path)
    monkeypatch.setattr(manifest, "read_manifest", lambda *args, **kwargs: {"m": shipped})
    malicious = tmp_path / "malicious.joblib"
    joblib.dump(_Payload(marker), malicious)

    class SwapAfterHashing:
        """hashlib as the manifest sees it: the file is replaced as soon as it is hashed."""

        def sha256(self, *args):
            digest = hashlib.sha256(*args)
            hexdigest = digest.hexdigest

            def hexdigest_then_swap():
                os.replace(malicious, path)
                return hexdigest()
            return type("Digest", (), {"update": staticmethod(digest.update),
                                       "hexdigest": staticmethod(hexdigest_then_swap)})()

    monkeypatch.setattr(manifest, "hashlib", SwapAfterHashing())
    try:
        loaded = load(path)
    except (UntrustedModelError, ValueError):
        loaded = None  # refusing is safe too
    assert not marker.exists()
    assert loaded in ({"shipped": True}, None)
    assert not malicious.exists()  # the swap did happen


def test_load_trusted_joblib_needs_trust_or_a_shipped_file(tmp_path, monkeypatch):
    path = tmp_path / "model.joblib"
    joblib.dump([1, 2], path)
    monkeypatch.setattr(manifest, "read_manifest", lambda *args, **kwargs: {})
    with pytest.raises(UntrustedModelError, match="trust=True"):
        manifest.load_trusted_joblib(path)
    assert manifest.load_trusted_joblib(path, trust=True) == [1, 2]
    monkeypatch.setattr(manifest, "read_manifest",
                        lambda *args, **kwargs: {"m": manifest.file_sha256(path)})
    assert manifest.load_trusted_joblib(path) == [1, 2]
    with pytest.raises(FileNotFoundError, match="no model file at"):
        manifest.load_trusted_joblib(tmp_path / "none.joblib", trust=True)
    (tmp_path / "text.joblib").write_text("not a pickle")
    with pytest.raises(ValueError, match=r"text\.joblib is not a readable joblib model file"):
        manifest.load_trusted_joblib(tmp_path / "text.joblib", trust=True)


def test_write_atomically_syncs_before_replacing_and_never_sets_the_umask(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def record_fsync(descriptor):
        events.append(("fsync", os.fstat(descriptor).st_ino))
        fsync(descriptor)

    def record_replace(source, target):
        events.append(("replace", os.stat(source).st_ino))
        replace(source, target)

    def no_umask(mask):
        raise AssertionError("os.umask sets the mask of every thread: read it once, at import")

    monkeypatch.setattr(persistence.os, "fsync", record_fsync)
    monkeypatch.setattr(persistence.os, "replace", record_replace)
    monkeypatch.setattr(persistence.os, "umask", no_umask)
    path = write_atomically(tmp_path / "report.json", lambda temp: Path(temp).write_text("{}"))

    assert path.read_text() == "{}"
    [(_, moved)] = [event for event in events if event[0] == "replace"]
    assert events.index(("fsync", moved)) < events.index(("replace", moved))
    assert path.stat().st_mode & 0o777 == 0o666 & ~persistence._UMASK
