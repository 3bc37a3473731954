"""The Keras networks behind FERClassifier: a registry of architectures.

Every network is ``image → augmentation → body → softmax``. The augmentation layers (named
``augment_*``) and the float32 softmax (``emotion``) are shared; an architecture is its body,
one function registered under a name::

    @register_architecture("my_net")
    def build_my_net(x, *, depth, base_filters, dropout, l2, dtype_policy):
        ...  # Keras layers on the tensor x
        return features  # a flat (batch, n) tensor

The keyword-only parameters of the function name the FERClassifier parameters it takes
(``FERClassifier(architecture="my_net", depth=3)`` passes ``depth=3``); ``dtype_policy`` is the
resolved precision. Nothing else registers or names an architecture, and a saved network
loads without its function: it is built only of Keras' own layers, so a model saved under one
Keras backend loads under any other, in ``safe_mode``.
"""

import inspect

import keras
from keras import layers, regularizers

__all__ = ["ARCHITECTURES", "build_network", "check_depth_fits", "register_architecture"]

# Keras' default 0.99 leaves the moving statistics far from the data after the few hundred
# steps of a short fit (validation accuracy then sits at chance); 0.9 is what PyTorch uses.
_BN_MOMENTUM = 0.9

# Name -> body function; filled by register_architecture.
ARCHITECTURES = {}
# Name -> how many times a body of that depth halves the image (when it is not ``depth``).
_HALVINGS = {}


def register_architecture(name, *, halvings=None):
    """Register a network body under ``name`` (a decorator); see the module docstring.

    ``halvings(depth)`` is how many times a body of that depth halves the image (default:
    ``depth`` times), so that a depth too large for the images is refused before anything is
    built (:func:`check_depth_fits`).
    """
    def register(build):
        if name in ARCHITECTURES:
            raise ValueError(f"an architecture named {name!r} is already registered")
        ARCHITECTURES[name] = build
        if halvings is not None:
            _HALVINGS[name] = halvings
        return build
    return register


