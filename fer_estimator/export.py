"""Exporting a fitted FER model for other runtimes: one standalone ONNX graph, or a ``.fer.zip``
file that carries ONNX networks beside the Keras ones (format version 3), which
:func:`fer_estimator.load_predictor` runs in onnxruntime without Keras."""

import json
from pathlib import Path

from sklearn.pipeline import Pipeline

from ._extras import requires_install
from .ensemble import is_ensemble
from .persistence import write_atomically
from .safe_format.description import SUFFIX
from .safe_format.model_file import save
from .safe_format.onnx_networks import export_onnx, inference_network
from .transform import PixelTransformer

with requires_install("fer_estimator.export"):
    import keras

FORMATS = ("onnx", "fer.zip")
# Names of the standalone graph's input and output, as its users address them.
PIXELS_INPUT, PROBABILITIES_OUTPUT = "pixels", "probabilities"


def export(model, path, format=None, *, int8_calibration=None):
    """Write a fitted FER model in an inference format.

    Parameters
    ----------
    model : Pipeline or FERClassifier
        Fitted: a FER pipeline (a :class:`PixelTransformer`, then a FERClassifier), an ensemble
        of :func:`~fer_estimator.soft_voting_ensemble`, or a bare FERClassifier.
    path : str or path-like
        Destination, written atomically.
    format : {"onnx", "fer.zip"} or None, default=None
        ``"onnx"``: one ONNX graph (float32, dynamic batch) computing the model's
        ``predict_proba``: input ``pixels``, grey levels 0-255 of square faces of the
        pipeline's ``image_size``, float32 of shape (batch, size, size, 1), as the
        PixelTransformer makes them before normalising (which the graph does); output
        ``probabilities`` (batch, classes), the ensemble's average, test-time augmentation
        included when the classifiers have ``tta=True``. The class names are its
        ``classes`` metadata (JSON). A bare classifier's graph takes its network's input (named
        ``image``) instead. ``"fer.zip"``: the safe format with ONNX networks
        (:func:`fer_estimator.save`). None: from the suffix of ``path`` (``.onnx``,
        ``.fer.zip``).
    int8_calibration : array-like, optional
        ``"fer.zip"`` only: training images as ``model`` takes them, to calibrate int8 copies
        of its ONNX networks on (see :func:`fer_estimator.save`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        An unknown format, or a path whose suffix names none; a pipeline whose steps before
        the classifier are not one PixelTransformer (for ``"onnx"``).
    ImportError
        The ONNX exporter of the Keras backend (tf2onnx on TensorFlow) is not installed.
    """
    path = Path(path)
    format = _format_of(path) if format is None else format
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}; got {format!r}")
    if format == "fer.zip":
        return save(model, path, onnx=True, int8_calibration=int8_calibration)
    if int8_calibration is not None:
        raise ValueError("int8_calibration makes int8 copies of a .fer.zip file's networks; "
                         "the standalone ONNX graph is float32")
    graph_model, classes = _graph_model(model)

    def write(temp):
        _write_onnx(graph_model, classes, temp)
    return write_atomically(path, write)


def _format_of(path):
    name = path.name.lower()
    if name.endswith(SUFFIX):
        return "fer.zip"
    if name.endswith(".onnx"):
        return "onnx"
    raise ValueError(f"cannot tell the format of {path} from its name: give it a .onnx or "
                     f"{SUFFIX} suffix, or say format='onnx' or format='fer.zip'")


def _graph_model(model):
    """A Keras model computing ``model.predict_proba`` from grey pixels (the normalisation,
    each network with its test-time augmentation, the average), and the classes."""
    if not isinstance(model, Pipeline):
        return _with_tta(inference_network(model.model_), model.tta), model.classes_.tolist()
    *transformers, (_, last) = model.steps
    steps = [step.estimator if hasattr(step, "estimator") else step
             for _, step in transformers]  # an ensemble's steps are frozen
    if len(steps) != 1 or not isinstance(steps[0], PixelTransformer):
        raise ValueError(f"an ONNX graph holds a FER pipeline's PixelTransformer and "
                         f"classifier; this pipeline's steps before the classifier are "
                         f"{[type(step).__name__ for step in steps]}: save it with "
                         f"format='fer.zip' instead")
    pixels = steps[0]
    size = pixels.image_size
    inputs = keras.Input((size, size, 1), name=PIXELS_INPUT)
    normalised = _normalisation(pixels)(inputs)
    classifiers = ([member.estimator for member in last.estimators_] if is_ensemble(model)
                   else [last])
    # Members loaded from one file share their network's name, which one graph cannot.
    outputs = [_with_tta(inference_network(classifier.model_, name=f"member{index}"),
                         classifier.tta)(normalised)
               for index, classifier in enumerate(classifiers)]
    average = keras.layers.Average()(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, average, name="fer_estimator"), model.classes_.tolist()


def _normalisation(pixels):
    """A layer doing the fitted PixelTransformer's normalisation of 0-255 grey images."""
    if pixels.normalization == "standardize":
        # (x / 255 - mean) / scale, as one multiply-add.
        return keras.layers.Rescaling(1 / (255 * pixels.scale_), offset=-pixels.mean_ /
                                      pixels.scale_, name="standardize")
    if pixels.normalization == "scale":
        return keras.layers.Rescaling(1 / 255, name="scale")

    def per_image(images):
        scaled = images / 255
        scaled = scaled - keras.ops.mean(scaled, axis=(1, 2), keepdims=True)
        return scaled / keras.ops.maximum(keras.ops.std(scaled, axis=(1, 2), keepdims=True),
                                          1 / 255)
    # Never saved: a Lambda lives in this graph only until it is exported.
    return keras.layers.Lambda(per_image, name="per_image")


def _with_tta(network, tta):
    """``network``, averaged with its output for the mirror images when ``tta``."""
    if not tta:
        return network
    inputs = keras.Input(network.input_shape[1:])
    mirrored = keras.layers.Lambda(lambda images: keras.ops.flip(images, axis=2),
                                   name="mirror")(inputs)
    both = keras.layers.Average()([network(inputs), network(mirrored)])
    return keras.Model(inputs, both, name=f"{network.name}_tta")


def _write_onnx(graph_model, classes, path):
    """Export ``graph_model`` to ``path``, its output named ``probabilities`` and its classes
    in the metadata."""
    import onnx

    input_name = PIXELS_INPUT if graph_model.inputs[0].name == PIXELS_INPUT else "image"
    export_onnx(graph_model, path, input_name=input_name)
    graph = onnx.load(path)
    produced = graph.graph.output[0].name
    for node in graph.graph.node:
        node.output[:] = [PROBABILITIES_OUTPUT if name == produced else name
                          for name in node.output]
    graph.graph.output[0].name = PROBABILITIES_OUTPUT
    onnx.helper.set_model_props(graph, {"classes": json.dumps(classes),
                                        "producer": "fer-estimator"})
    onnx.checker.check_model(graph)
    onnx.save(graph, path)
