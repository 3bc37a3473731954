"""Pruners by name; the same-step median pruner compares trials at the same fold and epoch."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search.pruners import SameStepMedianPruner, make_pruner


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


@pytest.mark.parametrize("name, kind", [
    ("median", SameStepMedianPruner),
    ("successive-halving", optuna.pruners.SuccessiveHalvingPruner),
    ("hyperband", optuna.pruners.HyperbandPruner),
    ("none", optuna.pruners.NopPruner),
])
def test_pruners_by_name(name, kind):
    assert isinstance(make_pruner(name, n_steps=6), kind)


def _replay(pruner, curves):
    """Run one trial per curve, reporting it step by step as the search objective does."""
    study = optuna.create_study(direction="maximize", pruner=pruner)

    def objective(trial):
        curve = curves[trial.number]
        for step, value in enumerate(curve):
            trial.report(value, step)
            if step < len(curve) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1]

    study.optimize(objective, n_trials=len(curves))
    return [(trial.state, max(trial.intermediate_values)) for trial in study.trials]


def test_successive_halving_stops_trials_outside_the_best_third_at_its_first_rung():
    ranked = [[0.30 + 0.02 * rank] * 6 for rank in range(6)]
    outcomes = _replay(make_pruner("successive-halving", n_steps=6),
                       [*ranked, [0.10] * 6, [0.90] * 6])
    # Step 1 is its first rung: the weak trial stops there, the best one trains to the end.
    assert outcomes[-2] == (TrialState.PRUNED, 1)
    assert outcomes[-1] == (TrialState.COMPLETE, 5)
