"""scripts/bench_pruning.py: the pruners it compares and the figures it prints."""

import pytest

from fer_estimator.search import PRUNERS


@pytest.fixture(scope="module")
def bench(load_script):
    """scripts/bench_pruning.py, imported once for this module."""
    return load_script("bench_pruning")


def test_compares_every_pruner_with_none(bench):
    assert {bench.BASELINE, *bench.PRUNED} == set(PRUNERS)


def test_prints_what_a_pruner_saved_against_no_pruning(bench, capsys):
    def report(pruned, epochs, time_s, cv_score, test_accuracy):
        return {"trial_counts": {"COMPLETE": 10 - pruned, "PRUNED": pruned},
                "epochs_trained": epochs, "trials_time_s": time_s,
                "cv_score": cv_score, "test_accuracy": test_accuracy}

    bench.print_comparison({"none": report(0, 120, 1000.0, 0.400, 0.390),
                             "median": report(6, 66, 600.0, 0.395, 0.380)})
    out = capsys.readouterr().out
    assert "median: saved 45% of the epochs and 40% of the trials' time; best CV score " \
           "-0.5 points, test accuracy -1.0 points" in out
    assert "median        10      6     66     600  0.3950 0.3800" in out
