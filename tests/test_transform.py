"""Tests for PixelTransformer: every input form, every normalisation, bad input, sklearn
integration."""

import math

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_estimator.transform import PixelTransformer


def make_images(n=6, size=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size), dtype=np.uint8)


def to_strings(images):
    return [" ".join(map(str, image.ravel())) for image in images]


IMAGES = make_images()
EXPECTED = (IMAGES / 255.0).astype(np.float32)[..., np.newaxis]

INPUT_FORMS = {
    "list of strings": lambda: to_strings(IMAGES),
    "string ndarray": lambda: np.array(to_strings(IMAGES)),
    "object column (n, 1)": lambda: np.array(to_strings(IMAGES), dtype=object)[:, np.newaxis],
    "Series": lambda: pd.Series(to_strings(IMAGES), index=range(100, 106)),
    "DataFrame": lambda: pd.DataFrame({"emotion": range(6), "pixels": to_strings(IMAGES)}),
    "flat uint8": lambda: IMAGES.reshape(6, -1),
    "flat float": lambda: IMAGES.reshape(6, -1).astype(np.float64),
    "images uint8": lambda: IMAGES,
    "images int64": lambda: IMAGES.astype(np.int64),
    "images float32": lambda: IMAGES.astype(np.float32),
    "images (n, H, W, 1)": lambda: IMAGES[..., np.newaxis],
    "grey as RGB": lambda: np.repeat(IMAGES[..., np.newaxis], 3, axis=3),
    "list of images": lambda: list(IMAGES),
}


@pytest.mark.parametrize("form", INPUT_FORMS)
def test_every_input_form_gives_the_same_images(form):
    out = PixelTransformer().fit_transform(INPUT_FORMS[form]())
    assert out.dtype == np.float32 and out.shape == (6, 48, 48, 1)
    np.testing.assert_allclose(out, EXPECTED, atol=1e-5)


def test_colour_is_converted_with_rgb_weights():
    rgb = np.random.default_rng(1).integers(0, 256, size=(3, 48, 48, 3), dtype=np.uint8)
    expected = np.stack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in rgb])
    out = PixelTransformer().fit_transform(rgb)[..., 0] * 255
    assert np.abs(out - expected).max() <= 0.51  # cv2 rounds to integers


def test_other_sizes_are_resized():
    big = make_images(n=3, size=96)
    expected = np.stack([cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA)
                         for image in big]) / 255
    np.testing.assert_allclose(PixelTransformer().fit_transform(big)[..., 0], expected,
                               atol=1 / 255)
    flat_32 = make_images(n=2, size=32).reshape(2, -1)  # a perfect square other than 2304
    assert PixelTransformer(image_size=32).fit_transform(flat_32).shape == (2, 32, 32, 1)
    with pytest.raises(ValueError, match=r"ambiguous.*\(n, H, W\)"):
        PixelTransformer().fit_transform(flat_32)  # 32x32 rows: give them as (n, 32, 32)
    wide = make_images(n=2, size=60)[:, :, :40]
    assert PixelTransformer(image_size=64).fit_transform(wide).shape == (2, 64, 64, 1)


def test_face_crops_of_different_sizes():
    crops = [make_images(n=1, size=size)[0] for size in (30, 48, 121)]
    crops.append(np.zeros((50, 70, 3), dtype=np.uint8))
    out = PixelTransformer().fit(IMAGES).transform(crops)
    assert out.shape == (4, 48, 48, 1)
    # Already 48x48: untouched.
    np.testing.assert_allclose(out[1, ..., 0], crops[1] / 255, atol=1e-6)


# ---- normalisation ------------------------------------------------------------------------------


def test_scale_maps_to_unit_interval():
    transformer = PixelTransformer().fit(IMAGES)
    assert transformer.mean_ is None and transformer.scale_ is None
    extremes = np.zeros((1, 48, 48), dtype=np.uint8)
    extremes[0, 0, 0] = 255
    out = transformer.transform(extremes)
    assert out.min() == 0.0 and out.max() == 1.0 and out.sum() == 1.0


