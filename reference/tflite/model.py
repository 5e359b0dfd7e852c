"""A .tflite flatbuffer as plain Python objects, read with the ``tflite`` schema binding package."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "FLOAT64": np.float64, "INT32": np.int32,
           "INT64": np.int64, "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_}


@dataclass
class Tensor:
    """A graph tensor: ``data`` for constants; ``scale``/``zero_point`` (per axis ``axis``) if quantized."""

    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int

    @property
    def quantized(self) -> bool:
        return self.scale.size > 0


@dataclass
class Operator:
    name: str
    inputs: list[int]  # -1: optional input left out
    outputs: list[int]
    options: object | None  # the schema binding's options table (Conv2DOptions, ...), or None


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    op_names: list[str] = field(default_factory=list)


def _dtype_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.TensorType).items() if k.isupper()}


def _options(op):
    import tflite

    kind = op.BuiltinOptionsType()
    if not kind:
        return None
    name = next(k for k, v in vars(tflite.BuiltinOptions).items() if v == kind and not k.startswith("_"))
    table, options = op.BuiltinOptions(), getattr(tflite, name)()
    options.Init(table.Bytes, table.Pos)
    return options


def load(model: bytes | str | Path) -> Graph:
    """Parse the first subgraph of a .tflite model (bytes or a path)."""
    import tflite

    buf = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
    root = tflite.Model.GetRootAsModel(buf, 0)
    names, graph = _dtype_names(), root.Subgraphs(0)
    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        dtype = _DTYPES.get(names[t.Type()])
        if dtype is None:
            raise NotImplementedError(f"reference.tflite: tensor type {names[t.Type()]} is not supported")
        buffer = root.Buffers(t.Buffer())
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        data = (np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype).reshape(shape)
                if buffer is not None and buffer.DataLength() else None)
        q = t.Quantization()
        scale = q.ScaleAsNumpy().astype(np.float32) if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
        zero = (q.ZeroPointAsNumpy().astype(np.int64) if q is not None and q.ZeroPointLength()
                else np.zeros(scale.size, np.int64))
        tensors.append(Tensor(t.Name().decode(), shape, dtype, data, scale, zero,
                              q.QuantizedDimension() if q is not None else 0))
    codes = _codes(root)
    operators = []
    for j in range(graph.OperatorsLength()):
        op = graph.Operators(j)
        operators.append(Operator(codes[op.OpcodeIndex()], [int(v) for v in op.InputsAsNumpy()],
                                  [int(v) for v in op.OutputsAsNumpy()], _options(op)))
    return Graph(tensors, operators, [int(v) for v in graph.InputsAsNumpy()],
                 [int(v) for v in graph.OutputsAsNumpy()], [op.name for op in operators])


def _codes(root) -> list[str]:
    """The model's operator codes as op names (builtin, or the custom code)."""
    import tflite

    codes = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        custom = code.CustomCode()
        codes.append(custom.decode() if custom else tflite.opcode2name(max(code.BuiltinCode(),
                                                                          code.DeprecatedBuiltinCode())))
    return codes


def op_names(model: bytes) -> list[str]:
    """The op names of the first subgraph in execution order, as :func:`load` gives them, without reading tensors."""
    import tflite

    root = tflite.Model.GetRootAsModel(bytes(model), 0)
    codes, graph = _codes(root), root.Subgraphs(0)
    return [codes[graph.Operators(j).OpcodeIndex()] for j in range(graph.OperatorsLength())]
