"""Soft-voting ensembles of fitted FER pipelines, as scikit-learn estimators.

Networks trained from other seeds make different mistakes: averaging their probabilities
(scikit-learn's ``VotingClassifier(voting="soft")``) is more accurate than any one of them.
The members and their shared preprocessing are fitted already, so they are wrapped in
``FrozenEstimator``: fitting the ensemble only records the classes, and cloning or refitting it
never retrains a network nor re-learns the normalisation the networks were trained with.
"""

import copy
from numbers import Integral

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline


def soft_voting_ensemble(pipelines, names=None):
    """One fitted pipeline averaging the class probabilities of fitted FER pipelines.

    Parameters
    ----------
    pipelines : list of Pipeline
        At least two fitted pipelines with the same preprocessing (same parameters and
        fitted state: it runs once, for all members) and the same classes, each ending in
        a classifier with ``predict_proba``.
    names : list of str, default=None
        The members' names in the ``VotingClassifier``; ``member0``, ``member1``... by default.

    Returns
    -------
    Pipeline
        The shared preprocessing steps, then a fitted soft ``VotingClassifier`` (step
        ``"vote"``) of the members' classifiers, every step in a ``FrozenEstimator``.
    """
    pipelines = list(pipelines)
    if len(pipelines) < 2:
        raise ValueError(f"an ensemble needs at least two pipelines, got {len(pipelines)}")
    names = [f"member{index}" for index in range(len(pipelines))] if names is None else names
    if len(names) != len(pipelines):
        raise ValueError(f"got {len(names)} names for {len(pipelines)} pipelines")
    preprocessing = pipelines[0][:-1]
    classes = pipelines[0].classes_
    for name, pipeline in zip(names[1:], pipelines[1:], strict=True):
        difference = _preprocessing_difference(preprocessing, pipeline[:-1])
        if difference:
            raise ValueError(f"pipeline {name!r} preprocesses images differently from "
                             f"{names[0]!r} ({difference}): an ensemble shares one preprocessing")
        if not np.array_equal(pipeline.classes_, classes):
            raise ValueError(f"pipeline {name!r} has classes {list(pipeline.classes_)}, "
                             f"{names[0]!r} has {list(classes)}")
    vote = VotingClassifier(
        [(name, FrozenEstimator(pipeline.steps[-1][1]))
         for name, pipeline in zip(names, pipelines, strict=True)],
        voting="soft")
    # Frozen members ignore fit: it only records the classes, one sample of each.
    vote.fit(np.zeros((len(classes), 1)), classes)
    shared = [(name, FrozenEstimator(copy.deepcopy(step))) for name, step in preprocessing.steps]
    return Pipeline([*shared, ("vote", vote)])


def shared_validation_rows(pipelines, y):
    """Indices of the training images that every one of ``pipelines`` held out for validation.

    Parameters
    ----------
    pipelines : list of Pipeline
        Fitted on the same training images, in the same order, each ending in a
        :class:`~fer_estimator.FERClassifier` with the same ``validation_fraction`` and the
        same integer seed of the split (``validation_random_state``, else ``random_state``).
    y : array-like of shape (n_samples,)
        The labels those training images had.

    Returns
    -------
    ndarray of int
        Positions in ``y`` none of the networks trained on: where an ensemble of them is
        scored honestly.
    """
    networks = [pipeline.steps[-1][1] for pipeline in pipelines]
    if any(not network.validation_fraction for network in networks):
        raise ValueError("a network trained on all its images (validation_fraction=0): none is "
                         "left to score them on")
    splits = [(network.validation_fraction, _split_seed(network)) for network in networks]
    if any(not isinstance(seed, Integral) for _, seed in splits) or len(set(splits)) != 1:
        raise ValueError(f"the networks did not hold out the same images: their "
                         f"(validation_fraction, split seed) are {splits}; train them with the "
                         f"same validation_fraction and an integer validation_random_state")
    encoded = networks[0].target_encoder_.transform(np.asarray(y))
    *_, (held_out, _) = networks[0].split_validation(np.arange(len(encoded)), encoded, None)
    return held_out


def is_ensemble(model):
    """Whether ``model`` is a pipeline ending in a ``VotingClassifier``, as
    :func:`soft_voting_ensemble` builds."""
    return isinstance(model, Pipeline) and isinstance(model.steps[-1][1], VotingClassifier)


def ensemble_members(ensemble):
    """The member pipelines of an ensemble built by :func:`soft_voting_ensemble`, by name.

    Parameters
    ----------
    ensemble : Pipeline
        Shared preprocessing steps, then a fitted soft ``VotingClassifier`` step, as
        :func:`soft_voting_ensemble` returns and :func:`~fer_estimator.load` rebuilds.

    Returns
    -------
    dict of str to Pipeline
        For each member, in the ensemble's order: the shared preprocessing, then the member's
        classifier (step ``"classifier"``). The steps are the ensemble's own objects, not
        copies; :func:`soft_voting_ensemble` of these pipelines rebuilds the ensemble.
    """
    if not is_ensemble(ensemble) or not hasattr(ensemble.steps[-1][1], "estimators_"):
        raise ValueError(f"not a fitted ensemble: expected a Pipeline ending in a fitted "
                         f"VotingClassifier, got {ensemble!r}")
    *shared, (_, vote) = ensemble.steps
    preprocessing = [(name, _unfrozen(step)) for name, step in shared]
    return {name: Pipeline([*preprocessing, ("classifier", _unfrozen(member))])
            for name, member in vote.estimators}


def _unfrozen(estimator):
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _split_seed(network):
    if network.validation_random_state is not None:
        return network.validation_random_state
    return network.random_state


def member_classifiers(classifier):
    """The fitted classifiers whose probabilities ``classifier`` averages (itself if none)."""
    members = getattr(classifier, "estimators_", None)
    if members is None:
        return [classifier]
    return [_unfrozen(member) for member in members]


def _preprocessing_difference(first, other):
    """What differs between two fitted preprocessing pipelines; empty when they are the same."""
    if len(first.steps) != len(other.steps):
        return f"{len(first.steps)} against {len(other.steps)} steps"
    for (name, step), (_, other_step) in zip(first.steps, other.steps, strict=True):
        if type(step) is not type(other_step) or step.get_params() != other_step.get_params():
            return f"step {name!r}: {step!r} against {other_step!r}"
        for key in sorted(_fitted_attributes(step) | _fitted_attributes(other_step)):
            if not _equal(getattr(step, key, None), getattr(other_step, key, None)):
                return f"step {name!r}: fitted {key} differs"
    return ""


def _fitted_attributes(estimator):
    return {key for key in vars(estimator) if key.endswith("_") and not key.startswith("_")}


def _equal(value, other):
    if isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
        return np.array_equal(value, other)
    return value == other
