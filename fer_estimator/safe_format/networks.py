"""The Keras networks of a ``.fer.zip`` file: written in float32 without optimizer state, and
read only after what each ``.keras`` archive declares is bounded.

Keras builds every layer of a ``.keras`` archive's ``config.json`` (allocating its weights)
before it reads the weights, so the config is checked first, from its bytes: its size and
compression, its nesting, its number of layers and the number of weights those layers declare,
counted from each layer's configuration and input shape (``build_config``). Only the layer
classes of :data:`LAYER_WEIGHTS` are counted, so a config naming any other class is refused:
a network with a new kind of layer needs its weight count here, one entry. The weights file
(HDF5, which compresses on its own) is bounded by the sizes its arrays declare.
"""

import contextlib
import math
import random
import tempfile
import zipfile
from pathlib import Path

from . import limits
from .archive import extract_member, read_member, refuse_unnamed_members
from .description import parse_json
from .errors import SafeFormatError, quoted

KERAS_CONFIG = "config.json"
KERAS_METADATA = "metadata.json"
KERAS_WEIGHTS = "model.weights.h5"
# Layer classes whose config holds layers of its own.
_MODEL_CLASSES = ("Functional", "Sequential", "Model")


def _kernel_weights(config, input_shape, per_input_channel):
    """Weights of a convolution: kernel (kernel size x input channels x ``per_input_channel``)
    and bias."""
    kernel = math.prod(_ints(config.get("kernel_size"), "kernel_size"))
    channels = _channels(input_shape, -1) // max(_int(config.get("groups", 1), "groups"), 1)
    bias = per_input_channel if config.get("use_bias", True) else 0
    return kernel * channels * per_input_channel + bias


def _convolution(config, input_shape):
    return _kernel_weights(config, input_shape, _int(config.get("filters"), "filters"))


def _depthwise(config, input_shape):
    multiplier = _int(config.get("depth_multiplier", 1), "depth_multiplier")
    kernel = math.prod(_ints(config.get("kernel_size"), "kernel_size"))
    channels = _channels(input_shape, -1)
    return channels * multiplier * (kernel + bool(config.get("use_bias", True)))


def _separable(config, input_shape):
    filters = _int(config.get("filters"), "filters")
    pointwise = _channels(input_shape, -1) * _int(config.get("depth_multiplier", 1),
                                                  "depth_multiplier")
    kernel = math.prod(_ints(config.get("kernel_size"), "kernel_size"))
    return pointwise * kernel + pointwise * filters + filters * bool(config.get("use_bias", True))


def _dense(config, input_shape):
    units = _int(config.get("units"), "units")
    return _channels(input_shape, -1) * units + units * bool(config.get("use_bias", True))


def _normalization(config, input_shape):
    # Gamma, beta and (batch normalisation) the two moving statistics: four per channel at most.
    axes = config.get("axis", -1)
    axes = axes if isinstance(axes, list) else [axes]
    if not all(type(axis) is int for axis in axes):
        raise ValueError(f"'axis' must be an integer or a list of them; it is {quoted(axes, 60)}")
    return 4 * math.prod(_channels(input_shape, axis) for axis in axes)


def _embedding(config, input_shape):
    return _int(config.get("input_dim"), "input_dim") * _int(config.get("output_dim"),
                                                             "output_dim")


def _no_weights(config, input_shape):
    return 0


_WEIGHTLESS = (
    "InputLayer", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Identity",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Flatten", "Reshape", "Permute", "Add",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "ZeroPadding2D",
    "Cropping2D", "Rescaling", "RandomFlip", "RandomTranslation", "RandomZoom",
    "RandomRotation", "RandomContrast", "RandomBrightness", "RandomErasing",
)
# Layer class -> the number of weights it creates, from its config and its input shape. A
# config naming a class not listed is refused: its weights cannot be counted before building.
LAYER_WEIGHTS = {
    **dict.fromkeys(_WEIGHTLESS, _no_weights),
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                     "Conv3DTranspose"), _convolution),
    "DepthwiseConv2D": _depthwise,
    "SeparableConv2D": _separable,
    "Dense": _dense,
    **dict.fromkeys(("BatchNormalization", "LayerNormalization"), _normalization),
    "Embedding": _embedding,
}


