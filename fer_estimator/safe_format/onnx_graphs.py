"""The ONNX graphs of a ``.fer.zip`` file checked before onnxruntime reads them, as the Keras
networks' configs are checked before Keras builds them (:mod:`.networks`).

onnxruntime runs any graph it is given: a tensor stored as "external data" makes it read a file
named in the graph (relative to the working directory, for a graph given as bytes), an operator
such as ``ConstantOfShape``, ``Expand`` or ``Loop`` can allocate or loop without bound, and a
custom domain asks for a library's operators. A FER network needs none of these, so a graph is
refused unless every operator is one of :data:`OPERATORS` in the standard domain, no tensor is
external and there are no subgraphs, sparse tensors or local functions.

The graph is read at the protobuf wire level (a few fields of ``ModelProto``, ``GraphProto``,
``NodeProto``, ``AttributeProto`` and ``TensorProto``, numbered as in ``onnx/onnx.proto``) so that
the light runtime needs no ``onnx`` package, whose import alone costs a fresh process 0.45 s.
"""

from .errors import SafeFormatError, quoted

# The operators the Keras exporter (tf2onnx) writes for the registered architectures, float32 and
# quantized, and the few their variants may add.
OPERATORS = frozenset({
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Conv",
    "DequantizeLinear", "Div", "Elu", "Flatten", "Gather", "Gemm", "GlobalAveragePool",
    "GlobalMaxPool", "Identity", "LeakyRelu", "MatMul", "Max", "MaxPool", "Mul",
    "QuantizeLinear", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax",
    "Sqrt", "Squeeze", "Sub", "Sum", "Transpose", "Unsqueeze",
})
_STANDARD_DOMAINS = ("", "ai.onnx")
# Field numbers of onnx.proto (ONNX IR version 3 on, unchanged since).
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE, _NODE_OP_TYPE, _NODE_DOMAIN = 5, 4, 7
_ATTRIBUTE_TENSOR, _ATTRIBUTE_TENSORS = 5, 10
_ATTRIBUTE_SUBGRAPHS = (6, 11)  # g, graphs
_ATTRIBUTE_SPARSE = (22, 23)  # sparse_tensor, sparse_tensors
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _EXTERNAL = 13, 14, 1
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def check_onnx_graph(graph, where):
    """Refuse the serialised ONNX model ``graph`` (named ``where`` in errors) unless it is a
    plain network: operators of :data:`OPERATORS` only, every tensor inside the graph, no
    subgraph, sparse tensor or function."""
    try:
        model = _fields(memoryview(graph))
        if _MODEL_FUNCTIONS in model:
            _refuse(where, "defines functions of its own")
        if len(model.get(_MODEL_GRAPH, ())) != 1:
            _refuse(where, "holds no graph")
        body = _fields(model[_MODEL_GRAPH][0])
        if _GRAPH_SPARSE_INITIALIZER in body:
            _refuse(where, "holds sparse tensors")
        for tensor in body.get(_GRAPH_INITIALIZER, ()):
            _check_tensor(tensor, where)
        for node in body.get(_GRAPH_NODE, ()):
            _check_node(_fields(node), where)
    except _Malformed:
        raise SafeFormatError(f"{where} is not an ONNX graph (its bytes do not parse)") from None


class _Malformed(Exception):
    """Bytes that are no protobuf message."""


def _check_node(node, where):
    op_type = _text(node, _NODE_OP_TYPE)
    domain = _text(node, _NODE_DOMAIN)
    if domain not in _STANDARD_DOMAINS or op_type not in OPERATORS:
        _refuse(where, f"has an operator {quoted(op_type, 60)} (domain {quoted(domain, 60)}), "
                       f"which no FER network needs (the ONNX runtime runs "
                       f"fer_estimator.safe_format.onnx_graphs.OPERATORS)")
    for attribute in map(_fields, node.get(_NODE_ATTRIBUTE, ())):
        if any(number in attribute for number in _ATTRIBUTE_SUBGRAPHS):
            _refuse(where, f"has an operator {quoted(op_type, 60)} holding a subgraph")
        if any(number in attribute for number in _ATTRIBUTE_SPARSE):
            _refuse(where, "holds sparse tensors")
        for tensor in (*attribute.get(_ATTRIBUTE_TENSOR, ()),
                       *attribute.get(_ATTRIBUTE_TENSORS, ())):
            _check_tensor(tensor, where)


def _check_tensor(tensor, where):
    fields = _fields(tensor)
    if _TENSOR_EXTERNAL_DATA in fields or _EXTERNAL in fields.get(_TENSOR_DATA_LOCATION, ()):
        _refuse(where, "keeps a tensor outside the graph (external data, read from a file)")


def _refuse(where, what):
    raise SafeFormatError(f"{where} {what}; refused")


def _text(fields, number):
    values = fields.get(number, ())
    try:
        return bytes(values[-1]).decode("utf-8") if values else ""
    except (UnicodeDecodeError, TypeError):  # not text, or a number where text belongs
        raise _Malformed from None


def _fields(buffer):
    """The fields of one protobuf message: field number -> list of values (ints for varints,
    memoryviews of the bytes otherwise); length-delimited values are sliced, not copied."""
    fields, position = {}, 0
    while position < len(buffer):
        key, position = _varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, position = _varint(buffer, position)
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _varint(buffer, position)
            value, position = buffer[position:position + length], position + length
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            value, position = buffer[position:position + size], position + size
        else:
            raise _Malformed
        if position > len(buffer):
            raise _Malformed
        fields.setdefault(number, []).append(value)
    return fields


def _varint(buffer, position):
    value = shift = 0
    while True:
        if position >= len(buffer):
            raise _Malformed
        byte = buffer[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise _Malformed
