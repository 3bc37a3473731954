"""Evaluate a fitted FER pipeline: accuracy with and without TTA, per-class scores, figures."""

from pathlib import Path

import numpy as np
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
)
from tqdm import tqdm

from ._extras import requires_install

with requires_install("evaluation"):
    from matplotlib.figure import Figure

from .classifier import SINGLE_CALL_BATCH
from .ensemble import member_classifiers
from .persistence import write_atomically
from .pixels import mirror_images

# Images per predict call: one direct network call each, and steps for the progress bar.
_PREDICT_CHUNK = SINGLE_CALL_BATCH


def predict_proba_with_progress(model, X, *, progress=True, description="predicting"):
    """``model.predict_proba(X)`` in chunks, with a progress bar."""
    chunks = range(0, len(X), _PREDICT_CHUNK)
    bar = tqdm(chunks, desc=description, unit="chunk", disable=not progress)
    return np.concatenate([model.predict_proba(X[start:start + _PREDICT_CHUNK]) for start in bar])


def _split_model(model):
    """``(preprocessing, classifier)``: a pipeline's leading steps and its last step."""
    if hasattr(model, "steps"):
        return model[:-1], model.steps[-1][1]
    return None, model


def evaluate(model, X, y, *, progress=True):
    """Score a fitted FER model on labelled images.

    Parameters
    ----------
    model : fitted classifier or Pipeline
        Its labels must be of the kind in ``y`` (class names or codes).
    X : array-like
        Anything the model takes (pixel strings, images...).
    y : array-like of shape (n_samples,)
        True labels.
    progress : bool, default=True
        Show progress bars while predicting.

    Returns
    -------
    dict
        ``accuracy`` (plain predictions, whatever the model's ``tta`` setting);
        ``balanced_accuracy`` (the mean of the per-class recalls, plain predictions);
        ``accuracy_tta`` (horizontal-flip test-time augmentation) when the classifier, or
        every network of a :func:`~fer_estimator.soft_voting_ensemble`, offers ``tta``;
        ``per_class`` (precision, recall, F1 and support of each class, for the plain
        predictions); ``confusion_matrix`` (rows: true class, columns: predicted, in the order
        of ``classes``); ``classes``; ``n_samples``.
    """
    y = np.asarray(y)
    if len(y) == 0:
        raise ValueError("cannot evaluate on an empty set of images")
    preprocessing, classifier = _split_model(model)
    images = X if preprocessing is None else preprocessing.transform(X)  # parsed once
    classes = classifier.classes_
    # Plain predictions switch TTA off; an ensemble offers TTA when each of its networks does.
    networks = member_classifiers(classifier)
    if not all(hasattr(network, "tta") for network in networks):
        networks = []
    offers_tta = bool(networks)
    previous_tta = [network.tta for network in networks]
    for network in networks:
        network.set_params(tta=False)
    try:
        proba = predict_proba_with_progress(classifier, images, progress=progress)
        predicted = classes[proba.argmax(axis=1)]
        report = {
            "n_samples": len(y),
            "classes": [str(name) for name in classes],
            "accuracy": float(accuracy_score(y, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
        }
        if offers_tta:
            # FERClassifier's TTA is the mean of an image's and its mirror image's probabilities.
            mirrored = predict_proba_with_progress(classifier, mirror_images(images),
                                                   progress=progress,
                                                   description="predicting, mirrored")
            with_tta = classes[(proba + mirrored).argmax(axis=1)]
            report["accuracy_tta"] = float(accuracy_score(y, with_tta))
    finally:
        for network, tta in zip(networks, previous_tta, strict=True):
            network.set_params(tta=tta)
    per_class = classification_report(y, predicted, labels=classes, output_dict=True,
                                      zero_division=0)
    report["per_class"] = {str(name): per_class[str(name)] for name in classes}
    report["confusion_matrix"] = confusion_matrix(y, predicted, labels=classes).tolist()
    return report


def _save_figure(figure, path):
    path = Path(path)
    write_atomically(path, lambda tmp: figure.savefig(tmp, format=path.suffix.lstrip(".") or "png",
                                                      dpi=120, bbox_inches="tight"))
    return path


def plot_confusion_matrix(report, path, *, title="Confusion matrix (row-normalised)"):
    """Save the row-normalised confusion matrix of :func:`evaluate`'s report as a heatmap."""
    counts = np.asarray(report["confusion_matrix"], dtype=float)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    # A bare Figure, not pyplot: importing this module must not change the user's backend.
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    ConfusionMatrixDisplay(normalised, display_labels=report["classes"]).plot(
        ax=axes, cmap="Blues", values_format=".2f", colorbar=True)
    axes.set_title(f"{title}\naccuracy {report['accuracy']:.3f} on {report['n_samples']} images")
    for label in axes.get_xticklabels():
        label.set(rotation=45, ha="right")
    return _save_figure(figure, path)


def plot_training_curves(history, path):
    """Save loss and accuracy per epoch (training and validation) from a ``history_`` dict."""
    figure = Figure(figsize=(11, 4))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + metric)
            if values:
                axes.plot(np.arange(1, len(values) + 1), values, label=label)
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.legend()
        axes.grid(alpha=0.3)
    figure.suptitle("Training curves")
    return _save_figure(figure, path)


def save_figures(model, report, out_dir):
    """Save the confusion matrix and, when the model kept them, its training curves.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out_dir = Path(out_dir)
    written = [plot_confusion_matrix(report, out_dir / "confusion_matrix.png")]
    history = getattr(_split_model(model)[1], "history_", None)
    if history:
        written.append(plot_training_curves(history, out_dir / "training_curves.png"))
    return written


def format_report(report):
    """A plain-text summary: accuracy lines and the per-class table."""
    lines = [f"accuracy      {report['accuracy']:.4f}  ({report['n_samples']} images)"]
    if "accuracy_tta" in report:
        lines.append(f"accuracy TTA  {report['accuracy_tta']:.4f}  (horizontal-flip test-time "
                     f"augmentation)")
    if "balanced_accuracy" in report:  # absent from reports saved before it was added
        lines.append(f"balanced acc. {report['balanced_accuracy']:.4f}  (mean recall of the "
                     f"classes)")
    lines.append("")
    lines.append(f"{'class':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for name, scores in report["per_class"].items():
        lines.append(f"{name:<10} {scores['precision']:>9.3f} {scores['recall']:>7.3f} "
                     f"{scores['f1-score']:>6.3f} {int(scores['support']):>8d}")
    return "\n".join(lines)
