"""Tests for the FER2013 loader, its cache and the vectorised pixel-string parser."""

import gzip
import os
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from fer_estimator import data
from fer_estimator.data import load_fer2013, parse_pixel_strings
from fer_estimator.labels import EMOTIONS, EMOTIONS_6

USAGE_CYCLE = ("Training", "Training", "PublicTest", "PrivateTest")


def to_strings(images):
    return [" ".join(map(str, image.ravel())) for image in images]


def seed_parse(strings):
    """The seed notebooks' loop, the reference the fast parser must match."""
    return np.stack([np.array([int(value) for value in text.split()]).reshape(48, 48)
                     for text in strings])


def make_table(n_rows=21, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_rows, 48, 48), dtype=np.uint8)
    images[0, 0, :3] = [0, 7, 255]  # one-, two- and three-digit edge values
    return pd.DataFrame(
        {
            "emotion": np.arange(n_rows) % 7,
            "pixels": to_strings(images),
            "Usage": [USAGE_CYCLE[i % len(USAGE_CYCLE)] for i in range(n_rows)],
        }
    ), images


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def small_csv(tmp_path):
    table, images = make_table()
    path = tmp_path / "fer.csv"
    table.to_csv(path, index=False)
    return path, table, images


@pytest.fixture
def small_chunks(monkeypatch):
    """Parse in 4-row batches so a few rows exercise several batches and the row offsets."""
    monkeypatch.setattr(data, "_CHUNK_ROWS", 4)


# ---- parse_pixel_strings ----------------------------------------------------------------------


@pytest.mark.parametrize("container", [list, np.array, pd.Series, tuple])
def test_parse_matches_seed_loop(container, small_chunks):
    _, images = make_table(n_rows=10)
    strings = to_strings(images)
    parsed = parse_pixel_strings(container(strings))
    assert parsed.dtype == np.uint8 and parsed.shape == (10, 48, 48)
    np.testing.assert_array_equal(parsed, seed_parse(strings))


