"""Train a FER pipeline on FER2013 (or synthetic faces), evaluate it and save it, resumably.

The model is chosen on a validation split carved from the training rows (early stopping,
learning-rate schedule); the test split (PublicTest for FER2013) is touched once, at the end,
for the reported accuracy, with and without test-time augmentation.
"""

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ._extras import requires_install

with requires_install("training"):
    import keras
    import pandas as pd

from ._output_paths import check_output_paths
from ._versions import current_versions
from .data import load_fer2013
from .evaluation import evaluate
from .folders import load_image_folder, shown
from .labels import class_names, merge_disgust_into_angry
from .persistence import dump_joblib, dump_json
from .pipeline import make_fer_pipeline
from .presets import SYNTHETIC_DEMO
from .safe_format import SUFFIX, model_stem, save
from .synthetic import make_synthetic_faces

# The part of an image folder without split folders held out for the test.
HELD_OUT_FRACTION = 0.2


def load_split(data=None, *, n_classes=None, train_usage="Training", test_usage="PublicTest",
               max_train_rows=None, random_state=0):
    """Return ``(X_train, y_train, X_test, y_test, source)`` with class-name labels.

    Parameters
    ----------
    data : str or path-like, default=None
        A FER2013-format CSV, or an image folder (:func:`fer_estimator.folders.load_image_folder`:
        FER2013's release ``train|test/<emotion>/`` splits as the CSV's Usage values, any other
        ``<class>/<image>`` folder with a stratified 20% held out for the test); None generates
        synthetic faces (2,100 images, 30% held out).
    n_classes : {None, 7, 6}, default=None
        6 merges Disgust into Angry. None: 7 for a CSV and synthetic faces, the class folders
        found for an image folder.
    train_usage, test_usage : str
        The ``Usage`` values of the training and test rows (of a CSV, or of FER2013's image
        release).
    max_train_rows : int, default=None
        Keep a stratified subsample of this many training rows (quick runs).
    random_state : int, default=0
        Seed of the subsample, of an image folder's held-out part and of the synthetic faces.

    Raises
    ------
    ValueError
        Besides the loaders' errors: an image folder with images of only one class.
    """
    if data is None:
        names = np.array(class_names(n_classes or 7))
        X, codes = make_synthetic_faces(2100, random_state=random_state)
        X_train, X_test, y_train, y_test = train_test_split(
            X, codes, test_size=0.3, stratify=codes, random_state=random_state)
        if n_classes == 6:  # merged after the split: both variants hold the same faces
            y_train, y_test = merge_disgust_into_angry(y_train), merge_disgust_into_angry(y_test)
        source = "synthetic faces (fer_estimator.synthetic)"
    elif Path(data).is_dir():
        X_train, y_train, X_test, y_test, names, source = _split_folder(
            data, n_classes, train_usage, test_usage, random_state)
    else:
        names = np.array(class_names(n_classes or 7))
        # Naming both Usage values makes load_fer2013 reject a file that lacks one of them.
        bunch = load_fer2013(data, usage=[train_usage, test_usage], n_classes=n_classes or 7)
        train, test = bunch.usage == train_usage, bunch.usage == test_usage
        X_train, y_train = bunch.data[train], bunch.target[train]
        X_test, y_test = bunch.data[test], bunch.target[test]
        source = str(data)
    if max_train_rows is not None and max_train_rows < len(y_train):
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=max_train_rows, stratify=y_train,
            random_state=random_state)
    return X_train, names[y_train], X_test, names[y_test], source


def _split_folder(folder, n_classes, train_usage, test_usage, random_state):
    bunch = load_image_folder(folder, n_classes=n_classes)
    present = np.unique(bunch.target)
    if len(present) < 2:
        raise ValueError(f"{shown(folder)}: only one class holds images "
                         f"({bunch.target_names[present[0]]}); training needs two or more")
    source = shown(folder)
    if bunch.usage is None:
        X_train, X_test, y_train, y_test = train_test_split(
            bunch.data, bunch.target, test_size=HELD_OUT_FRACTION, stratify=bunch.target,
            random_state=random_state)
        source += f" ({HELD_OUT_FRACTION:.0%} held out for the test, stratified)"
    else:
        missing = [usage for usage in (train_usage, test_usage) if usage not in bunch.usage]
        if missing:
            raise ValueError(f"{source}: no {' or '.join(missing)} images (split folders "
                             f"train/ -> Training, test/ -> PublicTest); it holds "
                             f"{sorted(set(bunch.usage))}")
        train, test = bunch.usage == train_usage, bunch.usage == test_usage
        X_train, y_train = bunch.data[train], bunch.target[train]
        X_test, y_test = bunch.data[test], bunch.target[test]
    return X_train, y_train, X_test, y_test, bunch.target_names, source