def test_standardize_learns_only_from_fit_data():
    train, test = make_images(seed=1) // 2, make_images(seed=2)
    transformer = PixelTransformer(normalization="standardize").fit(train)
    assert transformer.mean_ == pytest.approx((train / 255).mean())
    assert transformer.scale_ == pytest.approx((train / 255).std())
    expected = (test / 255 - (train / 255).mean()) / (train / 255).std()
    np.testing.assert_allclose(transformer.transform(test)[..., 0], expected, rtol=1e-4, atol=1e-4)
    fitted_on_test = PixelTransformer(normalization="standardize").fit_transform(test)
    assert abs(float(fitted_on_test.mean())) < 1e-4
    assert float(fitted_on_test.std()) == pytest.approx(1, rel=1e-3)


def test_standardize_on_flat_images_does_not_divide_by_zero():
    flat = np.full((2, 48, 48), 100, dtype=np.uint8)
    transformer = PixelTransformer(normalization="standardize").fit(flat)
    assert transformer.scale_ == 1.0
    np.testing.assert_array_equal(transformer.transform(flat), 0)


def test_per_image_standardises_each_image():
    images = np.concatenate([make_images(n=2), make_images(n=2, seed=3) // 4,
                             np.full((1, 48, 48), 7, np.uint8)])
    out = PixelTransformer(normalization="per_image").fit_transform(images)[..., 0]
    np.testing.assert_allclose(out[:4].mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out[:4].std(axis=(1, 2)), 1, rtol=1e-4)
    np.testing.assert_array_equal(out[4], 0)  # a flat image stays finite


def test_invalid_parameters_fail_in_fit_not_init():
    transformer = PixelTransformer(normalization="minmax")
    assert transformer.get_params()["normalization"] == "minmax"
    with pytest.raises(ValueError, match="'normalization' parameter of PixelTransformer must "
                                         "be a str among"):
        transformer.fit(IMAGES)
    with pytest.raises(ValueError, match="'image_size' parameter of PixelTransformer"):
        PixelTransformer(image_size=0).fit(IMAGES)
    # Every image becomes image_size**2 floats: a huge side is refused before any allocation.
    with pytest.raises(ValueError, match=r"'image_size' parameter .* range \[1, 1024\]"):
        PixelTransformer(image_size=10**6).fit(IMAGES)
    with pytest.raises(ValueError, match="'image_size' parameter"):
        PixelTransformer(image_size=math.nan).fit(IMAGES)


# ---- bad input ----------------------------------------------------------------------------------

STRINGS = to_strings(IMAGES)


def with_row(rows, index, value):
    rows = list(rows)
    rows[index] = value
    return rows


def with_value(array, index, value):
    array = array.astype(np.float64)
    array[index] = value
    return array


