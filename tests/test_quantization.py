"""int8 copies of the ONNX network graphs (safe_format.quantization): calibrated static
quantization that keeps the graph's interface and its predictions, deterministically."""

import numpy as np
import onnx
import onnxruntime
import pytest

from fer_estimator import EMOTIONS, make_fer_pipeline
from fer_estimator.safe_format.onnx_networks import onnx_bytes
from fer_estimator.safe_format.quantization import quantize_network


@pytest.fixture(scope="module")
def fitted(synthetic_split, micro_cnn):
    X_train, y_train, _, _ = synthetic_split
    return make_fer_pipeline("standardize", **micro_cnn()).fit(X_train,
                                                               np.array(EMOTIONS)[y_train])


@pytest.fixture(scope="module")
def graphs(fitted, synthetic_split):
    """The float32 graph of the fitted network, its int8 copy and the calibration images."""
    calibration = fitted.steps[0][1].transform(synthetic_split[0][:150])
    graph = onnx_bytes(fitted.steps[-1][1].model_)
    return graph, quantize_network(graph, calibration), calibration


def _proba(graph, images):
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def test_the_int8_graph_keeps_the_interface_and_predictions(fitted, graphs, synthetic_split):
    graph, int8, _ = graphs
    float32_graph = onnx.load_model_from_string(graph)
    int8_graph = onnx.load_model_from_string(int8)
    assert int8_graph.graph.input == float32_graph.graph.input  # name, float32, dynamic batch
    assert [output.name for output in int8_graph.graph.output] == [
        output.name for output in float32_graph.graph.output]
    weights = {tensor.data_type for tensor in int8_graph.graph.initializer if tensor.dims}
    assert onnx.TensorProto.INT8 in weights
    # Faces none of the calibration came from.
    images = fitted.steps[0][1].transform(synthetic_split[2])
    expected, proba = _proba(graph, images), _proba(int8, images)
    assert proba.shape == expected.shape
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)  # the Softmax's output is float
    assert np.abs(proba - expected).max() < 0.1
    assert np.mean(proba.argmax(axis=1) == expected.argmax(axis=1)) >= 0.9


def test_quantizing_is_deterministic(graphs):
    graph, int8, calibration = graphs
    assert quantize_network(graph, calibration) == int8


@pytest.mark.parametrize("shape", [(0, 48, 48, 1), (4, 48, 48), (4, 40, 40, 1)])
def test_calibration_images_the_graph_cannot_take_are_refused(graphs, shape):
    with pytest.raises(ValueError, match=r"calibration images|the network takes"):
        quantize_network(graphs[0], np.zeros(shape, dtype=np.float32))
