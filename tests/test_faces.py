"""FacePipeline on synthetic inputs: batching, inputs, outputs, errors and persistence.

A callable detector with known boxes and a dummy classifier keep these tests fast and independent
of the CNN; tests/test_faces_photos.py runs the real detectors on real photos.
"""

import json
import math

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_estimator.faces import FacePipeline, FaceResults, ImageFaces
from fer_estimator.faces import pipeline as pipeline_module
from fer_estimator.faces.crops import crop_boxes, crop_faces
from fer_estimator.labels import EMOTIONS

FACE_BOXES = np.array([[10, 10, 40, 40], [100, 20, 50, 60], [30, 100, 30, 30]])


class CountingClassifier(DummyClassifier):
    """A classifier that records the shape and dtype of every predict_proba batch."""

    def fit(self, X, y):
        super().fit(X, y)
        self.batches_ = []
        return self

    def predict_proba(self, X):
        self.batches_.append((X.shape, X.dtype))
        return super().predict_proba(X)


def fixed_boxes(image):
    """A detector that finds FACE_BOXES (with scores) in every image."""
    return np.column_stack([FACE_BOXES, [0.9, 0.8, 0.7]])


def no_boxes(image):
    return []


@pytest.fixture
def estimator():
    return CountingClassifier(strategy="prior").fit(np.zeros((7, 48, 48), np.uint8),
                                                    list(range(7)))


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)


def test_one_estimator_call_per_image_whatever_the_number_of_faces(estimator, image):
    for detector, n_faces in ((fixed_boxes, 3), (no_boxes, 0)):
        estimator.batches_.clear()
        results = FacePipeline(estimator, detector).predict([image, image, image])
        assert [len(faces) for faces in results] == [n_faces] * 3
        assert estimator.batches_ == ([((n_faces, 48, 48), np.uint8)] * 3 if n_faces else [])


def test_batch_images_puts_several_images_in_one_call(estimator, image):
    results = FacePipeline(estimator, fixed_boxes, batch_images=2).predict([image] * 5)
    assert len(results) == 5
    assert [shape for shape, _ in estimator.batches_] == [(6, 48, 48), (6, 48, 48), (3, 48, 48)]


def test_faces_carry_box_label_probabilities_and_score(image):
    # Happy (3) is 4 of the 10 labels, so the prior classifier gives it 0.4 and picks it.
    happy_most = DummyClassifier(strategy="prior").fit(np.zeros((10, 48, 48), np.uint8),
                                                       [*list(range(7)), 3, 3, 3])
    [faces] = FacePipeline(happy_most, fixed_boxes).predict(image)
    assert [face.box for face in faces] == [tuple(box) for box in FACE_BOXES.tolist()]
    assert [face.score for face in faces] == [0.9, 0.8, 0.7]
    for face in faces:
        assert list(face.probabilities) == list(EMOTIONS)  # integer codes named after emotions
        assert sum(face.probabilities.values()) == pytest.approx(1)
        assert face.probabilities["Happy"] == pytest.approx(0.4)
        assert face.label == "Happy"


def test_string_classes_are_kept(image):
    estimator = DummyClassifier().fit(np.zeros((2, 48, 48), np.uint8), ["calm", "joy"])
    [faces] = FacePipeline(estimator, fixed_boxes).predict(image)
    assert set(faces[0].probabilities) == {"calm", "joy"}


def test_boxes_are_clipped_to_the_image(estimator, image):
    def overhanging(_):
        return [[-10, -5, 30, 30], [190, 150, 40, 40], [250, 10, 20, 20]]

    [faces] = FacePipeline(estimator, overhanging).predict(image)
    assert [face.box for face in faces] == [(0, 0, 20, 25), (190, 150, 10, 10)]


def test_to_frame_has_one_row_per_face_with_ids_and_probabilities(estimator, image):
    results = FacePipeline(estimator, fixed_boxes).predict([image, image])
    frame = results.to_frame()
    assert len(frame) == 6
    assert list(frame.columns) == ["image", "frame", "face", "x", "y", "w", "h", "score",
                                   "label", *EMOTIONS]
    assert frame["image"].tolist() == [0, 0, 0, 1, 1, 1]
    assert frame["face"].tolist() == [0, 1, 2] * 2
    assert frame["frame"].isna().all()
    assert frame["x"].dtype == np.int64
    np.testing.assert_allclose(frame[list(EMOTIONS)].sum(axis=1), 1)


