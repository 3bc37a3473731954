"""Property-based tests (Hypothesis): arbitrary bytes, shapes, dtypes and scales give a correct
result or a clear ValueError, never a crash from OpenCV or NumPy internals (issue #9)."""

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fer_estimator import PixelTransformer, load_fer2013, parse_pixel_strings
from fer_estimator.faces.media import read_image

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SIDE = 3  # small images keep the strings short


def _reference_parse(text, n_pixels):
    """The pixel string's values if it is valid, else None (the specification, in Python)."""
    if not isinstance(text, str):
        return None
    tokens = text.split()
    try:
        values = [int(token) for token in tokens]
    except ValueError:
        return None
    if len(values) != n_pixels or any(not 0 <= v <= 255 for v in values):
        return None
    if any(not token.lstrip("+-").isascii() or not token.lstrip("+-").isdigit()
           for token in tokens):
        return None
    return values


pixel_tokens = st.one_of(st.integers(-5, 300).map(str), st.sampled_from(["", "x", "1.5", "٣",
                                                                           "+7", "007", "\t"]))
pixel_strings = st.one_of(
    st.lists(st.integers(0, 255), min_size=SIDE * SIDE, max_size=SIDE * SIDE)
    .map(lambda values: " ".join(map(str, values))),
    st.lists(pixel_tokens, min_size=0, max_size=12).map(" ".join),
    st.text(max_size=40),
    st.none(),
)


@FUZZ
@given(st.lists(pixel_strings, min_size=1, max_size=5))
def test_pixel_strings_parse_correctly_or_raise_value_error(strings):
    expected = [_reference_parse(text, SIDE * SIDE) for text in strings]
    if all(values is not None for values in expected):
        parsed = parse_pixel_strings(strings, image_size=SIDE)
        np.testing.assert_array_equal(parsed.reshape(len(strings), -1), np.array(expected))
    else:
        with pytest.raises(ValueError, match=r"row \d+"):
            parse_pixel_strings(strings, image_size=SIDE)


@FUZZ
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode),
       st.sampled_from(["fer.csv", "fer.csv.gz"]))
def test_any_file_content_loads_or_raises_value_error(content, name):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(b"emotion,pixels,Usage\n" + content if content[:1] == b"0" else content)
        try:
            bunch = load_fer2013(path, cache=False)
        except ValueError as error:
            assert name in str(error)  # every message names the file
            return
    assert bunch.data.dtype == np.uint8 and bunch.data.shape[1:] == (48, 48)
    assert len(bunch.data) == len(bunch.target) > 0


array_dtypes = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                         hnp.floating_dtypes(), hnp.boolean_dtypes(), hnp.complex_number_dtypes(),
                         st.just(np.dtype(object)))
arrays = hnp.arrays(array_dtypes, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0,
                                                   max_side=9))


@FUZZ
@given(arrays, st.sampled_from([255, 1]), st.sampled_from(["scale", "standardize", "per_image"]))
def test_pixel_transformer_gives_images_or_value_error(X, input_scale, normalization):
    transformer = PixelTransformer(normalization=normalization, image_size=8,
                                   input_scale=input_scale)
    try:
        out = transformer.fit_transform(X)
    except ValueError:
        return
    assert out.dtype == np.float32 and out.ndim == 4 and out.shape[1:] == (8, 8, 1)
    assert len(out) >= 1 and np.isfinite(out).all()
    if normalization == "scale":
        assert out.min() >= 0 and out.max() <= 1 + 1e-6


@FUZZ
@given(st.lists(hnp.arrays(st.sampled_from([np.uint8, np.float32, np.int16]),
                           hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=7)),
                min_size=1, max_size=4))
def test_lists_of_images_give_images_or_value_error(images):
    try:
        out = PixelTransformer(image_size=8).fit_transform(images)
    except ValueError:
        return
    assert out.shape == (len(images), 8, 8, 1) and np.isfinite(out).all()


