"""Runs a loaded graph op by op: the kernel registry and the tensor values."""

from __future__ import annotations

import numpy as np

from reference.tflite import activations, arithmetic, conv, pooling, quantization, resize, tensor_ops
from reference.tflite.model import Graph, load

KERNELS = {**conv.KERNELS, **pooling.KERNELS, **activations.KERNELS, **arithmetic.KERNELS, **resize.KERNELS,
           **tensor_ops.KERNELS, **quantization.KERNELS}


class Context:
    """Tensor values by index, and whether float kernels compute in float64."""

    def __init__(self, graph: Graph, float64: bool):
        self.graph, self.float64, self.values = graph, float64, {}

    def tensor(self, index):
        return self.graph.tensors[index]

    def value(self, index):
        if index in self.values:
            return self.values[index]
        data = self.graph.tensors[index].data
        if data is None:
            raise ValueError(f"reference.tflite: tensor {self.graph.tensors[index].name!r} has no value yet")
        return data

    def optional(self, op, position):
        """The value of input ``position`` of ``op``, or None where it is left out."""
        return self.value(op.inputs[position]) if len(op.inputs) > position and op.inputs[position] >= 0 else None

    def float_out(self, x):
        """A float result as the graph stores it: float32 (float64 in float64 mode)."""
        return np.asarray(x, np.float64 if self.float64 else np.float32)


def _feed(graph: Graph, inputs, float64: bool) -> dict[int, np.ndarray]:
    if isinstance(inputs, dict):
        names = [graph.tensors[i].name for i in graph.inputs]
        unknown = set(inputs) - set(names)
        if unknown or len(inputs) != len(names):
            raise ValueError(f"model inputs are {names}, got {sorted(inputs)}")
        inputs = [inputs[name] for name in names]
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"model takes {len(graph.inputs)} inputs, got {len(inputs)}")
    fed = {}
    for index, value in zip(graph.inputs, inputs):
        tensor, value = graph.tensors[index], np.asarray(value)
        if tuple(value.shape) != tensor.shape:
            raise ValueError(f"input {tensor.name!r} has shape {tensor.shape}, got {value.shape}")
        floating = np.issubdtype(tensor.dtype, np.floating)
        fed[index] = value.astype(np.float64 if float64 and floating else tensor.dtype)
    return fed


def run_indexed(model, inputs, *, float64: bool = False) -> tuple[Graph, dict[int, np.ndarray]]:
    """The loaded graph and every tensor value computed (inputs included) keyed by tensor index (tensor names
    need not be unique: exported graphs repeat them)."""
    graph = model if isinstance(model, Graph) else load(model)
    ctx = Context(graph, float64)
    ctx.values.update(_feed(graph, inputs, float64))
    for op in graph.operators:
        kernel = KERNELS.get(op.name)
        if kernel is None:
            raise NotImplementedError(f"reference.tflite has no kernel for builtin op {op.name}")
        out, expected = kernel(ctx, op), graph.tensors[op.outputs[0]].dtype
        if out.dtype != expected and not (float64 and out.dtype == np.float64 and np.issubdtype(expected, np.floating)):
            raise NotImplementedError(f"reference.tflite has no kernel for {op.name} with these tensor types "
                                      f"(it gave {out.dtype}, the model's output tensor is {np.dtype(expected)})")
        ctx.values[op.outputs[0]] = out
    return graph, ctx.values


def run_all(model, inputs, *, float64: bool = False) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The outputs, and every tensor computed (inputs included) keyed by tensor name (of tensors sharing a name,
    the last computed; :func:`run_indexed` keys by index)."""
    graph, values = run_indexed(model, inputs, float64=float64)
    named = {graph.tensors[i].name: v for i, v in values.items()}
    return [values[i] for i in graph.outputs], named


def run(model, inputs, *, float64: bool = False) -> list[np.ndarray]:
    """The output arrays of ``model`` (bytes, a path, or a loaded :class:`Graph`) run on ``inputs``."""
    return run_all(model, inputs, float64=float64)[0]