def test_parse_other_image_size_and_empty_input():
    assert (parse_pixel_strings(["1 2 3 4", "5 6 7 8"], image_size=2).tolist()
            == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    assert parse_pixel_strings([]).shape == (0, 48, 48)
    with pytest.raises(ValueError, match="image_size"):
        parse_pixel_strings(["1"], image_size=0)


def test_parse_slow_path_accepts_odd_but_valid_spacing(small_chunks):
    _, images = make_table(n_rows=6)
    strings = to_strings(images)
    strings[5] = "\t" + strings[5].replace(" ", "\t ", 10) + "\n"
    strings[1] = "007 " + strings[1].split(" ", 1)[1]
    expected = images.copy()
    expected[1, 0, 0] = 7
    np.testing.assert_array_equal(parse_pixel_strings(strings), expected)


BAD_ROWS = {
    "too few": (lambda s: s.rsplit(" ", 1)[0], "found 2303 pixel values, expected 2304"),
    "too many": (lambda s: s + " 1", "found 2305 pixel values, expected 2304"),
    "non-number": (lambda s: s.replace(" ", " 12a ", 1), "'12a' is not an integer"),
    "float": (lambda s: s.replace(" ", " 1.5 ", 1), "'1.5' is not an integer"),
    "above 255": (lambda s: "256" + s[s.index(" ") :],
                  "pixel value 256 at position 0 is outside 0-255"),
    "four digits": (lambda s: "1000" + s[s.index(" ") :], "1000 at position 0 is outside"),
    "negative": (lambda s: s[: s.rindex(" ")] + " -1",
                 "pixel value -1 at position 2303 is outside 0-255"),
    "empty": (lambda s: "  ", "the pixel string is empty"),
    "None": (lambda s: None, "got a missing value"),
    "NaN": (lambda s: float("nan"), "got a missing value"),
    "number": (lambda s: 5, r"got int \(5\)"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_parse_names_the_first_bad_row(case, small_chunks):
    corrupt, message = BAD_ROWS[case]
    _, images = make_table(n_rows=12)
    strings = to_strings(images)
    strings[6], strings[9] = corrupt(strings[6]), corrupt(strings[9])
    with pytest.raises(ValueError, match=f"^row 6: .*{message}"):
        parse_pixel_strings(strings)


def test_parse_rejects_a_2d_array():
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        parse_pixel_strings(np.array([["1", "2"], ["3", "4"]], dtype=object))


# ---- load_fer2013 -----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_load_plain_and_gzip(tmp_path, cache_dir, compression):
    table, images = make_table()
    path = tmp_path / ("fer.csv.gz" if compression else "fer.csv")
    table.to_csv(path, index=False, compression=compression)
    bunch = load_fer2013(path, cache_dir=cache_dir)
    assert isinstance(bunch, Bunch)
    assert bunch.data.dtype == np.uint8 and bunch.data.shape == (21, 48, 48)
    np.testing.assert_array_equal(bunch.data, images)
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, table["emotion"])
    assert list(bunch.target_names) == list(EMOTIONS)
    assert list(bunch.usage) == list(table["Usage"])
    assert "21 rows" in bunch.DESCR and "Training: 11" in bunch.DESCR


def test_usage_filter(small_csv, cache_dir):
    path, table, images = small_csv
    public = load_fer2013(path, usage="PublicTest", cache_dir=cache_dir)
    wanted = table["Usage"] == "PublicTest"
    np.testing.assert_array_equal(public.data, images[wanted])
    np.testing.assert_array_equal(public.target, table["emotion"][wanted])
    assert set(public.usage) == {"PublicTest"}
    both = load_fer2013(path, usage=["Training", "PrivateTest"], cache_dir=cache_dir)
    assert len(both.target) == (table["Usage"] != "PublicTest").sum()


@pytest.mark.parametrize("usage", ["Validation", ["Training", "training"], []])
def test_unknown_usage_lists_those_present(tmp_path, cache_dir, usage):
    table, _ = make_table()
    path = tmp_path / "fer.csv"
    table[table["Usage"] != "PrivateTest"].to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"it holds \['PublicTest', 'Training'\]"):
        load_fer2013(path, usage=usage, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="'PrivateTest'"):
        load_fer2013(path, usage="PrivateTest", cache_dir=cache_dir)


def test_six_classes_merge_disgust_into_angry(small_csv, cache_dir):
    path, table, _ = small_csv
    bunch = load_fer2013(path, n_classes=6, cache_dir=cache_dir)
    expected = np.array([0, 0, 1, 2, 3, 4, 5])[table["emotion"]]
    np.testing.assert_array_equal(bunch.target, expected)
    assert bunch.target.dtype == np.int64
    assert list(bunch.target_names) == list(EMOTIONS_6)


def test_strings_mode_and_return_X_y(small_csv, cache_dir):
    path, table, _ = small_csv
    X, y = load_fer2013(path, pixels="strings", usage="Training", return_X_y=True,
                        cache_dir=cache_dir)
    wanted = table["Usage"] == "Training"
    assert X.dtype == object and X.shape == (wanted.sum(),)
    assert list(X) == list(table["pixels"][wanted])
    np.testing.assert_array_equal(y, table["emotion"][wanted])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n_classes": 5}, "n_classes must be 7 or 6"),
     ({"pixels": "arrays"}, "pixels must be 'images' or 'strings'")],
)
def test_bad_options(small_csv, cache_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_fer2013(small_csv[0], cache_dir=cache_dir, **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv"):
        load_fer2013(tmp_path / "nowhere.csv", cache_dir=tmp_path)


def test_missing_column_names_file_and_column(tmp_path, cache_dir):
    table, _ = make_table()
    path = tmp_path / "no_usage.csv"
    table.drop(columns="Usage").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"no_usage.csv: missing column\(s\) \['Usage'\]"):
        load_fer2013(path, cache_dir=cache_dir)


@pytest.mark.parametrize("bad_code", [7, -1, "x", "", 2.5])
def test_bad_emotion_names_the_row(tmp_path, cache_dir, bad_code):
    table, _ = make_table()
    table["emotion"] = table["emotion"].astype(object)
    table.loc[4, "emotion"] = bad_code
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError,
                       match=r"bad\.csv: row 4 has emotion .* expected an integer code 0-6"):
        load_fer2013(path, cache_dir=cache_dir)