def _encoded(extension):
    rng = np.random.default_rng(0)
    _ok, data = cv2.imencode(extension, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    return data.tobytes()


SAMPLES = [_encoded(ext) for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff")]


@st.composite
def damaged_images(draw):
    """A real encoded image with bytes changed, cut, or garbage."""
    kind = draw(st.sampled_from(["mutate", "truncate", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(max_size=400))
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(damaged_images(), st.sampled_from([".png", ".jpg", ".bmp", ".webp", ".tif"]),
       st.sampled_from([None, 10_000, 100]))
def test_read_image_gives_bgr_or_value_error(data, suffix, max_pixels):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"image{suffix}"
        path.write_bytes(data)
        try:
            image = read_image(path, max_pixels=max_pixels)
        except ValueError as error:
            assert str(path) in str(error)
            return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.size > 0
    if max_pixels is not None:
        assert image.shape[0] * image.shape[1] <= max_pixels


# --- the command line's output paths (issue #20) ----------------------------------------------

# What a path of the pool can be before the run: absent, a file or a folder.
LAYOUT_KINDS = st.sampled_from(["absent", "file", "folder"])
# Outputs drawn among the input photo, the model, names that may be files or folders, a path
# below one of them, and fresh names.
OUTPUT_CHOICES = st.sampled_from([None, "p.jpg", "m.joblib", "x", "y", "x/r.json", "new.csv",
                                  "deep/er/r.json", "p.jpg/r.csv"])
ANNOTATED_CHOICES = st.sampled_from([None, "x", "y", "new", "p.jpg", "n.jpg", "x/n.jpg"])


class _Started(Exception):
    """Raised where the first image would be read: the outputs were accepted."""


def _start(*args, **kwargs):
    raise _Started()


def _expected_refusal(root, outputs):
    """The option the checks must name, or None when every output can be written safely (the
    specification, written out: no output is an input or another output, none is a folder
    where a file goes or a file where a folder goes, and none lies below a file)."""
    taken = {root / "p.jpg", root / "m.joblib"}
    for option, name, is_folder in outputs:
        path = root / name
        nearest = next(parent for parent in (path if is_folder else path.parent, *path.parents)
                       if parent.exists())
        if (path in taken or not nearest.is_dir() or (path.is_dir() and not is_folder)
                or (path.is_file() and is_folder)):
            return option
        taken.add(path)
    return None


@FUZZ
@given(st.fixed_dictionaries({"x": LAYOUT_KINDS, "y": LAYOUT_KINDS}),
       OUTPUT_CHOICES, OUTPUT_CHOICES, ANNOTATED_CHOICES)
def test_output_paths_are_accepted_exactly_when_they_are_safe(layout, json_name, csv_name,
                                                              out_name):
    from fer_estimator.cli import main

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        root = Path(folder).resolve()
        (root / "p.jpg").write_bytes(b"the photo")
        (root / "m.joblib").write_bytes(b"the model")
        for name, kind in layout.items():
            if kind == "file":
                (root / name).write_bytes(b"old")
            elif kind == "folder":
                (root / name).mkdir()
        outputs = [(option, name, option == "--out" and not name.endswith(".jpg"))
                   for option, name in (("--out", out_name), ("--json", json_name),
                                        ("--csv", csv_name)) if name is not None]
        # The folder --out first, as the command checks folders before files.
        outputs.sort(key=lambda output: not output[2])
        expected = _expected_refusal(root, outputs)
        patch.setattr("fer_estimator.faces.FacePipeline.warm_up", _start)
        errors = []
        patch.setattr("sys.stderr", type("Capture", (), {"write": errors.append,
                                                          "flush": lambda self: None})())
        status = main(["predict", str(root / "p.jpg"), "--model", str(root / "m.joblib"),
                       "--trust-model",
                       *[arg for option, name, _ in outputs for arg in (option, str(root / name))]])
        message = "".join(errors)
        if expected is None:
            assert status == 70 and "_Started" in message, message
        else:
            assert status == 2 and f"predict: error: {expected} " in message, message
        # Nothing was written or replaced before the checks passed.
        assert (root / "p.jpg").read_bytes() == b"the photo"
        assert (root / "m.joblib").read_bytes() == b"the model"
        assert not (root / "new.csv").exists() and not (root / "deep").exists()
