"""Creating a study and running trials on it, alone or with other worker processes."""

import json
import time
import warnings

from fer_estimator._extras import requires_install

with requires_install("fer_estimator.search"):
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState


# Trials that count towards a study's requested total: finished, or still going to finish
# (running on some worker, or waiting, e.g. the retry of a dead worker's trial).
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING,
                  TrialState.WAITING)
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


# The study user attribute that records what the study's trials were run on.
CONTEXT_ATTR = "fer_search_context"


class SurplusTrialError(RuntimeError):
    """A worker created a trial after the others had already claimed the requested total."""


class InvalidTrialError(ValueError):
    """A trial sampled parameter values that are invalid together; it fails, untrained."""


# A worker whose trials keep sampling invalid parameters stops after this many in a row.
MAX_INVALID_IN_A_ROW = 10


class StudyMismatchError(ValueError):
    """An existing study was run on other data or fixed settings than this run's."""


def check_study_context(study, context, *, storage_description="its storage"):
    """Record what ``study`` is run on, or refuse to continue it on anything else.

    A new study (or one from before contexts were recorded) gets ``context`` as its user
    attribute :data:`CONTEXT_ATTR`. A study that has one must match it: its trials were scored
    on that data with those settings, and mixing in trials of another run would report the
    other run's best trial as this one's.

    Parameters
    ----------
    study : optuna.Study
    context : dict
        JSON-able; ``{"data": {...}, "settings": {...}}``. Keys named ``source`` describe and
        are shown, but are not compared (the same data may move to another path).
    storage_description : str, default="its storage"
        The storage, passwords hidden, for the message.

    Raises
    ------
    StudyMismatchError
        Listing what differs, and how to start another study instead.
    """
    context = json.loads(json.dumps(context))  # as stored: tuples become lists
    saved = study.user_attrs.get(CONTEXT_ATTR)
    if saved is None:
        try:
            study.set_user_attr(CONTEXT_ATTR, context)
            return
        except optuna.exceptions.StorageInternalError:
            # Another worker recorded it at the same moment: compare with theirs.
            saved = study.user_attrs.get(CONTEXT_ATTR)
            if saved is None:
                raise
    differences = _differences(saved, context)
    if differences:
        shown = "; ".join(differences[:8]) + ("; ..." if len(differences) > 8 else "")
        raise StudyMismatchError(
            f"study {study.study_name!r} in {storage_description} was run on other data or "
            f"settings than this run ({shown}). Continuing it would mix trials that cannot be "
            f"compared and report its best trial as this run's: start another study with "
            f"--study-name NAME (study_name=) or use a new storage, or rerun with the "
            f"study's data and settings to resume it")


def _differences(saved, current, path=""):
    """``'where: then -> now'`` for every compared value that differs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        found = []
        for key in sorted(set(saved) | set(current)):
            if key == "source":
                continue
            found += _differences(saved.get(key), current.get(key), f"{path}{key}" if not path
                                  else f"{path}.{key}")
        if found and (saved.get("source") or current.get("source")):
            found.insert(0, f"{path or 'data'} source: {saved.get('source')!r} -> "
                            f"{current.get('source')!r}")
        return found
    return [] if saved == current else [f"{path}: {saved!r} -> {current!r}"]


def create_or_load_study(study_name, storage, *, sampler=None, pruner=None):
    """Create the study ``study_name`` in ``storage``, or load it when it exists.

    Several workers may call this at the same time: one creates, the others load.

    Parameters
    ----------
    study_name : str
    storage : optuna.storages.BaseStorage
    sampler : optuna.samplers.BaseSampler or None
        None: TPE with the constant-liar heuristic, so concurrent workers do not all
        sample next to the same running trial.
    pruner : optuna.pruners.BasePruner or None

    Returns
    -------
    optuna.Study
    """
    if sampler is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # constant_liar, since 2.8
            sampler = optuna.samplers.TPESampler(constant_liar=True)
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                pruner=pruner, direction="maximize", load_if_exists=True)
    if study.directions != [optuna.study.StudyDirection.MAXIMIZE]:
        raise ValueError(f"study {study_name!r} exists with directions {study.directions}; "
                         f"a search study maximises its score, use another study name")
    return study


def run_trials(study, objective, n_trials, *, timeout=None, callbacks=(),
               wait_for_running=False, poll_interval=2.0):
    """Run trials until ``study`` holds ``n_trials`` finished trials, with any other workers.

    ``n_trials`` is the study's total, not this call's: a restarted worker continues where
    the study stopped. Every worker can call this on the same study: a trial is claimed
    when it is created (trial numbers are handed out by the storage one at a time), and
    a trial created once ``n_trials`` were already claimed ends at once, before training,
    as FAIL with the user attribute ``surplus``. Trials that failed (an exception, Ctrl-C,
    a dead worker) do not count; a dead worker's trial comes back WAITING (heartbeat retry)
    and is run by the next free worker.

    A trial whose objective raises :class:`InvalidTrialError` (its sampled parameters are
    invalid together) ends as FAIL with the reason in its user attribute ``fail_reason``,
    and the worker goes on; after :data:`MAX_INVALID_IN_A_ROW` such trials in a row it
    stops with a ``ValueError``, as the search space then hardly holds a valid combination.
    Any other exception of the objective fails its trial and stops the worker.

    Parameters
    ----------
    study : optuna.Study
    objective : callable
        ``objective(trial) -> float``.
    n_trials : int
        Trials the study should hold in state COMPLETE or PRUNED.
    timeout : float or None, default=None
        Seconds after which this worker starts no new trial.
    callbacks : sequence of callable, default=()
        ``callback(study, frozen_trial)`` after every trial of this worker.
    wait_for_running : bool, default=False
        Once all trials are claimed, wait until trials running on other workers finish
        (or are found dead, failed and handed back as WAITING), so the best trial is
        final. Use only with a heartbeat storage: without heartbeats a killed worker's
        trial would be waited for forever.
    poll_interval : float, default=2.0
        Seconds between checks while waiting.

    Raises
    ------
    ValueError
        After :data:`MAX_INVALID_IN_A_ROW` trials in a row with invalid parameters.
    """
    start = time.monotonic()
    invalid = []  # the reasons of this worker's latest trials with invalid parameters, in a row

    def claimed_objective(trial):
        earlier = [t for t in study.get_trials(deepcopy=False, states=COUNTED_STATES)
                   if t.number < trial.number]
        if len(earlier) >= n_trials:
            trial.set_user_attr("surplus", True)
            raise SurplusTrialError(f"the study already holds its {n_trials} trials")
        try:
            value = objective(trial)
        except InvalidTrialError as error:
            trial.set_user_attr("fail_reason", str(error))
            invalid.append(str(error))
            raise
        except BaseException:
            invalid.clear()
            raise
        invalid.clear()
        return value

    while timeout is None or time.monotonic() - start < timeout:
        trials = study.get_trials(deepcopy=False, states=COUNTED_STATES)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if len(trials) < n_trials or waiting:
            study.optimize(claimed_objective, n_trials=1, callbacks=list(callbacks),
                           catch=(SurplusTrialError, InvalidTrialError))
            if len(invalid) >= MAX_INVALID_IN_A_ROW:
                raise ValueError(f"the last {len(invalid)} trials of this worker had invalid "
                                 f"parameters (the latest: {invalid[-1]}); narrow the search "
                                 f"space to values that are valid together")
            continue
        if wait_for_running and any(t.state == TrialState.RUNNING for t in trials):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            time.sleep(poll_interval)
            continue
        break
