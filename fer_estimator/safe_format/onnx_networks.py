"""Keras networks as ONNX graphs: what a ``.fer.zip`` file stores beside each network (format
version 3), and the networks :func:`fer_estimator.export` writes.

The graph is the network as it predicts: float32, with a dynamic batch, and without its
augmentation layers (``augment_*``: identities at inference, whose random ops have no ONNX
operator). Keras exports it (``Model.export(format="onnx")``: tf2onnx on the TensorFlow
backend, jax2onnx on JAX, ``torch.onnx`` on torch).
"""

import contextlib
import logging
import tempfile
import warnings
from pathlib import Path

import keras

from .._extras import TRAINING_INSTALL, MissingInstallError
from .networks import float32_config, python_random_state_kept

# The prefix of the augmentation layers of every architecture (fer_estimator.architecture).
AUGMENTATION_PREFIX = "augment_"
# What each backend's exporter imports, for the message when it is missing.
_EXPORTERS = {"tensorflow": "tf2onnx and onnx", "jax": "jax2onnx", "torch": "onnx"}


def inference_network(network, name=None):
    """A copy of ``network`` as it predicts: float32, its augmentation layers replaced by
    identities, frozen (so that a traced call uses the batch normalisation's moving
    statistics), with the same weights; named ``name`` (default: as ``network``)."""
    def clone_layer(layer):
        if layer.name.startswith(AUGMENTATION_PREFIX):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(float32_config(layer.get_config()))

    with python_random_state_kept():
        copy = keras.models.clone_model(network, clone_function=clone_layer)
    # Augmentation layers hold no weights: the rest come in the same order.
    copy.set_weights(network.get_weights())
    copy.trainable = False
    if name is not None:
        copy = keras.Model(copy.input, copy.output, name=name)
    return copy


def export_onnx(network, path, input_name="image"):
    """Write ``network`` (a Keras model taking images (None, height, width, channels)) to
    ``path`` as an ONNX graph, its input named ``input_name``, its batch dynamic.

    Raises
    ------
    ImportError
        The backend's ONNX exporter is not installed; the message names what to install.
    """
    spec = keras.InputSpec(shape=(None, *network.input_shape[1:]), dtype="float32",
                           name=input_name)
    try:
        with _exporter_logs_quiet():
            network.export(path, format="onnx", verbose=False, input_signature=[spec])
    except ImportError as error:
        needed = _EXPORTERS.get(keras.config.backend(), "an ONNX exporter")
        raise MissingInstallError(
            f"writing ONNX networks needs {needed} on the {keras.config.backend()} backend: "
            f"{TRAINING_INSTALL} ({error})", name=error.name) from error


def onnx_bytes(network):
    """The ONNX graph of :func:`inference_network` of ``network``, serialised."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "network.onnx"
        export_onnx(inference_network(network), path)
        return path.read_bytes()


@contextlib.contextmanager
def _exporter_logs_quiet():
    """tf2onnx logs every graph rewrite at INFO, and Keras' patch of it for NumPy 2 warns of
    ``np.object``: noise for a user saving a model."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="keras")
            yield
    finally:
        logger.setLevel(level)
