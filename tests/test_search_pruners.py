"""Pruners by name; the same-step median pruner compares trials at the same fold and epoch."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from fer_estimator.search.pruners import SameStepMedianPruner, make_pruner


def _study_with(curves, direction="maximize"):
    study = optuna.create_study(direction=direction)
    for curve in curves:
        study.add_trial(create_trial(
            params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
            value=curve[-1], intermediate_values=dict(enumerate(curve))))
    return study


def _running(values):
    return create_trial(state=TrialState.RUNNING, params={"x": 0.5},
                        distributions={"x": FloatDistribution(0, 1)},
                        intermediate_values=dict(enumerate(values)))


# Three completed trials, two folds of two epochs each: steps 0-1 are fold 0, 2-3 fold 1.
FINISHED = [[0.30, 0.50, 0.30, 0.50], [0.32, 0.52, 0.32, 0.52], [0.34, 0.54, 0.34, 0.54]]


def test_prunes_a_trial_behind_the_others_early_in_a_later_fold():
    study = _study_with(FINISHED)
    # Its first fold ended well (0.60), but at step 2 it trails the median (0.32). Optuna's
    # MedianPruner compares its best value so far (0.60) and would let it run on.
    behind = _running([0.40, 0.60, 0.20])
    assert SameStepMedianPruner().prune(study, behind)
    assert not optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1).prune(
        study, behind)


def test_keeps_a_trial_at_or_above_the_median_and_respects_warm_up_and_start_up():
    study = _study_with(FINISHED)
    assert not SameStepMedianPruner().prune(study, _running([0.40, 0.52, 0.33]))
    assert not SameStepMedianPruner(n_warmup_steps=3).prune(study, _running([0.1, 0.1, 0.1]))
    assert not SameStepMedianPruner(n_startup_trials=4).prune(study, _running([0.1, 0.1, 0.1]))


def test_minimising_studies_prune_values_above_the_median():
    study = _study_with([[1.0, 0.8], [1.1, 0.7], [0.9, 0.9]], direction="minimize")
    assert SameStepMedianPruner().prune(study, _running([1.0, 0.95]))
    assert not SameStepMedianPruner().prune(study, _running([1.0, 0.75]))


def test_median_by_name_prunes_from_the_first_epoch():
    study = _study_with(FINISHED)
    assert make_pruner("median", n_steps=4).prune(study, _running([0.10]))
    assert not make_pruner("median", n_steps=4).prune(study, _running([0.35]))


@pytest.mark.parametrize("name, kind", [
    ("median", SameStepMedianPruner),
    ("hyperband", optuna.pruners.HyperbandPruner),
    ("none", optuna.pruners.NopPruner),
])
def test_pruners_by_name(name, kind):
    assert isinstance(make_pruner(name, n_steps=6), kind)


def test_only_completed_trials_make_the_median():
    # Optuna's percentile pruners count COMPLETE trials only: pruned trials were stopped for
    # being poor, and counting them would drag the median down until nothing is pruned.
    study = _study_with([[0.50], [0.52], [0.54]])
    for value in (0.10, 0.12, 0.14, 0.16):
        study.add_trial(create_trial(
            state=TrialState.PRUNED, params={"x": 0.5},
            distributions={"x": FloatDistribution(0, 1)}, intermediate_values={0: value}))
    assert SameStepMedianPruner().prune(study, _running([0.40]))  # median 0.52, not 0.16
