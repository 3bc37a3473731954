"""int8 copies of the ONNX network graphs (:mod:`.onnx_networks`): static quantization,
calibrated on normalised training images, for faster prediction on CPUs with int8 dot products.

The settings were chosen on the shipped 7-class model, by agreement with its float32 graph on the
validation split its network never trained on (issue #19): QDQ format; weights int8, symmetric
and per output channel; activations uint8 with MinMax ranges (the U8 x S8 pair onnxruntime's x86
kernels are fastest on: int8 activations ran at 0.6-0.85x the speed); the Softmax's output left
float (a quantized probability moves in steps of 1/256). Percentile ranges agreed on a few more
validation images but take ~5x the memory (onnxruntime keeps every tensor of every calibration
batch), and more than 1,000 images gave no better ranges.

``onnx`` and ``onnxruntime.quantization`` are imported when a graph is quantized: they belong to
the training install, and the light runtime never quantizes.
"""

import tempfile
from pathlib import Path

import numpy as np

from .._extras import TRAINING_INSTALL, MissingInstallError

# Images per calibration run: bounds the memory of the calibration session's outputs.
_CALIBRATION_BATCH = 100


def quantize_network(graph, images):
    """The int8 graph of the float32 ONNX network ``graph``, calibrated on ``images``.

    Parameters
    ----------
    graph : bytes
        A serialised ONNX network with one float32 input of images ``(batch, height, width,
        channels)`` and a dynamic batch, as :func:`~.onnx_networks.onnx_bytes` writes.
    images : array-like of shape (n_samples, height, width, channels)
        Calibration images, normalised as the network's input (the output of its pipeline's
        :class:`~fer_estimator.PixelTransformer`): training images, never the ones the model
        is scored on. A few hundred to a thousand suffice.

    Returns
    -------
    bytes
        The serialised int8 (QDQ) graph: same input and output as ``graph``, the same bytes for
        the same ``graph`` and ``images``.

    Raises
    ------
    ValueError
        ``images`` is empty or not of the shape the graph takes.
    ImportError
        ``onnx`` or ``onnxruntime`` is not installed.
    """
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quant_pre_process,
            quantize_static,
        )
    except ImportError as error:
        raise MissingInstallError(f"int8 networks need onnx and onnxruntime: {TRAINING_INSTALL} "
                                  f"({error})", name=error.name) from error

    (graph_input,) = onnx.load_model_from_string(graph).graph.input
    images = np.ascontiguousarray(images, dtype=np.float32)
    _check_images(images, graph_input)

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(range(0, len(images), _CALIBRATION_BATCH))

        def get_next(self):
            start = next(self.batches, None)
            if start is None:
                return None
            return {graph_input.name: images[start:start + _CALIBRATION_BATCH]}

    with tempfile.TemporaryDirectory(prefix="fer-int8-") as folder:
        source, prepared, quantized = (Path(folder) / name for name in
                                       ("network.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(graph)
        # Shape inference and graph optimisation (the output layer's MatMul + Add fused into a
        # Gemm) first, as onnxruntime recommends: a tensor of unknown shape is left float.
        quant_pre_process(source, prepared)
        quantize_static(
            prepared, quantized, Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"OpTypesToExcludeOutputQuantization": ["Softmax"]})
        return quantized.read_bytes()


def _check_images(images, graph_input):
    """Refuse calibration images the graph cannot take, before onnxruntime fails obscurely."""
    dimensions = graph_input.type.tensor_type.shape.dim
    # An open dimension (the batch) has no dim_value: any size is accepted there.
    expected = tuple(dim.dim_value or None for dim in dimensions)
    if images.ndim != len(expected) or any(
            size is not None and size != actual
            for size, actual in zip(expected[1:], images.shape[1:], strict=True)):
        raise ValueError(f"images have shape {images.shape}; the network takes "
                         f"{(None, *expected[1:])}")
    if not len(images):
        raise ValueError("no calibration images: quantizing needs a few hundred")
