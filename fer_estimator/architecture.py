"""The Keras CNN behind FERClassifier: a VGG-like stack of convolution blocks.

Each block is Conv-BN-ReLU, Conv-BN-ReLU, MaxPool, Dropout, with the filter count doubling per
block (64 → 128 → 256 → 512 by default), followed by Dense-BN-ReLU-Dropout layers and a softmax.
Augmentation layers sit in front: Keras runs them only while training, so predictions are never
augmented and the saved model needs no extra code. Only built-in layers are used, so a model
saved under one Keras backend loads under any other.
"""

import keras
from keras import layers, regularizers

# Keras' default 0.99 leaves the moving statistics far from the data after the few hundred
# steps of a short fit (validation accuracy then sits at chance); 0.9 is what PyTorch uses.
_BN_MOMENTUM = 0.9


def check_depth_fits(depth, input_shape):
    """Raise a ValueError unless ``depth`` blocks, each halving the image, fit images of
    ``input_shape`` ``(height, width[, channels])``."""
    side = min(input_shape[:2])
    if not 1 <= depth or side // 2**depth < 1:
        raise ValueError(f"depth={depth!r} does not fit images of shape {tuple(input_shape)}: "
                         f"each block halves the image, so depth must be between 1 and "
                         f"{int(side).bit_length() - 1}")


def build_vgg_cnn(input_shape, n_classes, *, depth=4, base_filters=64, max_filters=512,
                  dropout=0.25, l2=1e-4, dense_units=(512, 256, 128), horizontal_flip=True,
                  shift_range=0.1, zoom_range=0.1, dtype_policy="float32"):
    """Build (uncompiled) the VGG-like FER CNN.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one image, e.g. ``(48, 48, 1)``.
    n_classes : int
        Number of softmax outputs.
    depth : int, default=4
        Number of convolution blocks; each halves the spatial size.
    base_filters : int, default=64
        Filters of the first block; doubled per block up to ``max_filters``.
    max_filters : int, default=512
        Cap on the filters of a block.
    dropout : float, default=0.25
        Dropout rate after each block and each dense layer.
    l2 : float, default=1e-4
        L2 penalty on every convolution and dense kernel (0 disables it).
    dense_units : sequence of int, default=(512, 256, 128)
        Sizes of the dense layers before the softmax.
    horizontal_flip : bool, default=True
        Randomly mirror training images.
    shift_range : float, default=0.1
        Largest random translation, as a fraction of the image side.
    zoom_range : float, default=0.1
        Largest random zoom in or out, as a fraction.
    dtype_policy : str, default="float32"
        Keras dtype policy of the convolution and dense layers (``"mixed_bfloat16"`` computes
        in bfloat16 with float32 weights). Augmentation and the softmax stay float32, so
        probabilities are exact and the saved model predicts on any CPU.

    Returns
    -------
    keras.Model
    """
    check_depth_fits(depth, input_shape)
    regularizer = regularizers.L2(l2) if l2 else None

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if horizontal_flip:
        x = layers.RandomFlip("horizontal", name="augment_flip")(x)
    if shift_range:
        x = layers.RandomTranslation(shift_range, shift_range, fill_mode="nearest",
                                     name="augment_shift")(x)
    if zoom_range:
        x = layers.RandomZoom(zoom_range, fill_mode="nearest", name="augment_zoom")(x)

    for block in range(depth):
        filters = min(base_filters * 2**block, max_filters)
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
    for index, units in enumerate(dense_units, start=1):
        x = layers.Dense(units, use_bias=False, kernel_regularizer=regularizer,
                         dtype=dtype_policy, name=f"dense{index}")(x)
        x = layers.BatchNormalization(momentum=_BN_MOMENTUM, dtype=dtype_policy,
                                      name=f"dense{index}_bn")(x)
        x = layers.Activation("relu", dtype=dtype_policy, name=f"dense{index}_relu")(x)
        x = layers.Dropout(dropout, dtype=dtype_policy, name=f"dense{index}_dropout")(x)
    # float32 softmax: bfloat16's 8-bit mantissa would round the probabilities.
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="emotion")(x)
    return keras.Model(inputs, outputs, name="fer_vgg_cnn")