def test_empty_results_give_an_empty_frame_with_the_columns(estimator, image):
    results = FacePipeline(estimator, no_boxes).predict(image)
    assert len(results) == 1 and len(results[0]) == 0
    frame = results.to_frame()
    assert frame.empty and "Happy" in frame.columns


def test_json_round_trips_and_writes_null_for_missing_scores(estimator, image):
    def boxes_without_scores(_):
        return FACE_BOXES

    results = FacePipeline(estimator, boxes_without_scores).predict(image)
    data = json.loads(results.to_json())
    assert data["classes"] == list(EMOTIONS)
    [entry] = data["images"]
    assert (entry["image"], entry["frame"], entry["width"], entry["height"]) == (0, None, 200, 160)
    assert [face["box"] for face in entry["faces"]] == FACE_BOXES.tolist()
    assert all(face["score"] is None for face in entry["faces"])


def test_annotate_draws_one_labelled_box_per_face(estimator):
    blank = np.zeros((160, 200, 3), np.uint8)
    pipeline = FacePipeline(estimator, fixed_boxes)
    drawing = pipeline.annotate(blank)
    changed = drawing.any(axis=2).astype(np.uint8)
    n_components, _ = cv2.connectedComponents(changed)
    assert n_components - 1 == len(FACE_BOXES)  # well separated: a box and its label each
    x, y, w, h = FACE_BOXES[1]
    assert drawing[y + h // 2, x].any() and not drawing[y + h // 2, x + w // 2].any()
    assert not blank.any()  # drawn on a copy


def test_annotate_keeps_the_channel_order(estimator, image):
    pipeline = FacePipeline(estimator, fixed_boxes)
    bgr = pipeline.annotate(image)
    rgb = pipeline.annotate(image[:, :, ::-1], rgb=True)
    np.testing.assert_array_equal(rgb, bgr[:, :, ::-1])


def test_image_without_faces_is_an_empty_result_not_an_error(estimator):
    """Haar on a plain image finds nothing; the estimator is not called."""
    results = FacePipeline(estimator).predict(np.full((120, 160, 3), 127, np.uint8))
    assert len(results) == 1 and len(results[0]) == 0
    assert estimator.batches_ == []


@pytest.mark.parametrize("convert", [
    pytest.param(lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), id="gray"),
    pytest.param(lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[:, :, None], id="gray-1ch"),
    pytest.param(lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), id="bgra"),
    pytest.param(lambda bgr: bgr, id="bgr"),
])
def test_image_formats_give_the_same_crops(convert, image):
    seen = []

    class Recorder(DummyClassifier):
        def predict_proba(self, X):
            seen.append(X.copy())
            return super().predict_proba(X)

    estimator = Recorder().fit(np.zeros((2, 48, 48), np.uint8), [0, 1])
    FacePipeline(estimator, fixed_boxes).predict(convert(image))
    np.testing.assert_allclose(seen[0], crop_faces(image, FACE_BOXES), atol=1)


def test_rgb_flag_reads_rgb_arrays(estimator, image):
    seen = []

    def detector(bgr):
        seen.append(bgr)
        return []

    FacePipeline(estimator, detector).predict(image[:, :, ::-1], rgb=True)
    np.testing.assert_array_equal(seen[0], image)


def test_paths_lists_stacks_videos_and_frame_iterables(estimator, image, tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), image)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (200, 160))
    for _ in range(7):
        writer.write(image)
    writer.release()
    pipeline = FacePipeline(estimator, fixed_boxes)

    def ids(results):
        return [(faces.image, faces.frame) for faces in results]

    assert ids(pipeline.predict(photo)) == [(str(photo), None)]
    assert ids(pipeline.predict(str(photo))) == [(str(photo), None)]
    assert ids(pipeline.predict([image, photo])) == [(0, None), (str(photo), None)]
    assert ids(pipeline.predict(np.stack([image, image]))) == [(0, None), (1, None)]
    assert ids(pipeline.predict(video, frame_stride=3)) == [(str(video), 0), (str(video), 3),
                                                           (str(video), 6)]
    frames = (image for _ in range(5))
    assert ids(pipeline.predict(frames, frame_stride=2)) == [(0, 0), (2, 2), (4, 4)]
    assert ids(pipeline.iter_predict(iter([image]))) == [(0, 0)]


