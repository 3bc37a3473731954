"""Knowledge distillation: the probabilities of a fitted teacher as training targets.

A student :class:`~fer_estimator.FERClassifier` learns from a mix of the hard labels and a
teacher's probabilities (Hinton et al., 2015)::

    teacher = fer_estimator.load("models/fer2013-7class-ensemble.fer.zip")
    student = make_fer_pipeline("standardize", teacher_weight=0.7, temperature=2.0)
    student.fit(X, y, cnn__teacher_proba=teacher_probabilities(teacher, X))

The teacher is asked once per image (and its mirror image), before training: its
probabilities are a fit parameter of one row per sample, like ``sample_weight``, so
scikit-learn's cross-validation hands every fold its own rows
(``cross_val_score(student, X, y, params={"cnn__teacher_proba": proba})``) and the student stays
a plain estimator that clones, saves and loads without its teacher.
"""

import numpy as np

from .pixels import mirror_images

__all__ = ["distillation_targets", "soften", "teacher_probabilities"]


def teacher_probabilities(teacher, X, *, classes=None, mirror=True, batch_size=4096):
    """The teacher's class probabilities of every image, averaged with its mirror image's.

    Parameters
    ----------
    teacher : fitted classifier with ``predict_proba`` and ``classes_``
        A whole pipeline (the shipped ensemble, say), given the images ``X`` as they are.
    X : array-like of shape (n_samples, height, width[, channels])
        The images the student is trained on, as the teacher takes them.
    classes : array-like, default=None
        The order of the columns (the student's ``classes_``: its labels, sorted); every one
        must be a class of the teacher. None keeps the teacher's order.
    mirror : bool, default=True
        Average each image's probabilities with its mirror image's: the student trains on
        randomly mirrored images and gets the same target for both.
    batch_size : int, default=4096
        Images predicted per teacher call (bounds the memory of large sets).

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32
        Rows sum to 1.
    """
    X = np.asarray(X)
    if mirror and X.ndim not in (3, 4):
        raise ValueError(f"teacher_probabilities(mirror=True) takes images (n, height, width"
                         f"[, channels]) to mirror; got an array of shape {X.shape}")
    teacher_classes = np.asarray(teacher.classes_)
    if classes is None:
        columns = np.arange(len(teacher_classes))
    else:
        classes = np.asarray(classes)
        missing = [label for label in classes if label not in teacher_classes]
        if missing:
            raise ValueError(f"the teacher has no class {missing[0].item()!r}; its classes: "
                             f"{teacher_classes.tolist()}")
        columns = np.array([np.flatnonzero(teacher_classes == label)[0] for label in classes])
    chunks = []
    for start in range(0, len(X), batch_size):
        batch = X[start:start + batch_size]
        proba = np.asarray(teacher.predict_proba(batch), dtype=np.float64)
        if mirror:
            proba = (proba + np.asarray(teacher.predict_proba(mirror_images(batch)))) / 2.0
        chunks.append(proba[:, columns])
    proba = np.concatenate(chunks) if chunks else np.zeros((0, len(columns)))
    # Renormalised: a teacher over more classes than the student keeps its share of these.
    return (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)


def soften(proba, temperature):
    """``softmax(log(proba) / temperature)``: the probabilities a softmax network would give at
    that temperature (> 1 flattens them, exposing how the teacher ranks the wrong classes)."""
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return soft / soft.sum(axis=1, keepdims=True)


def distillation_targets(one_hot, teacher_proba, *, teacher_weight, temperature):
    """The training targets of a distilled student: ``(1 - w) * labels + w * soften(teacher)``.

    Parameters
    ----------
    one_hot : ndarray of shape (n_samples, n_classes)
        The hard labels, one-hot.
    teacher_proba : ndarray of shape (n_samples, n_classes)
        The teacher's probabilities, columns in the same class order.
    teacher_weight : float in [0, 1]
    temperature : float > 0

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32
    """
    soft = soften(teacher_proba, temperature)
    return ((1.0 - teacher_weight) * one_hot + teacher_weight * soft).astype(np.float32)
