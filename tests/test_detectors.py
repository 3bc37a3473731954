"""The detector registry: one class and one registration make a new detector, which
FacePipeline then takes by name and the command line offers; boxes that are not finite are
dropped; the detectors' parameters are checked as scikit-learn checks an estimator's."""

import math
import warnings

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from fer_estimator.cli import build_parser
from fer_estimator.faces import DETECTORS, FaceDetector, FacePipeline, register_detector
from fer_estimator.faces.detectors import CallableDetector, HaarDetector, YuNetDetector

IMAGE = np.full((120, 160, 3), 128, dtype=np.uint8)


@pytest.fixture
def registry():
    """The registry as it is, put back after the test."""
    saved = dict(DETECTORS)
    yield DETECTORS
    DETECTORS.clear()
    DETECTORS.update(saved)


@pytest.fixture
def estimator():
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))


def test_a_new_detector_is_its_class_and_one_registration(registry, estimator):
    class CentreDetector(FaceDetector):
        """Finds one face in the middle of every image."""

        name = "centre"

        def native_face_size(self):
            return 24

        def detect(self, image, min_face):
            height, width = image.shape[:2]
            return [[width / 4, height / 4, width / 2, height / 2]], [1.0]

    register_detector(CentreDetector)

    [faces] = FacePipeline(estimator, "centre", min_face_size=60).predict(IMAGE)
    assert [face.box for face in faces] == [(40, 30, 80, 60)]
    detector = FacePipeline(estimator, "centre", min_face_size=60)._face_detector()
    # It gets the pipeline's parameters that its class takes, and no other.
    assert isinstance(detector, CentreDetector) and detector.min_face_size == 60
    assert "centre" in _detector_choices(build_parser())


def test_the_command_line_offers_the_registered_detectors():
    assert _detector_choices(build_parser()) == set(DETECTORS) == {"haar", "yunet"}


def _detector_choices(parser):
    predict = parser._subparsers._group_actions[0].choices["predict"]
    [action] = [action for action in predict._actions if "--detector" in action.option_strings]
    return set(action.choices)


def test_only_face_detector_subclasses_with_a_name_register(registry):
    with pytest.raises(TypeError, match="FaceDetector subclass"):
        register_detector(CallableDetector)

    class Nameless(FaceDetector):
        def native_face_size(self):
            return 24

        def detect(self, image, min_face):
            return [], []

    with pytest.raises(TypeError, match=r"Nameless\.name must be a non-empty string"):
        register_detector(Nameless)
    assert set(registry) == {"haar", "yunet"}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_boxes_that_are_not_finite_are_dropped_without_a_cast_warning(bad):
    found = [[10, 10, 40, 40, 0.9], [bad, 10, 40, 40, 0.8], [10, 10, bad, 40, 0.7],
             [60, 20, 30, 30, 0.6]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast"
        boxes, scores = CallableDetector(lambda image: found)(IMAGE)
    assert boxes.tolist() == [[10, 10, 40, 40], [60, 20, 30, 30]]
    assert scores.tolist() == [0.9, 0.6]


def test_a_registered_detector_drops_the_boxes_that_are_not_finite(registry):
    class Broken(FaceDetector):
        name = "broken"

        def native_face_size(self):
            return 24

        def detect(self, image, min_face):
            return [[np.nan, np.nan, np.nan, np.nan], [5, 5, 50, 50]], [0.5, 0.9]

    register_detector(Broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boxes, scores = Broken()(IMAGE)
    # Found on the copy shrunk to half (48-pixel faces at the native 24): twice as large back.
    assert boxes.tolist() == [[10, 10, 100, 100]] and scores.tolist() == [0.9]


@pytest.mark.parametrize("cls, params, match", [
    (HaarDetector, {"scale_factor": math.nan}, "'scale_factor' parameter of HaarDetector"),
    (HaarDetector, {"scale_factor": 100}, "'scale_factor' parameter of HaarDetector"),
    (HaarDetector, {"min_neighbors": 2.5}, "'min_neighbors' parameter of HaarDetector"),
    (HaarDetector, {"min_face_size": math.nan}, "'min_face_size' parameter of HaarDetector"),
    (YuNetDetector, {"score_threshold": 1.5}, "'score_threshold' parameter of YuNetDetector"),
    (YuNetDetector, {"min_face_fraction": -1}, "'min_face_fraction' parameter of YuNet"),
    (YuNetDetector, {"yunet_model": 3}, "'yunet_model' parameter of YuNetDetector"),
])
def test_detector_parameters_are_checked_with_scikit_learns_messages(cls, params, match):
    with pytest.raises(ValueError, match=match):
        cls(**params)


def test_yunet_is_the_default_and_needs_no_model_path(estimator):
    from skimage import data

    pipeline = FacePipeline(estimator)
    assert pipeline.detector == "yunet" and pipeline.yunet_model is None
    [faces] = pipeline.predict(data.astronaut(), rgb=True)
    assert len(faces) == 1


def test_an_opencv_without_haar_cascades_is_a_setup_error_exit_status_2(monkeypatch, capsys):
    import cv2

    from fer_estimator.cli import main

    monkeypatch.setattr(cv2, "data", None, raising=False)
    with pytest.raises(OSError, match=r"has no Haar cascades; .*opencv-python-headless<5"):
        HaarDetector()
    assert main(["predict", "--demo", "--detector", "haar"]) == 2
    assert "has no Haar cascades" in capsys.readouterr().err