def test_iter_predict_can_return_each_decoded_image_with_its_faces(estimator, image):
    gray = image[:, :, 0]
    pipeline = FacePipeline(estimator, fixed_boxes, batch_images=2)
    pairs = list(pipeline.iter_predict([image, gray, image[:, :, ::-1]], rgb=True,
                                       return_images=True))
    assert [faces.image for faces, _ in pairs] == [0, 1, 2]
    assert all(len(faces) == 3 for faces, _ in pairs)
    assert np.array_equal(pairs[0][1], image[:, :, ::-1])  # RGB in, BGR back
    assert np.array_equal(pairs[1][1], cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    assert np.array_equal(pairs[2][1], image)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((0, 10, 3), np.uint8), ValueError, r"empty \(shape \(0, 10, 3\)\)"),
    (np.zeros((10, 10, 3), np.float64), TypeError, "uint8.*float64"),
    (np.zeros((10, 10, 3), bool), TypeError, "uint8.*bool"),
    (np.zeros((2, 2, 10, 10, 3), np.uint8), ValueError, r"shape \(2, 2, 10, 10, 3\)"),
    (np.zeros(10, np.uint8), ValueError, r"shape \(10,\)"),
    (np.zeros((10, 10, 2), np.uint8), ValueError, r"C in 1, 3, 4; got \(10, 10, 2\)"),
    ([np.zeros((10, 10), np.uint8), np.zeros((0, 0), np.uint8)], ValueError, "image 1 is empty"),
    (42, TypeError, "got int"),
])
def test_bad_arrays_get_clear_errors(estimator, bad, error, match):
    with pytest.raises(error, match=match):
        FacePipeline(estimator, fixed_boxes).predict(bad)


def test_bad_files_get_errors_naming_the_path(estimator, tmp_path):
    pipeline = FacePipeline(estimator, fixed_boxes)
    missing = tmp_path / "missing.jpg"
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        pipeline.predict(missing)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.jpg: not a readable image"):
        pipeline.predict(text)
    broken_video = tmp_path / "broken.mp4"
    broken_video.write_text("not a video")
    with pytest.raises(ValueError, match=r"broken\.mp4: not a readable video"):
        pipeline.predict(broken_video)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        pipeline.predict(tmp_path)


@pytest.mark.parametrize("params, match", [
    ({"detector": "mtcnn"}, r"\['haar', 'yunet'\] or a callable.*'mtcnn'"),
    ({"scale_factor": 1.0}, "scale_factor"),
    ({"scale_factor": math.nan}, "'scale_factor' parameter of FacePipeline.*nan"),
    ({"min_neighbors": -1}, "min_neighbors"),
    ({"box_margin": -0.1}, "box_margin"),
    ({"box_margin": math.nan}, "'box_margin' parameter of FacePipeline.*nan"),
    # A margin grows every crop: 1e6 would pad the image to petabytes.
    ({"box_margin": 1e6}, "'box_margin' parameter of FacePipeline.*1000000"),
    ({"min_face_size": math.nan}, "'min_face_size' parameter of FacePipeline.*nan"),
    ({"min_face_size": math.inf}, "'min_face_size' parameter of FacePipeline.*inf"),
    ({"min_face_fraction": 2}, "'min_face_fraction' parameter"),
    ({"score_threshold": math.nan}, "'score_threshold' parameter"),
    ({"batch_images": 0}, "batch_images"),
    ({"batch_images": 10**6}, "'batch_images' parameter of FacePipeline.*1000000"),
    ({"max_pixels": 0}, "'max_pixels' parameter"),
])
def test_bad_parameters_fail_at_predict_not_init(estimator, image, params, match):
    pipeline = FacePipeline(estimator, **params)  # no validation or loading in __init__
    with pytest.raises(ValueError, match=match):
        pipeline.predict(image)


def test_detector_returning_the_wrong_shape_is_reported(estimator, image):
    with pytest.raises(ValueError, match=r"returned shape \(2, 3\)"):
        FacePipeline(estimator, lambda _: np.zeros((2, 3))).predict(image)