def load_labelled(data, *, usage=None, classes):
    """Images and labels of ``data`` (a FER2013-format CSV or an image folder) as a model of
    ``classes`` names them, for scoring it.

    Parameters
    ----------
    data : str or path-like
    usage : str, default=None
        The rows of one Usage. None: PublicTest for a CSV and FER2013's image release, every
        image of another image folder.
    classes : array-like
        The model's ``classes_``: class names, or FER2013's codes 0-6 (0-5).

    Returns
    -------
    X : ndarray of shape (n, 48, 48), dtype uint8
    y : ndarray of shape (n,)
        Labels of ``classes``' kind: names, or codes.
    usage : str or None
        The Usage scored.

    Raises
    ------
    ValueError
        An image folder has a class the model does not know (naming it), or ``usage`` is not in
        ``data``.
    """
    classes = np.asarray(classes)
    uses_names = classes.dtype.kind in "UO"
    if not Path(data).is_dir():
        usage = usage or "PublicTest"
        X, codes = load_fer2013(data, usage=usage, n_classes=len(classes), return_X_y=True)
        # Models trained here predict class names; others may predict the codes themselves.
        return X, np.array(class_names(len(classes)))[codes] if uses_names else codes, usage
    fer_names = class_names(len(classes)) if len(classes) in (6, 7) else None
    known = [str(name) for name in classes] if uses_names else list(fer_names or ())
    # A model of FER2013's emotions takes emotion folders as FER2013 names them (6 classes:
    # Disgust merged into Angry); other models, the folders' own names.
    bunch = load_image_folder(data, n_classes=len(classes) if known == list(fer_names or ())
                              else None)
    keep = slice(None)
    if bunch.usage is not None:
        usage = usage or "PublicTest"
        if usage not in bunch.usage:
            raise ValueError(f"{shown(data)} has no {usage} images; it holds "
                             f"{sorted(set(bunch.usage))}")
        keep = bunch.usage == usage
    elif usage is not None:
        raise ValueError(f"{shown(data)} has no split folders (train/, test/), so there is no "
                         f"{usage} to choose: leave the usage out to score every image")
    names = bunch.target_names[bunch.target[keep]]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"{shown(data)} has class(es) {unknown} that the model does not "
                         f"predict; it knows {known}")
    y = names if uses_names else np.array([known.index(name) for name in names])
    return bunch.data[keep], y, usage


def fit_resumable(pipeline, X, y, checkpoint_dir=None, teacher_proba=None):
    """Fit ``pipeline`` (ending in a FERClassifier step ``cnn``), resuming an interrupted fit.

    With ``checkpoint_dir``, the network's weights, optimizer state and epoch are saved after
    every epoch (``keras.callbacks.BackupAndRestore``, two copies so a crash while writing
    loses nothing), and a fit started again with the same data and parameters continues from
    the last finished epoch; the per-epoch metrics accumulate in ``history.log`` there (CSV). Early
    stopping starts its patience afresh after a resume. ``teacher_proba`` (one row per image)
    distils a teacher into the network (:mod:`fer_estimator.distillation`).
    """
    fit_params = {} if teacher_proba is None else {"cnn__teacher_proba": teacher_proba}
    if checkpoint_dir is None:
        return pipeline.fit(X, y, **fit_params)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    # CSV content; the .log name keeps data-file checks (which look for FER2013 *.csv files in
    # the repository) from mistaking a committed campaign's log for the data set.
    log = checkpoint_dir / "history.log"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(checkpoint_dir / "backup"), double_checkpoint=True),
        keras.callbacks.CSVLogger(str(log), append=True),
    ]
    pipeline.fit(X, y, cnn__callbacks=callbacks, **fit_params)
    # After a resume, the classifier saw only the epochs since; the log holds them all.
    pipeline.steps[-1][1].history_ = history_from_log(log)
    return pipeline


def history_from_log(path):
    """Per-epoch metrics of the latest run in a ``keras.callbacks.CSVLogger`` file.

    A resumed run continues the epoch numbers; a new run starts again at epoch 0, so the
    latest run is everything from the last epoch-0 row on.
    """
    log = pd.read_csv(path)
    latest = log.iloc[np.flatnonzero(log["epoch"].to_numpy() == 0)[-1]:]
    return {column: latest[column].tolist() for column in latest.columns if column != "epoch"}