def check_keras_archive(keras_file, where):
    """Refuse the ``.keras`` archive ``keras_file`` (named ``where`` in errors) unless its
    members are within bounds, its config declares at most :data:`limits.MAX_LAYERS` layers
    and :data:`limits.MAX_PARAMETERS` weights, and its weights file declares at most
    :data:`limits.MAX_NETWORK_BYTES`; nothing is built. Returns the declared weights."""
    try:
        with zipfile.ZipFile(keras_file) as archive:
            refuse_unnamed_members(archive, (KERAS_CONFIG, KERAS_METADATA, KERAS_WEIGHTS), where)
            read_member(archive, KERAS_METADATA, where, limits.MAX_KERAS_METADATA_BYTES)
            weights = _declared_weights_of_config(
                read_member(archive, KERAS_CONFIG, where, limits.MAX_KERAS_CONFIG_BYTES), where)
            stored = _stored_weight_bytes(archive, where)
    except (zipfile.BadZipFile, EOFError) as error:
        raise SafeFormatError(f"{where} is not a readable Keras archive: {error}") from error
    if stored > limits.MAX_NETWORK_BYTES:
        # HDF5 compresses datasets itself: a small file can declare any size.
        raise SafeFormatError(f"{where}: {KERAS_WEIGHTS} declares {stored} bytes of weights, "
                              f"more than {limits.MAX_NETWORK_BYTES}; refused")
    return weights


def _declared_weights_of_config(content, where):
    """The weights the config ``content`` (bytes) declares, refused beyond the limits."""
    config = parse_json(content, f"{where}: {KERAS_CONFIG}", limits.MAX_KERAS_CONFIG_NESTING)
    layers = list(_layers(config, where))
    if len(layers) > limits.MAX_LAYERS:
        raise SafeFormatError(f"{where}: {KERAS_CONFIG} declares {len(layers)} layers, more "
                              f"than {limits.MAX_LAYERS}; refused")
    weights = sum(_declared_weights(layer, where) for layer in layers)
    if weights > limits.MAX_PARAMETERS:
        raise SafeFormatError(f"{where}: {KERAS_CONFIG} declares {weights} weights, more than "
                              f"{limits.MAX_PARAMETERS} (no FER network is that large); refused")
    return weights


def _stored_weight_bytes(archive, where):
    """How many bytes the weight arrays of the archive's HDF5 file declare (their shapes, not
    their compressed size), read from the file's metadata only."""
    import h5py

    total = 0

    def add(name, item):
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += item.size * item.dtype.itemsize

    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / KERAS_WEIGHTS
        extract_member(archive, KERAS_WEIGHTS, weights, where, limits.MAX_NETWORK_BYTES)
        try:
            with h5py.File(weights, "r") as file:
                file.visititems(add)
        except (OSError, RuntimeError) as error:  # h5py's errors for a damaged file
            raise SafeFormatError(f"{where}: {KERAS_WEIGHTS} is not a readable HDF5 file: "
                                  f"{quoted(str(error))}") from error
    return total


def _layers(config, where):
    """Every layer of a Keras model config, those of nested models included (not recursive:
    the config's nesting is bounded, but a generator stack need not be)."""
    pending = [config]
    while pending:
        model = pending.pop()
        if not isinstance(model, dict) or model.get("class_name") not in _MODEL_CLASSES:
            raise SafeFormatError(f"{where}: {KERAS_CONFIG} is not a Keras model's config; it "
                                  f"is {quoted(model)}")
        layers = (model.get("config") or {}).get("layers")
        if not isinstance(layers, list):
            raise SafeFormatError(f"{where}: {KERAS_CONFIG} lists no layers for the model "
                                  f"{quoted(model.get('class_name'))}")
        for layer in layers:
            if isinstance(layer, dict) and layer.get("class_name") in _MODEL_CLASSES:
                pending.append(layer)
            yield layer


def _declared_weights(layer, where):
    """How many weights ``layer`` (a layer's config) will create when Keras builds it."""
    if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
        raise SafeFormatError(f"{where}: {KERAS_CONFIG} holds the layer {quoted(layer)}, "
                              f"which names no class")
    kind = layer["class_name"]
    if kind in _MODEL_CLASSES:
        return 0  # its layers are counted one by one
    count = LAYER_WEIGHTS.get(kind)
    if count is None:
        raise SafeFormatError(
            f"{where}: {KERAS_CONFIG} has a layer of class {quoted(kind, 60)}, whose weights "
            f"the safe format cannot count before Keras builds it (it counts the classes of "
            f"fer_estimator.safe_format.networks.LAYER_WEIGHTS); refused")
    config = layer.get("config")
    build = layer.get("build_config") or {}
    input_shape = build.get("input_shape") if isinstance(build, dict) else None
    try:
        return count(config if isinstance(config, dict) else {}, input_shape)
    except ValueError as error:
        name = config.get("name") if isinstance(config, dict) else None
        raise SafeFormatError(f"{where}: {KERAS_CONFIG}, layer {quoted(name, 60)} ({kind}): "
                              f"{error}") from None


