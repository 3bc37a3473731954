"""The CPU training recipe of FERClassifier: precision, warm-up + cosine schedule, weight decay."""

import keras
import numpy as np
import pytest

from fer_estimator import precision
from fer_estimator.classifier import FERClassifier
from fer_estimator.pipeline import make_fer_pipeline
from fer_estimator.schedules import WarmupCosineSchedule
from fer_estimator.synthetic import make_synthetic_faces
from fer_estimator.training import fit_resumable

COSINE = dict(lr_schedule="cosine", learning_rate=4e-3, warmup_epochs=1)


@pytest.mark.parametrize("flags, expected", [
    ("fpu avx2 avx512f avx512_bf16 amx_tile", True),
    ("fpu avx2 amx_bf16", True),
    ("fpu avx2 avx512f avx512_vnni", False),
])
def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert precision.cpu_has_native_bfloat16(cpuinfo) is expected


def test_a_system_without_cpuinfo_counts_as_no_native_bfloat16(tmp_path):
    assert precision.cpu_has_native_bfloat16(tmp_path / "absent") is False


@pytest.mark.parametrize("accelerator, native, expected", [
    (False, True, "mixed_bfloat16"),
    (False, False, "float32"),
    (True, True, "float32"),
])
def test_auto_precision(monkeypatch, accelerator, native, expected):
    monkeypatch.setattr(precision, "has_accelerator", lambda: accelerator)
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: native)
    assert precision.resolve_precision("auto") == expected
    assert precision.resolve_precision("float32") == "float32"


def test_warmup_then_cosine_to_zero():
    schedule = WarmupCosineSchedule(1.0, epochs=10, warmup_epochs=2)
    assert schedule.rate_at(0) == 0.0
    assert schedule.rate_at(1) == pytest.approx(0.5)
    assert schedule.rate_at(2) == pytest.approx(1.0)
    assert schedule.rate_at(6) == pytest.approx(0.5)   # half-way through the decay
    assert schedule.rate_at(10) == pytest.approx(0.0, abs=1e-12)


def test_cosine_fit_follows_the_schedule_and_applies_weight_decay(scaled_images, tiny_cnn):
    X, y = scaled_images
    clf = FERClassifier(**tiny_cnn(**COSINE, epochs=3, weight_decay=0.01,
                                   precision="float32")).fit(X[:160], y[:160])
    expected = WarmupCosineSchedule(4e-3, epochs=3, warmup_epochs=1)
    # Logged at each epoch's end: the rate of its last batch.
    np.testing.assert_allclose(clf.history_["learning_rate"],
                               [expected.rate_at(epoch) for epoch in (1, 2, 3)], atol=1e-7)
    assert clf.model_.optimizer.weight_decay == 0.01
    if keras.backend.backend() == "tensorflow":
        assert clf.model_.jit_compile is False  # XLA is 5-10x slower on a CPU


def test_mixed_bfloat16_computes_in_bfloat16_with_a_float32_softmax(scaled_images, tiny_cnn):
    X, y = scaled_images
    clf = FERClassifier(**tiny_cnn(epochs=1, precision="mixed_bfloat16"))
    clf.fit(X[:100], y[:100])
    assert clf.precision_ == "mixed_bfloat16"
    conv = clf.model_.get_layer("block1_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert clf.model_.get_layer("emotion").compute_dtype == "float32"
    proba = clf.predict_proba(X[100:110])
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"precision": "float16"}, "The 'precision' parameter of FERClassifier must be a str among"),
    ({"lr_schedule": "step"}, "The 'lr_schedule' parameter of FERClassifier must be a str among"),
    ({"lr_schedule": "cosine", "warmup_epochs": 6}, "'warmup_epochs' .* must be below epochs=6"),
])
def test_bad_recipe_parameters_are_named(scaled_images, params, message, tiny_cnn):
    X, y = scaled_images
    with pytest.raises(ValueError, match=message):
        FERClassifier(**tiny_cnn(**params)).fit(X[:50], y[:50])


def test_a_resumed_cosine_fit_continues_the_same_curve(tmp_path, tiny_cnn):
    """The rate depends only on the epoch, so an interrupted campaign resumes where it was."""

    class StopAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # as if the process were killed after epoch 2 was saved

    X, y = make_synthetic_faces(140, random_state=3)
    params = tiny_cnn(**COSINE, epochs=4, precision="float32")
    uninterrupted = fit_resumable(make_fer_pipeline(**params), X, y,
                                  checkpoint_dir=tmp_path / "whole")
    (tmp_path / "cut").mkdir()
    with pytest.raises(KeyboardInterrupt):
        make_fer_pipeline(**params).fit(X, y, cnn__callbacks=[
            keras.callbacks.BackupAndRestore(str(tmp_path / "cut" / "backup")),
            keras.callbacks.CSVLogger(str(tmp_path / "cut" / "history.log"), append=True),
            StopAfterSecondEpoch()])
    resumed = fit_resumable(make_fer_pipeline(**params), X, y, checkpoint_dir=tmp_path / "cut")
    np.testing.assert_allclose(resumed[-1].history_["learning_rate"],
                               uninterrupted[-1].history_["learning_rate"], rtol=1e-6)
    assert len(resumed[-1].history_["learning_rate"]) == 4