def test_bad_pixels_name_the_file_and_row(tmp_path, cache_dir):
    table, _ = make_table()
    table.loc[3, "pixels"] = table.loc[3, "pixels"] + " 9"
    table.loc[5, "pixels"] = ""
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    for pixels in ("images", "strings"):
        with pytest.raises(ValueError, match=r"bad\.csv: row 3: found 2305 pixel values"):
            load_fer2013(path, pixels=pixels, cache_dir=cache_dir)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_missing_usage_value_names_the_row(tmp_path, cache_dir):
    table, _ = make_table()
    table.loc[2, "Usage"] = None
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match="row 2 has no Usage"):
        load_fer2013(path, cache_dir=cache_dir)


def test_a_blank_line_is_a_bad_row_at_its_own_line(tmp_path, cache_dir):
    table, _ = make_table(4)
    table.loc[3, "emotion"] = 9
    lines = table.to_csv(index=False).splitlines()
    lines.insert(2, "")  # between rows 0 and 1; row 3 (now on line 6) is bad too
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"blank.csv: row \d+ ") as caught:
        load_fer2013(path, cache_dir=cache_dir)
    row = int(re.search(r"row (\d+)", str(caught.value)).group(1))
    # Row i is on line i + 2 (lines[i + 1]): the first bad line, the blank one.
    assert row == 1 and lines[row + 1] == ""
    assert "row 1 is a blank line (line 3 of the file)" in str(caught.value)


def test_blank_lines_at_the_end_are_not_rows(small_csv, cache_dir):
    path, _table, images = small_csv
    path.write_text(path.read_text() + "\n\n")
    bunch = load_fer2013(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(bunch.data, images)


# ---- cache --------------------------------------------------------------------------------------


def forbid_reading(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the CSV was parsed again instead of coming from the cache")

    monkeypatch.setattr(data, "parse_pixel_strings", fail)
    monkeypatch.setattr(data, "_read_table", fail)


def test_second_load_comes_from_the_cache(small_csv, cache_dir, monkeypatch):
    path = small_csv[0]
    first = load_fer2013(path, cache_dir=cache_dir)
    cache_files = list(cache_dir.glob("*.npz"))
    assert len(cache_files) == 1 and cache_files[0].name.startswith("fer.csv-")
    forbid_reading(monkeypatch)
    second = load_fer2013(path, usage="Training", cache_dir=cache_dir)
    np.testing.assert_array_equal(second.data, first.data[first.usage == "Training"])
    assert list(cache_dir.iterdir()) == cache_files  # no temp files left behind


def test_strings_mode_uses_the_cache_instead_of_parsing(small_csv, cache_dir, monkeypatch):
    path, table, _ = small_csv
    load_fer2013(path, cache_dir=cache_dir)
    monkeypatch.setattr(data, "parse_pixel_strings", lambda *a, **k: pytest.fail("parsed again"))
    bunch = load_fer2013(path, pixels="strings", cache_dir=cache_dir)
    assert list(bunch.data) == list(table["pixels"])
    np.testing.assert_array_equal(bunch.target, table["emotion"])


def test_cache_is_invalidated_when_the_file_changes(small_csv, cache_dir):
    path, table, images = small_csv
    load_fer2013(path, cache_dir=cache_dir)
    changed = table.copy()
    changed.loc[0, "pixels"] = " ".join(["9"] * 2304)
    changed.loc[0, "emotion"] = 3
    changed.to_csv(path, index=False)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # even on coarse clocks
    bunch = load_fer2013(path, cache_dir=cache_dir)
    assert (bunch.data[0] == 9).all() and bunch.target[0] == 3
    np.testing.assert_array_equal(bunch.data[1:], images[1:])
    assert len(list(cache_dir.glob("*.npz"))) == 1  # the stale cache was replaced


def test_corrupt_cache_is_ignored_and_rewritten(small_csv, cache_dir, monkeypatch):
    path, _, images = small_csv
    load_fer2013(path, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:1000])
    np.testing.assert_array_equal(load_fer2013(path, cache_dir=cache_dir).data, images)
    forbid_reading(monkeypatch)
    np.testing.assert_array_equal(load_fer2013(path, cache_dir=cache_dir).data, images)


def test_cache_false_writes_nothing(small_csv, cache_dir):
    load_fer2013(small_csv[0], cache=False, cache_dir=cache_dir)
    assert not cache_dir.exists()


def test_unwritable_cache_only_warns(small_csv, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="could not write the FER2013 cache"):
        bunch = load_fer2013(small_csv[0], cache_dir=blocker / "cache")
    np.testing.assert_array_equal(bunch.data, small_csv[2])


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"FER_ESTIMATOR_CACHE": "explicit", "XDG_CACHE_HOME": "xdg"}, "explicit"),
        ({"XDG_CACHE_HOME": "xdg"}, "xdg/fer-estimator"),
        ({"HOME": "home"}, "home/.cache/fer-estimator"),
    ],
)
def test_default_cache_dir(small_csv, tmp_path, monkeypatch, env, expected):
    for name in ("FER_ESTIMATOR_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    load_fer2013(small_csv[0])
    assert len(list((tmp_path / expected).glob("fer.csv-*.npz"))) == 1


# ---- the real data ----------------------------------------------------------------------------


@pytest.mark.shared_data
def test_shared_fer2013(shared_fer2013_csv, tmp_path):
    bunch = load_fer2013(shared_fer2013_csv, cache_dir=tmp_path)
    assert bunch.data.shape == (28_709 + 3_435, 48, 48) and bunch.data.dtype == np.uint8
    names, counts = np.unique(bunch.usage, return_counts=True)
    assert dict(zip(names, counts, strict=True)) == {"Training": 28_709, "PublicTest": 3_435}
    assert set(np.unique(bunch.target)) == set(range(7))
    X, y = load_fer2013(shared_fer2013_csv, usage="PublicTest", n_classes=6, return_X_y=True,
                        cache_dir=tmp_path)
    assert X.shape == (3_435, 48, 48) and set(np.unique(y)) == set(range(6))


# ---- no silent wrong answers (issue #9) ----------------------------------------------------------


def test_a_usage_typo_raises_instead_of_dropping_the_row(tmp_path, cache_dir):
    table, _ = make_table(6)
    table.loc[3, "Usage"] = "Trainig"
    path = tmp_path / "typo.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"typo.csv: row 3 has Usage 'Trainig' \(did you mean "
                                         r"'Training'\?\)"):
        load_fer2013(path, usage="Training", cache_dir=cache_dir)


def test_a_header_only_file_raises(tmp_path, cache_dir):
    path = tmp_path / "header.csv"
    path.write_text("emotion,pixels,Usage\n")
    with pytest.raises(ValueError, match=r"header\.csv: no data rows"):
        load_fer2013(path, cache_dir=cache_dir)


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe binary \x00" * 50, "truncated gz"],
                         ids=["empty", "binary", "truncated gz"])