def _int(value, what):
    if type(value) is not int or value < 0:
        raise ValueError(f"'{what}' must be a non-negative integer; it is {quoted(value, 60)}")
    return value


def _ints(value, what):
    values = value if isinstance(value, list) else [value]
    return [_int(item, what) for item in values]


def _channels(input_shape, axis):
    """The size of ``axis`` of a layer's input shape, which its config must declare."""
    if not isinstance(input_shape, list) or not input_shape or not -len(input_shape) <= axis \
            < len(input_shape):
        raise ValueError(f"its input shape {quoted(input_shape, 60)} does not give the size of "
                         f"axis {axis}, which its weights depend on")
    return _int(input_shape[axis], f"input_shape[{axis}]")


@contextlib.contextmanager
def python_random_state_kept():
    """Keras draws a seed from Python's global ``random`` for each unseeded initializer it
    builds, weights loaded over them or not: loading a model must not move the caller's
    generator."""
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


def load_network(keras_file, where):
    """The network of the ``.keras`` file, checked by :func:`check_keras_archive`, then loaded
    by Keras in safe mode (refusing lambda layers and any other serialised code)."""
    check_keras_archive(keras_file, where)
    import keras

    try:
        with python_random_state_kept():
            return keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad or unsafe file
        raise SafeFormatError(f"{where} cannot be loaded safely: {type(error).__name__}: "
                              f"{quoted(str(error), 1000)}") from error


def check_network_shapes(network, where):
    """Refuse a network that does not take images of bounded size or does not output one
    probability per class (at most :data:`limits.MAX_CLASSES`)."""
    input_shape, output_shape = _shape(network, "input_shape"), _shape(network, "output_shape")
    if not (isinstance(input_shape, tuple) and len(input_shape) == 4 and input_shape[0] is None
            and all(type(size) is int and 1 <= size <= limits.MAX_IMAGE_SIDE
                    for size in input_shape[1:3])
            and type(input_shape[3]) is int and 1 <= input_shape[3] <= limits.MAX_CHANNELS):
        raise SafeFormatError(
            f"{where}: the network has input shape {quoted(input_shape)}; a FER network takes "
            f"images (None, height, width, channels) of 1 to {limits.MAX_IMAGE_SIDE} pixels a "
            f"side and 1 to {limits.MAX_CHANNELS} channels")
    if not (isinstance(output_shape, tuple) and len(output_shape) == 2
            and output_shape[0] is None and type(output_shape[1]) is int
            and 2 <= output_shape[1] <= limits.MAX_CLASSES):
        raise SafeFormatError(f"{where}: the network has output shape {quoted(output_shape)}; a "
                              f"FER network outputs (None, number of classes), 2 to "
                              f"{limits.MAX_CLASSES} classes")


def _shape(network, name):
    """The network's ``input_shape`` or ``output_shape`` (None when it has none to give)."""
    try:
        return getattr(network, name)
    except Exception:  # Keras raises several types for a model it cannot say it of
        return None


def float32_copy(network):
    """An uncompiled float32 copy of ``network``: no optimizer state, no bfloat16 compute."""
    config = float32_config(network.get_config())
    with python_random_state_kept():
        copy = network.__class__.from_config(config)
    # Mixed-precision layers keep float32 variables, so the weights carry over as they are.
    copy.set_weights(network.get_weights())
    return copy


def float32_config(config):
    """A Keras config with every dtype policy (``mixed_bfloat16``...) replaced by float32."""
    if isinstance(config, dict):
        if str(config.get("class_name", "")).endswith("DTypePolicy"):
            return {**config, "class_name": "DTypePolicy",
                    "config": {**config.get("config", {}), "name": "float32"}}
        return {key: ("float32" if key == "dtype" and isinstance(value, str)
                      and value.startswith("mixed_") else float32_config(value))
                for key, value in config.items()}
    if isinstance(config, list):
        return [float32_config(item) for item in config]
    return config
