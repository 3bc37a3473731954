"""fer_estimator.training.load_split: synthetic and FER2013-format data, 7 and 6 classes."""

import numpy as np
import pandas as pd
import pytest

from fer_estimator.training import load_split


def test_synthetic_six_classes_merge_disgust_into_angry():
    X7, y7, X7_test, y7_test, _ = load_split(None, n_classes=7)
    X6, y6, X6_test, y6_test, _ = load_split(None, n_classes=6)
    # The same faces, each named as the 6-class variant names its 7-class label.
    np.testing.assert_array_equal(X6, X7)
    np.testing.assert_array_equal(X6_test, X7_test)
    np.testing.assert_array_equal(y6, np.where(y7 == "Disgust", "Angry", y7))
    np.testing.assert_array_equal(y6_test, np.where(y7_test == "Disgust", "Angry", y7_test))
    assert "Neutral" in set(y6)


def test_a_missing_usage_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_ESTIMATOR_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "fer.csv"
    pd.DataFrame({"emotion": [0, 3], "pixels": ["0 " * 2303 + "0"] * 2,
                  "Usage": ["Training", "Training"]}).to_csv(path, index=False)
    with pytest.raises(ValueError,
                       match=r"\['PublicTest'\] not in .*fer.csv; it holds \['Training'\]"):
        load_split(path)