BAD_INPUTS = {
    "short string": (with_row(STRINGS, 4, "1 2 3"), "row 4: found 3 pixel values, expected 2304"),
    "non-number": (with_row(STRINGS, 2, STRINGS[2].replace(" ", " abc ", 1)),
                   "row 2: 'abc' is not an integer"),
    "string above 255": (with_row(STRINGS, 3, "300 " + STRINGS[3].split(" ", 1)[1]),
                         "row 3: pixel value 300"),
    "None": (with_row(STRINGS, 1, None), "row 1: expected a pixel string, got a missing value"),
    "NaN in Series": (pd.Series(with_row(STRINGS, 5, np.nan)),
                      "row 5: expected a pixel string, got a missing value"),
    "empty string": (with_row(STRINGS, 0, ""), "row 0: the pixel string is empty"),
    "NaN pixel": (with_value(IMAGES, (3, 10, 10), np.nan), "row 3 of X contains NaN"),
    "infinite pixel": (with_value(IMAGES, (2, 0, 0), np.inf),
                       "row 2 of X contains NaN or infinite"),
    "pixel above 255": (with_value(IMAGES, (4, 1, 1), 256), "row 4 of X has pixel value 256.0"),
    "negative pixel": (with_value(IMAGES, (1, 1, 1), -3), "row 1 of X has pixel value -3.0"),
    "bad crop in list": ([IMAGES[0], with_value(IMAGES[1], (0, 0), 999)],
                         "row 1 of X has pixel value 999"),
    "empty list": ([], "X is empty"),
    "empty array": (np.empty((0, 48, 48)), r"X is empty \(shape \(0, 48, 48\)\)"),
    "5-D array": (np.zeros((2, 48, 48, 1, 1)), r"X of shape \(2, 48, 48, 1, 1\)"),
    "4 channels": (np.zeros((2, 48, 48, 4)), "expected 1 .grey. or 3 .RGB. channels, got 4"),
    "flat non-square": (np.zeros((2, 2000)), "2000 values per row, which is not a square image"),
    "single flat image": (np.zeros(2304), r"X of shape \(2304,\)"),
    "booleans": (np.zeros((2, 48, 48), dtype=bool), "got dtype bool"),
    "DataFrame without pixels": (pd.DataFrame({"image": STRINGS}),
                                 r"needs a 'pixels' column; it has \['image'\]"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_named(case):
    X, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=message):
        PixelTransformer().fit(X)
    fitted = PixelTransformer().fit(IMAGES)
    with pytest.raises(ValueError, match=message):
        fitted.transform(X)


def test_transform_before_fit():
    with pytest.raises(NotFittedError):
        PixelTransformer().transform(IMAGES)


# ---- sklearn integration ------------------------------------------------------------------------


def test_clone_and_params():
    transformer = PixelTransformer(normalization="per_image", image_size=32)
    assert transformer.get_params() == {"normalization": "per_image", "image_size": 32,
                                        "input_scale": 255}
    copy = clone(transformer.fit(IMAGES))
    assert copy.get_params() == transformer.get_params()
    assert not hasattr(copy, "mean_")
    copy.set_params(normalization="standardize")
    assert copy.fit(IMAGES).mean_ is not None


def test_inside_a_pipeline_and_grid_search():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    images = rng.integers(0, 120, size=(40, 48, 48)).astype(np.uint8)
    images[y == 1, :24] += 120  # a bright upper half marks class 1
    pipeline = make_pipeline(
        PixelTransformer(image_size=12),
        FunctionTransformer(lambda batch: batch.reshape(len(batch), -1)),
        LogisticRegression(max_iter=200),
    )
    search = GridSearchCV(
        pipeline, {"pixeltransformer__normalization": ["scale", "standardize", "per_image"]}, cv=2
    ).fit(to_strings(images), y)
    assert search.best_score_ > 0.9
    assert search.predict(to_strings(images[:3])).tolist() == [0, 0, 0]


# ---- no silent wrong answers (issue #9) ----------------------------------------------------------


def test_a_single_2d_image_is_refused_not_read_as_rows():
    single = make_images(n=1, size=64)[0]
    with pytest.raises(ValueError, match=r"\(64, 64\) is ambiguous.*\(1, H, W\) or in a list"):
        PixelTransformer().fit(single)
    fitted = PixelTransformer().fit(IMAGES)
    assert fitted.transform(single[np.newaxis]).shape == (1, 48, 48, 1)
    assert fitted.transform([single]).shape == (1, 48, 48, 1)


def test_floats_on_the_0_1_scale_are_refused_unless_declared():
    unit = IMAGES.astype(np.float64) / 255
    with pytest.raises(ValueError, match=r"floats in \[0, 1\].*input_scale=1"):
        PixelTransformer().fit(unit)
    with pytest.raises(ValueError, match=r"floats in \[0, 1\]"):
        PixelTransformer().fit([unit[0], unit[1]])  # crops in a list too
    np.testing.assert_allclose(PixelTransformer(input_scale=1).fit_transform(unit), EXPECTED,
                               atol=1e-5)
    with pytest.raises(ValueError, match="outside the 0-1 scale of input_scale=1"):
        PixelTransformer(input_scale=1).fit(IMAGES)
    with pytest.raises(ValueError, match="'input_scale' parameter of PixelTransformer"):
        PixelTransformer(input_scale=100).fit(IMAGES)
    with pytest.raises(ValueError, match="'input_scale' parameter of PixelTransformer"):
        PixelTransformer(input_scale=math.nan).fit(IMAGES)
    # All-black float images read the same on either scale: accepted.
    assert PixelTransformer().fit_transform(np.zeros((2, 48, 48))).max() == 0


def test_an_empty_image_in_a_list_is_named():
    with pytest.raises(ValueError, match=r"image 1 of X is empty"):
        PixelTransformer().fit([IMAGES[0], np.zeros((0, 0), np.uint8)])


def test_old_pickles_get_the_new_parameter_default():
    import pickle

    transformer = PixelTransformer().fit(IMAGES)
    state = transformer.__getstate__()
    del state["input_scale"]
    blank = PixelTransformer.__new__(PixelTransformer)
    blank.__setstate__(state)
    assert blank.input_scale == 255
    assert pickle.loads(pickle.dumps(blank)).transform(IMAGES).shape == (6, 48, 48, 1)