def train_and_save(out, data=None, *, n_classes=None, normalization="scale", cnn_params=None,
                   max_train_rows=None, checkpoint_dir=None, random_state=0, log=print,
                   teacher_proba=None):
    """Train, evaluate and save a FER pipeline with a JSON report beside it.

    Parameters
    ----------
    out : str or path-like
        Where the pipeline goes: in the safe format when the name ends in ``.fer.zip``
        (:func:`fer_estimator.save`), with joblib otherwise; the report is ``out`` with a
        ``.json`` suffix instead (``models/demo.fer.zip`` -> ``models/demo.json``).
    data : str or path-like, default=None
        A FER2013-format CSV (Training rows to fit, PublicTest to evaluate) or an image folder
        (see :func:`load_split`); None trains on synthetic faces with
        :data:`fer_estimator.presets.SYNTHETIC_DEMO`.
    n_classes : {None, 7, 6}, default=None
        As :func:`load_split` takes it.
    normalization : str, default="scale"
        The PixelTransformer's normalisation.
    cnn_params : dict, default=None
        FERClassifier parameters, over the defaults (the synthetic demo's when ``data`` is None).
    max_train_rows : int, default=None
        Subsample the training rows (stratified).
    checkpoint_dir : str or path-like, default=None
        Resume an interrupted training from here (see :func:`fit_resumable`).
    random_state : int, default=0
    log : callable, default=print
    teacher_proba : ndarray of shape (n_train, n_classes), default=None
        A teacher's probabilities of the training images (after ``max_train_rows``), columns
        in the sorted class-name order, to distil (:mod:`fer_estimator.distillation`).

    Returns
    -------
    dict
        The report that was saved.
    """
    out = Path(out)
    # Before any data is read or epoch trained: a model lost at the end is hours lost.
    check_output_paths(files={"out": out, "the report": report_path(out)},
                       folders={"checkpoint_dir": checkpoint_dir}, inputs={"data": data})
    params = dict(SYNTHETIC_DEMO) if data is None else {}
    params.update({"random_state": random_state, "verbose": 2 if data is not None else 0})
    params.update(cnn_params or {})
    X_train, y_train, X_test, y_test, source = load_split(
        data, n_classes=n_classes, max_train_rows=max_train_rows, random_state=random_state)
    log(f"training on {len(y_train)} images from {source}, testing on {len(y_test)}")

    pipeline = make_fer_pipeline(normalization, **params)
    started = time.perf_counter()
    fit_resumable(pipeline, X_train, y_train, checkpoint_dir, teacher_proba=teacher_proba)
    train_seconds = time.perf_counter() - started
    pipeline.set_params(cnn__verbose=0)  # a saved model predicts quietly, whatever training printed
    scores = evaluate(pipeline, X_test, y_test, progress=False)
    log(f"test accuracy {scores['accuracy']:.4f} (with flip TTA {scores['accuracy_tta']:.4f}) "
        f"after {len(pipeline.named_steps['cnn'].history_['loss'])} epochs, "
        f"{train_seconds:.0f} s")

    report = {
        "model": out.name,
        "data": source,
        "n_classes": len(pipeline.classes_),
        "classes": [str(name) for name in pipeline.classes_],
        "train_rows": len(y_train),
        "test_rows": len(y_test),
        "normalization": normalization,
        "params": params,
        "accuracy": scores["accuracy"],
        "accuracy_tta": scores["accuracy_tta"],
        "per_class": scores["per_class"],
        "epochs_trained": len(pipeline.named_steps["cnn"].history_["loss"]),
        "train_seconds": round(train_seconds, 1),
        "versions": current_versions(),
    }
    save_model(pipeline, out, log=log)
    dump_json(report, report_path(out))
    log(f"saved {out} and {report_path(out).name}")
    return report


def report_path(out):
    """Where :func:`train_and_save` writes the report of the model saved at ``out``."""
    return Path(out).with_name(f"{model_stem(out)}.json")


def save_model(model, out, log=print):
    """Save a fitted model in the safe format when ``out`` ends in ``.fer.zip``, else joblib.

    A model whose networks cannot be exported to ONNX (no exporter installed, a layer the
    exporter does not know) is saved without them rather than lost after its training, and
    ``log`` says how to add them later."""
    if not Path(out).name.endswith(SUFFIX):
        return dump_joblib(model, out)
    try:
        return save(model, out)
    except Exception as error:  # the exporters raise many types; any other fault recurs below
        saved = save(model, out, onnx=False)
        log(f"warning: saved {out} without ONNX networks, which the export refused "
            f"({type(error).__name__}: {str(error)[:300]}); add them with `fer-estimator "
            f"export {out} NEW{SUFFIX}`")
        return saved