def check_depth_fits(architecture, depth, input_shape):
    """Raise a ValueError unless a body of ``architecture`` and ``depth`` leaves at least one
    pixel of images of ``input_shape`` ``(height, width[, channels])``."""
    get_architecture(architecture)
    halvings = _HALVINGS.get(architecture, lambda blocks: blocks)
    side = int(min(input_shape[:2]))
    largest = max(blocks for blocks in range(1, 64) if side // 2**halvings(blocks) >= 1)
    if not 1 <= depth or side // 2**halvings(depth) < 1:
        raise ValueError(f"depth={depth!r} does not fit images of shape {tuple(input_shape)}: "
                         f"the {architecture!r} blocks halve the image, so depth must be "
                         f"between 1 and {largest}")


def architecture_parameters(name):
    """The FERClassifier parameters the architecture ``name`` takes (its keyword-only
    arguments, ``dtype_policy`` aside)."""
    build = get_architecture(name)
    return tuple(parameter.name for parameter in inspect.signature(build).parameters.values()
                 if parameter.kind is inspect.Parameter.KEYWORD_ONLY
                 and parameter.name != "dtype_policy")


def get_architecture(name):
    """The body function registered as ``name``; a ValueError lists the registered ones."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(f"The 'architecture' parameter of FERClassifier must be one of the "
                         f"registered architectures {sorted(ARCHITECTURES)}. Got {name!r} "
                         f"instead.") from None


def build_network(architecture, input_shape, n_classes, *, horizontal_flip=True,
                  shift_range=0.1, zoom_range=0.1, random_erasing=0.0,
                  dtype_policy="float32", **body_params):
    """Build (uncompiled) the FER network of a registered architecture.

    Parameters
    ----------
    architecture : str
        A name of :data:`ARCHITECTURES`.
    input_shape : tuple of int
        Shape of one image, e.g. ``(48, 48, 1)``.
    n_classes : int
        Number of softmax outputs.
    horizontal_flip : bool, default=True
        Randomly mirror training images.
    shift_range : float, default=0.1
        Largest random translation, as a fraction of the image side.
    zoom_range : float, default=0.1
        Largest random zoom in or out, as a fraction.
    random_erasing : float, default=0.0
        Probability that a training image gets a random rectangle (2–33% of its area) replaced
        by Gaussian noise (Zhong et al., 2020; Keras' ``RandomErasing``).
    dtype_policy : str, default="float32"
        Keras dtype policy of the body (``"mixed_bfloat16"`` computes in bfloat16 with
        float32 weights). Augmentation and the softmax stay float32, so probabilities are
        exact and the saved model predicts on any CPU.
    **body_params
        The architecture's own parameters (:func:`architecture_parameters`).

    Returns
    -------
    keras.Model
    """
    build = get_architecture(architecture)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    # Keras runs augmentation layers only while training: predictions are never augmented.
    if horizontal_flip:
        x = layers.RandomFlip("horizontal", name="augment_flip")(x)
    if shift_range:
        x = layers.RandomTranslation(shift_range, shift_range, fill_mode="nearest",
                                     name="augment_shift")(x)
    if zoom_range:
        x = layers.RandomZoom(zoom_range, fill_mode="nearest", name="augment_zoom")(x)
    if random_erasing:
        # The inputs are normalised (about -2..2 standardised, 0..1 scaled): noise of unit
        # spread, clipped to [-1, 1], stands out from the face in either case.
        x = layers.RandomErasing(factor=(random_erasing, random_erasing), fill_value=None,
                                 value_range=(-1.0, 1.0), name="augment_erasing")(x)
    features = build(x, dtype_policy=dtype_policy, **body_params)
    # float32 softmax: bfloat16's 8-bit mantissa would round the probabilities.
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32",
                           name="emotion")(features)
    return keras.Model(inputs, outputs, name=f"fer_{architecture}")


def _dense_head(x, dense_units, dropout, regularizer, dtype_policy):
    for index, units in enumerate(dense_units, start=1):
        x = layers.Dense(units, use_bias=False, kernel_regularizer=regularizer,
                         dtype=dtype_policy, name=f"dense{index}")(x)
        x = layers.BatchNormalization(momentum=_BN_MOMENTUM, dtype=dtype_policy,
                                      name=f"dense{index}_bn")(x)
        x = layers.Activation("relu", dtype=dtype_policy, name=f"dense{index}_relu")(x)
        x = layers.Dropout(dropout, dtype=dtype_policy, name=f"dense{index}_dropout")(x)
    return x


@register_architecture("vgg")
def build_vgg_body(x, *, depth, base_filters, dropout, l2, dense_units, dtype_policy):
    """The VGG-like stack (the reference design): ``depth`` blocks of Conv-BN-ReLU ×2, MaxPool,
    Dropout, the filters doubling per block (up to 512), then Dense-BN-ReLU-Dropout layers."""
    check_depth_fits("vgg", depth, x.shape[1:])
    regularizer = regularizers.L2(l2) if l2 else None
    for block in range(depth):
        filters = min(base_filters * 2**block, 512)
        for conv in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              kernel_regularizer=regularizer,
                              dtype=dtype_policy, name=f"block{block + 1}_conv{conv + 1}")(x)
            x = layers.BatchNormalization(momentum=_BN_MOMENTUM, dtype=dtype_policy,
                                          name=f"block{block + 1}_bn{conv + 1}")(x)
            x = layers.Activation("relu", dtype=dtype_policy,
                                  name=f"block{block + 1}_relu{conv + 1}")(x)
        x = layers.MaxPooling2D(2, dtype=dtype_policy, name=f"block{block + 1}_pool")(x)
        x = layers.Dropout(dropout, dtype=dtype_policy, name=f"block{block + 1}_dropout")(x)
    x = layers.Flatten(dtype=dtype_policy, name="flatten")(x)
    return _dense_head(x, dense_units, dropout, regularizer, dtype_policy)


@register_architecture("resnet", halvings=lambda depth: depth - 1)
def build_preact_resnet_body(x, *, depth, base_filters, dropout, l2, dense_units,
                             dtype_policy):
    """A pre-activation ResNet (He et al., 2016): a 3×3 stem, then ``depth`` stages of one
    residual block (BN-ReLU-Conv ×2 around an identity or 1×1 projection shortcut), every stage
    after the first halving the image and doubling the filters (up to 512), then global average
    pooling and the dense layers.

    At the VGG body's widths it costs about the same per image (two 3×3 convolutions per
    stage); the shortcuts ease optimisation and the pooled head has far fewer weights than the
    VGG's flattened one, a lever against over-fitting.
    """
    check_depth_fits("resnet", depth, x.shape[1:])
    regularizer = regularizers.L2(l2) if l2 else None

    def conv(tensor, filters, kernel, stride, name):
        return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                             kernel_regularizer=regularizer, dtype=dtype_policy,
                             name=name)(tensor)

    def bn_relu(tensor, name):
        tensor = layers.BatchNormalization(momentum=_BN_MOMENTUM, dtype=dtype_policy,
                                           name=f"{name}_bn")(tensor)
        return layers.Activation("relu", dtype=dtype_policy, name=f"{name}_relu")(tensor)

    x = conv(x, base_filters, 3, 1, "stem_conv")
    for stage in range(depth):
        filters = min(base_filters * 2**stage, 512)
        stride = 1 if stage == 0 else 2
        name = f"stage{stage + 1}"
        activated = bn_relu(x, f"{name}_pre")
        if stride != 1 or x.shape[-1] != filters:
            shortcut = conv(activated, filters, 1, stride, f"{name}_shortcut")
        else:
            shortcut = x
        y = conv(activated, filters, 3, stride, f"{name}_conv1")
        y = bn_relu(y, f"{name}_mid")
        y = layers.Dropout(dropout, dtype=dtype_policy, name=f"{name}_dropout")(y)
        y = conv(y, filters, 3, 1, f"{name}_conv2")
        x = layers.Add(dtype=dtype_policy, name=f"{name}_add")([shortcut, y])
    x = bn_relu(x, "final")
    x = layers.GlobalAveragePooling2D(dtype=dtype_policy, name="pool")(x)
    return _dense_head(x, dense_units, dropout, regularizer, dtype_policy)