def test_estimator_errors(image, tmp_path, monkeypatch):
    class FlatClassifier(DummyClassifier):
        def predict_proba(self, X):
            return super().predict_proba(X)[:, 0]

    flat = FlatClassifier().fit(np.zeros((2, 48, 48), np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for 3 faces and 2 classes"):
        FacePipeline(flat, fixed_boxes).predict(image)
    with pytest.raises(NotFittedError, match="not fitted"):
        FacePipeline(DummyClassifier(), fixed_boxes).predict(image)
    with pytest.raises(ValueError, match="predict_proba"):
        FacePipeline(object(), fixed_boxes).predict(image)
    with pytest.raises(FileNotFoundError, match=r"nothing\.joblib"):
        FacePipeline(tmp_path / "nothing.joblib", fixed_boxes).predict(image)
    monkeypatch.setattr(pipeline_module, "DEFAULT_MODEL_PATH", tmp_path / "shipped.joblib")
    with pytest.raises(FileNotFoundError, match=r"shipped model .*shipped\.joblib is missing"):
        FacePipeline(None, fixed_boxes).predict(image)


def test_default_estimator_is_the_shipped_model(image, tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((2, 48, 48), np.uint8), ["calm", "joy"]), shipped)
    monkeypatch.setattr(pipeline_module, "DEFAULT_MODEL_PATH", shipped)
    pipeline = FacePipeline(detector=fixed_boxes, trust=True)
    assert pipeline.class_names() == ("calm", "joy")
    assert len(pipeline.predict(image)[0]) == 3


def test_get_params_set_params_and_joblib_round_trip(estimator, tmp_path):
    model = tmp_path / "model.joblib"
    joblib.dump(estimator, model)
    pipeline = FacePipeline(model, "haar", min_neighbors=3, trust=True)
    assert pipeline.get_params()["min_neighbors"] == 3
    pipeline.set_params(min_neighbors=5)
    with_face = data.astronaut()
    before = pipeline.predict(with_face, rgb=True)  # loads the cascade and the model
    assert len(before[0]) == 1
    saved = tmp_path / "faces.joblib"
    joblib.dump(pipeline, saved)
    loaded = joblib.load(saved)
    assert loaded.get_params()["min_neighbors"] == 5
    assert loaded.predict(with_face, rgb=True).to_json() == before.to_json()


def test_changing_the_detector_takes_effect(estimator, image):
    pipeline = FacePipeline(estimator, fixed_boxes)
    assert len(pipeline.predict(image)[0]) == 3
    pipeline.set_params(detector=no_boxes)
    assert len(pipeline.predict(image)[0]) == 0


def test_crop_boxes_square_and_margin():
    [region] = crop_boxes([[10, 20, 40, 60]], margin=0.0, square=True)
    assert region.tolist() == [0, 20, 60, 80]  # 60x60 about the centre (30, 50)
    [region] = crop_boxes([[10, 20, 40, 60]], margin=0.25, square=False)
    assert region.tolist() == [0, 5, 60, 95]  # 40x60 grown by a quarter on every side


def test_crops_past_the_edge_repeat_the_border():
    image = np.zeros((50, 50, 3), np.uint8)
    image[:, :25] = 200
    [crop] = crop_faces(image, [[0, 0, 50, 50]], margin=0.5)
    assert crop.dtype == np.uint8 and crop.shape == (48, 48)
    assert crop[:, :20].min() >= 199 and crop[:, -20:].max() == 0


def test_result_containers_are_sequences(estimator, image):
    results = FacePipeline(estimator, fixed_boxes).predict([image])
    assert isinstance(results, FaceResults) and isinstance(results[0], ImageFaces)
    assert [face.box for face in results[0]] == [face.box for face in results[0].faces]
    assert repr(results) == "FaceResults(1 images, 3 faces)"
    assert isinstance(results.to_frame(), pd.DataFrame)


def test_crops_fit_the_projects_pixel_transformer(image):
    """The crops are what fer_estimator.transform.PixelTransformer takes (uint8 (n, 48, 48))."""
    from fer_estimator.transform import PixelTransformer

    estimator = make_pipeline(PixelTransformer(), FunctionTransformer(_flatten),
                              LogisticRegression(max_iter=50))
    rng = np.random.default_rng(0)
    estimator.fit(rng.integers(0, 256, (14, 48, 48), dtype=np.uint8), list(range(7)) * 2)
    pipeline = FacePipeline(estimator, fixed_boxes)
    [faces] = pipeline.predict(image)
    crops = crop_faces(image, FACE_BOXES, pipeline.box_margin, pipeline.square_boxes)
    assert [face.label for face in faces] == [EMOTIONS[code] for code in estimator.predict(crops)]


def _flatten(images):
    return images.reshape(len(images), -1)