def test_unreadable_files_name_the_file(tmp_path, cache_dir, content):
    if content == "truncated gz":
        table, _ = make_table(20)
        path = tmp_path / "fer.csv.gz"
        table.to_csv(path, index=False, compression="gzip")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path = tmp_path / "fer.csv"
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"{path.name}: (not a readable FER2013 CSV|missing)"):
        load_fer2013(path, cache_dir=cache_dir)


@pytest.mark.parametrize("pixels", ["images", "strings"])
def test_an_edit_in_place_with_the_same_size_and_mtime_is_not_served_stale(
        small_csv, cache_dir, pixels):
    path, _table, _images = small_csv
    load_fer2013(path, cache_dir=cache_dir)
    stat = path.stat()
    header, first, rest = path.read_text().split("\n", 2)
    emotion, strings = first.split(",", 1)
    assert strings.startswith("0 ")  # make_table's first pixel
    path.write_text("\n".join([header, f"{emotion},9{strings[1:]}", rest]))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old mtime, as some tools do
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    bunch = load_fer2013(path, cache_dir=cache_dir, pixels=pixels)
    if pixels == "images":
        assert bunch.data[0].ravel()[0] == 9
    else:
        assert bunch.data[0].split()[0] == "9"


# --- bounded reads: no file exhausts memory or time ---------------------------------------

