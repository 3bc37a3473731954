"""scripts/bench_training.py: four interleaved ways of training, and the ratios it prints."""

import re

import pytest


@pytest.fixture(scope="module")
def bench(load_script):
    """scripts/bench_training.py, imported once for this module."""
    return load_script("bench_training")


@pytest.mark.parametrize("architecture", ["vgg", "resnet"])
def test_prints_images_per_second_for_every_way_and_precision(bench, capsys, architecture):
    bench.main(["--images", "64", "--epochs", "2", "--rounds", "1", "--depth", "1",
                "--base-filters", "4", "--architecture", architecture])
    out = capsys.readouterr().out
    assert out.count(f"{architecture}: 64 images") == 1
    for way in ("keras Model.fit", "FERClassifier.fit"):
        assert re.search(rf"^{re.escape(way)} +[\d.]+ +[\d.]+ +[\d.]+×$", out, re.MULTILINE)
    assert re.search(r"FERClassifier.fit / keras Model.fit, mixed_bfloat16: [\d.]+×", out)


def test_needs_an_epoch_beyond_the_untimed_first(bench):
    with pytest.raises(SystemExit):
        bench.main(["--epochs", "1"])
