"""The real detectors on real photos: scikit-image's astronaut (bundled) and the shared group photo.

The group photo lives in ../shared beside the checkout; the test that needs it skips when it is
absent. YuNet ships inside the package.
"""

import cv2
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier

from fer_estimator.faces import FacePipeline
from fer_estimator.faces import detectors as detectors_module

# The six faces of the group photo (x, y, w, h): the close-up, then the five at the back.
GROUP_FACES = np.array([[864, 879, 404, 569], [314, 346, 96, 119], [586, 420, 90, 114],
                        [855, 372, 84, 107], [1203, 401, 79, 103], [1535, 379, 98, 113]])
# The astronaut's face in skimage.data.astronaut() (512x512).
ASTRONAUT_FACE = np.array([175, 55, 100, 115])


def overlap(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def matches(found, truth):
    """(true faces found, false detections), matching boxes that overlap by IoU >= 0.3."""
    hits = sum(any(overlap(t, box) >= 0.3 for box in found) for t in truth)
    false = sum(not any(overlap(t, box) >= 0.3 for t in truth) for box in found)
    return hits, false


@pytest.fixture
def estimator():
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))


def pipeline_for(detector, estimator):
    return FacePipeline(estimator, detector)


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_detector_finds_the_astronaut(detector, estimator):
    [faces] = pipeline_for(detector, estimator).predict(data.astronaut(), rgb=True)
    assert matches([face.box for face in faces], [ASTRONAUT_FACE]) == (1, 0)


@pytest.mark.shared_data
@pytest.mark.parametrize("detector, min_hits, max_false", [("haar", 5, 2), ("yunet", 6, 0)])
def test_group_photo(detector, min_hits, max_false, estimator, shared_group_photo):
    pipeline = pipeline_for(detector, estimator)
    results = pipeline.predict(shared_group_photo)
    [faces] = results
    hits, false = matches([face.box for face in faces], GROUP_FACES)
    assert hits >= min_hits and false <= max_false, (hits, false)
    # One DataFrame row and one drawn box per face.
    frame = results.to_frame()
    assert len(frame) == len(faces)
    assert frame["image"].eq(str(shared_group_photo)).all()
    drawing = pipeline.annotate(shared_group_photo, faces)
    original = cv2.imread(str(shared_group_photo))
    for face in faces:
        x, y, w, h = face.box
        assert (drawing[y + h // 2, x] != original[y + h // 2, x]).any()  # the box's left edge
        assert (drawing[y + h // 2, x + w // 2] == original[y + h // 2, x + w // 2]).all()


def test_haar_without_bundled_cascades_says_which_wheel_to_install(estimator, monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(OSError, match=r"opencv-python-headless<5"):
        pipeline_for("haar", estimator).predict(data.astronaut(), rgb=True)


def test_haar_with_a_missing_cascade_file_says_which_wheel_to_install(estimator, monkeypatch):
    monkeypatch.setattr(detectors_module, "HAAR_CASCADE", "no_such_cascade.xml")
    with pytest.raises(OSError, match=r"no_such_cascade.xml.*opencv-python-headless<5"):
        pipeline_for("haar", estimator).predict(data.astronaut(), rgb=True)


def test_yunet_ships_with_its_licence_and_another_model_file_is_checked(estimator, tmp_path):
    shipped = detectors_module.SHIPPED_YUNET_MODEL
    assert shipped.is_file() and 200_000 < shipped.stat().st_size < 300_000
    assert "MIT License" in (shipped.parent / "LICENSE").read_text()
    image = data.astronaut()
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        FacePipeline(estimator, "yunet", yunet_model=tmp_path / "missing.onnx").predict(image)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ValueError, match=r"bad\.onnx: not a YuNet ONNX model"):
        FacePipeline(estimator, "yunet", yunet_model=bad).predict(image)
