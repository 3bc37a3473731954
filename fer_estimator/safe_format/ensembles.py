"""The ensemble layout (format version 2): the shared steps, then a vote step listing each
member's classifier, one network per member. Loading rebuilds the member pipelines and hands
them to :func:`~fer_estimator.soft_voting_ensemble`, so the ``FrozenEstimator`` wrappers and
the vote's parameters are implied, not stored."""

from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator

from ..ensemble import soft_voting_ensemble
from .description import ENSEMBLE_NETWORK_MEMBER, VOTE_CLASS, check_member_names
from .errors import SafeFormatError
from .pipelines import build_pipeline
from .steps import describe_step


def describe_ensemble(model):
    """The step tables of a :func:`soft_voting_ensemble` pipeline (its shared steps, then the
    vote step listing the members' classifiers), and the members' networks by archive member."""
    *shared, (vote_name, vote) = model.steps
    # The file records none of the VotingClassifier's parameters: loading rebuilds the vote
    # with soft_voting_ensemble, so they must be the ones it sets.
    expected = VotingClassifier(vote.estimators, voting="soft").get_params(deep=False)
    changed = [f"{key}={value!r}" for key, value in vote.get_params(deep=False).items()
               if type(value) is not type(expected[key]) or value != expected[key]]
    if vote_name != "vote" or changed:
        raise SafeFormatError(
            f"the safe format holds ensembles as soft_voting_ensemble builds them (a soft "
            f"VotingClassifier with default parameters, step 'vote'); this one has step "
            f"{vote_name!r}{''.join(', ' + change for change in changed)}. Save it with "
            f"fer_estimator.persistence.dump_joblib instead")
    if not hasattr(vote, "estimators_"):
        raise SafeFormatError("the VotingClassifier is not fitted: build the ensemble with "
                              "soft_voting_ensemble")
    names = [name for name, _ in vote.estimators]
    check_member_names(names, "cannot save the ensemble")
    classifiers = [_unfrozen(name, member) for name, member in vote.estimators]
    described = [describe_step(name, _unfrozen(name, step), final=False)
                 for name, step in shared]
    described.append({"name": vote_name, "class": VOTE_CLASS,
                      "members": [describe_step(name, classifier, final=True)
                                  for name, classifier in zip(names, classifiers, strict=True)]})
    return described, {ENSEMBLE_NETWORK_MEMBER.format(name): classifier.model_
                       for name, classifier in zip(names, classifiers, strict=True)}


def _unfrozen(name, step):
    if not isinstance(step, FrozenEstimator):
        raise SafeFormatError(
            f"the safe format holds ensembles as soft_voting_ensemble builds them, each step "
            f"in a FrozenEstimator; {name!r} is a {type(step).__module__}."
            f"{type(step).__name__}. Save it with fer_estimator.persistence.dump_joblib instead")
    return step.estimator


def build_ensemble(description, networks, path, rebuild_classifier=None):
    """The ensemble as soft_voting_ensemble builds it, from the member pipelines rebuilt from
    the shared steps and each member's classifier (by ``rebuild_classifier``, when given: see
    :func:`~.pipelines.build_pipeline`)."""
    *shared, vote = description["steps"]
    names = [member["name"] for member in vote["members"]]  # checked by network_members
    # Each member pipeline ends in a step named as the ensemble's last, which no shared step
    # can share (soft_voting_ensemble keeps the classifiers only, under the member names);
    # its errors name the member after the file.
    pipelines = [build_pipeline([*shared, {**member, "name": "vote"}],
                                networks[ENSEMBLE_NETWORK_MEMBER.format(name)],
                                f"{path}, ensemble member {name!r}", pipeline=True,
                                rebuild_classifier=rebuild_classifier)
                 for name, member in zip(names, vote["members"], strict=True)]
    shapes = {name: tuple(pipeline[-1].model_.input_shape[1:])
              for name, pipeline in zip(names, pipelines, strict=True)}
    if len(set(shapes.values())) > 1:
        raise SafeFormatError(f"{path}: the ensemble's networks take images of different "
                              f"shapes: {shapes}")
    try:
        return soft_voting_ensemble(pipelines, names=names)
    except ValueError as error:  # members that disagree on their classes, names sklearn refuses
        raise SafeFormatError(f"{path}: the ensemble cannot be rebuilt: {error}") from error