def test_a_huge_sparse_file_is_refused_from_its_size(tmp_path, cache_dir):
    path = tmp_path / "s.csv"
    with open(path, "wb") as file:
        file.truncate(2**31)  # `truncate -s 2G s.csv`: sparse, nothing is written
    with pytest.raises(ValueError, match=r"s.csv: 2,147,483,648 bytes, more than the "
                                         r"1,073,741,824") as caught:
        load_fer2013(path, cache_dir=cache_dir)
    assert len(str(caught.value)) < 200


def test_a_header_without_end_is_refused_after_its_bound(tmp_path, cache_dir):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"\0" * 2**23)
    with pytest.raises(ValueError, match=r"nul.csv: line 1 \(the header\) is longer than "
                                         r"4,096 bytes") as caught:
        load_fer2013(path, cache_dir=cache_dir)
    assert len(str(caught.value)) < 200


def test_a_gzip_bomb_of_nul_bytes_is_refused_at_the_line_bound(tmp_path, cache_dir):
    path = tmp_path / "bomb.csv"  # known as gzip by its first bytes, not its name
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(b"emotion,pixels,Usage\n" + b"\0" * 2**24)
    assert path.stat().st_size < 2**17
    with pytest.raises(ValueError, match=r"bomb.csv: line 2 is longer than 1,048,576 bytes"):
        load_fer2013(path, cache_dir=cache_dir)


def test_decompressed_text_and_lines_are_budgeted(tmp_path, cache_dir, monkeypatch):
    table, _ = make_table(40)
    path = tmp_path / "fer.csv.gz"
    table.to_csv(path, index=False, compression="gzip")
    monkeypatch.setattr(data, "MAX_CSV_BYTES", 100_000)  # the 40 rows inflate to ~250 kB
    with pytest.raises(ValueError, match=r"fer.csv.gz: more than 100,000 bytes of text"):
        load_fer2013(path, cache_dir=cache_dir)
    monkeypatch.setattr(data, "MAX_CSV_BYTES", 2**30)
    monkeypatch.setattr(data, "MAX_CSV_LINES", 39)
    with pytest.raises(ValueError, match=r"fer.csv.gz: more than 39 lines"):
        load_fer2013(path, cache_dir=cache_dir)
    monkeypatch.setattr(data, "MAX_CSV_LINES", 41)  # the header and 40 rows fit
    assert len(load_fer2013(path, cache_dir=cache_dir).target) == 40


def test_a_line_longer_than_its_bound_across_reads(tmp_path, cache_dir, monkeypatch):
    table, _ = make_table(3)
    path = tmp_path / "fer.csv"
    table.to_csv(path, index=False)
    monkeypatch.setattr(data, "MAX_LINE_BYTES", 5000)  # below one row's ~9 kB
    with pytest.raises(ValueError, match=r"fer.csv: line 2 is longer than 5,000 bytes"):
        load_fer2013(path, cache_dir=cache_dir)


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_not_a_regular_file_is_named_as_such(tmp_path, cache_dir, kind):
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)
        expected = "a FIFO"
    elif kind == "device":
        path, expected = "/dev/zero", "a character device"
    else:
        path, expected = tmp_path, "a folder"
    with pytest.raises(ValueError, match=rf"is not a regular file \({expected}"):
        load_fer2013(path, cache_dir=cache_dir)


@pytest.mark.parametrize("change", ["images dtype", "images shape", "emotion range", "usage"])
def test_a_cache_with_arrays_of_the_wrong_shape_or_dtype_is_not_used(small_csv, cache_dir,
                                                                      change):
    path, _, images = small_csv
    load_fer2013(path, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.npz")
    with np.load(cache_file) as stored:
        arrays = dict(stored)
    if change == "images dtype":
        arrays["images"] = arrays["images"].astype(np.float64)
    elif change == "images shape":
        arrays["images"] = arrays["images"].reshape(len(images), 96, 24)
    elif change == "emotion range":
        arrays["emotion"] = arrays["emotion"] + 50
    else:
        arrays["usage"] = np.array(["Bogus"] * len(images))
    with open(cache_file, "wb") as file:
        np.savez(file, **arrays)
    bunch = load_fer2013(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(bunch.data, images)
    assert bunch.data.dtype == np.uint8 and set(bunch.target) <= set(range(7))
    assert set(bunch.usage) <= set(data.USAGES)
