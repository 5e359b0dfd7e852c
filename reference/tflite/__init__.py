"""A numpy executor of .tflite models: ``run(model, inputs)``.

Float graphs run in float32 semantics (``float64=True``: in float64, an exact reference); int8
graphs reproduce LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``) bit for bit. Inputs
are given in the model's input order. ``run_all`` also returns every intermediate tensor by name,
to locate where a model's error starts. An op without a kernel raises NotImplementedError naming it.
"""

from __future__ import annotations

import numpy as np

from reference.tflite.kernels import KERNELS, Context
from reference.tflite.model import Graph, load


def run_all(model, inputs, *, float64: bool = False) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The outputs, and every tensor computed (inputs included) keyed by tensor name."""
    graph = model if isinstance(model, Graph) else load(model)
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"model takes {len(graph.inputs)} inputs, got {len(inputs)}")
    ctx = Context(graph, float64)
    for index, value in zip(graph.inputs, inputs):
        tensor = graph.tensors[index]
        value = np.asarray(value)
        if tuple(value.shape) != tensor.shape:
            raise ValueError(f"input {tensor.name!r} has shape {tensor.shape}, got {value.shape}")
        ctx.values[index] = value.astype(tensor.dtype) if not float64 else value
    for op in graph.operators:
        kernel = KERNELS.get(op.name)
        if kernel is None:
            raise NotImplementedError(f"reference.tflite has no kernel for builtin op {op.name}")
        ctx.values[op.outputs[0]] = kernel(ctx, op)
    named = {graph.tensors[i].name: v for i, v in ctx.values.items()}
    return [ctx.values[i] for i in graph.outputs], named


def run(model, inputs, *, float64: bool = False) -> list[np.ndarray]:
    """Run ``model`` (bytes, a path, or a loaded :class:`Graph`) on ``inputs``; the output arrays."""
    return run_all(model, inputs, float64=float64)[0]


__all__ = ["Graph", "load", "run", "run_all"]
