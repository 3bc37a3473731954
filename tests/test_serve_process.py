"""A real ``fer-estimator serve`` process on 127.0.0.1, through scripts/bench_serve.py."""

import cv2
import joblib
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

pytest.importorskip("uvicorn", reason="serve needs the [serve] extra")


def test_concurrent_requests_to_a_real_server_that_then_stops_itself(tmp_path, load_script):
    model = tmp_path / "dummy.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7))), model)
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), data.astronaut()[:, :, ::-1])
    summary = load_script("bench_serve").bench(photo, clients=3, requests=4,
                                   serve_args=["--model", str(model), "--trust-model",
                                               "--workers", "2"])
    assert summary["requests"] == 12 and summary["errors"] == 0
    assert summary["faces_per_request"] == 1
    assert summary["exit_status"] == 0  # --max-requests: it stopped after the last request
