"""Frozen TF1 graphs (a ``GraphDef`` whose weights are constants, e.g. ``mtcnn.pb``): reading one, running it in
TensorFlow, converting it with the v1 converter, and the legacy uint8 quantization.

- :class:`FrozenGraph`: the GraphDef with its input arrays (placeholders), output arrays (nodes) and input
  shapes; TF lanes run ``import_graph_def`` pruned to those arrays (``tf.compat.v1.wrap_function``); converted
  lanes use ``tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb, inputs, outputs, input_shapes)``.
- :func:`freeze`: any TF function as a frozen graph (``convert_variables_to_constants_v2``), so the v1 converter's
  legacy uint8 path applies to every model.
- uint8 (``inference_type = tf.uint8``, asymmetric per-tensor uint8 activations and weights): ranges either
  calibrated, a ``FakeQuantWithMinMaxArgs`` after every float op output with the min / max (widened to hold 0)
  seen on the calibration draws, or the dummy ``default_ranges_stats = (-1, 1)`` for every tensor without one.
  Input stats ``(mean, std)`` map ``real = (q - mean) / std``: calibrated, ``std = 255 / (hi - lo)`` and
  ``mean = -lo * std`` over the draws; dummy, ``(128, 128)`` (the range [-1, 1)).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

DUMMY_RANGE = (-1.0, 1.0)
DUMMY_INPUT_STATS = (128.0, 128.0)
# ops whose float output feeds a fused successor (conv / matmul before their BiasAdd) or carries no activation
_NO_RANGE = frozenset({"Const", "Placeholder", "Identity", "NoOp", "Conv2D", "MatMul", "DepthwiseConv2dNative",
                       "Conv2DBackpropInput"})


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen GraphDef run through ``inputs`` (placeholder names) and ``outputs`` (node names); ``source()`` gives
    its serialized bytes (read or built on first use)."""

    source: Callable[[], bytes]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @cached_property
    def graph_bytes(self) -> bytes:
        return self.source()

    def graph_def(self):
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(self.graph_bytes)
        return graph_def

    def function(self, outputs: tuple[str, ...] | None = None):
        """The graph as a TF function of its inputs, returning its ``outputs`` (default: the output arrays) as a
        list."""
        import tensorflow as tf

        graph_def = self.graph_def()
        wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        tensor = wrapped.graph.get_tensor_by_name
        pruned = wrapped.prune([tensor(f"{name}:0") for name in self.inputs],
                               [tensor(f"{name}:0") for name in outputs or self.outputs])
        return lambda *xs: list(pruned(*[tf.convert_to_tensor(x) for x in xs]))

    def converter(self, shapes: list[tuple[int, ...]] | None, graph_def=None):
        """``TFLiteConverter.from_frozen_graph`` on this graph (or ``graph_def``, e.g. with FakeQuant ranges)."""
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "graph.pb"
            path.write_bytes((graph_def or self.graph_def()).SerializeToString())
            input_shapes = None if shapes is None else {n: list(s) for n, s in zip(self.inputs, shapes)}
            return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(path), list(self.inputs),
                                                                        list(self.outputs), input_shapes)


def placeholders(graph_def) -> list[tuple[str, tuple[int, ...] | None, str]]:
    """Each placeholder's (name, shape with -1 for unknown dims or None for unknown rank, dtype name)."""
    import tensorflow as tf

    found = []
    for node in graph_def.node:
        if node.op == "Placeholder":
            shape = node.attr["shape"].shape
            dims = None if shape.unknown_rank else tuple(int(d.size) for d in shape.dim)
            found.append((node.name, dims, tf.dtypes.as_dtype(node.attr["dtype"].type).name))
    return found


def sinks(graph_def) -> list[str]:
    """Nodes no other node consumes (the candidate output arrays)."""
    consumed = {name.split(":")[0].lstrip("^") for node in graph_def.node for name in node.input}
    return [node.name for node in graph_def.node if node.name not in consumed and node.op not in ("Const", "NoOp")]


def freeze(fn, inputs: list[np.ndarray]) -> FrozenGraph:
    """``fn`` traced on ``inputs``' shapes and dtypes, variables folded into constants."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    signature = [tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)) for x in inputs]
    concrete = convert_variables_to_constants_v2(tf.function(fn, input_signature=signature).get_concrete_function())
    graph_def = concrete.graph.as_graph_def()
    blob = graph_def.SerializeToString()
    return FrozenGraph(lambda: blob, tuple(t.op.name for t in concrete.inputs),
                       tuple(t.op.name for t in concrete.outputs))


def calibrated_ranges(frozen: FrozenGraph, draws: list[list[np.ndarray]]) -> dict[str, tuple[float, float]]:
    """Per float op output that carries an activation: (min, max) over the draws, widened to hold 0."""
    import tensorflow as tf

    graph_def = frozen.graph_def()
    live, real = _fed_by(graph_def, frozen.inputs), tf.float32.as_datatype_enum
    names = tuple(node.name for node in graph_def.node if node.name in live and node.op not in _NO_RANGE
                  and "T" in node.attr and node.attr["T"].type == real)
    run = frozen.function(names)
    ranges = {name: (0.0, 0.0) for name in names}
    for draw in draws:
        for name, value in zip(names, run(*draw)):
            lo, hi = ranges[name]
            ranges[name] = (min(lo, float(np.min(value))), max(hi, float(np.max(value))))
    return {name: (lo, hi) for name, (lo, hi) in ranges.items() if hi > lo}  # a constant 0 has no range


def _fed_by(graph_def, inputs) -> set[str]:
    """Names of the nodes that depend on ``inputs`` (constant subgraphs, e.g. a reshaped bias, carry no range)."""
    live, grew = set(inputs), True
    while grew:
        before = len(live)
        live |= {node.name for node in graph_def.node
                 if any(name.split(":")[0].lstrip("^") in live for name in node.input)}
        grew = len(live) > before
    return live


def with_fake_quant(graph_def, ranges: dict[str, tuple[float, float]]):
    """A copy of ``graph_def`` with ``FakeQuantWithMinMaxArgs(min, max, 8 bits)`` taking the name of each ranged
    node (the node itself renamed ``NAME/float``), so consumers and output arrays read the ranged tensor."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    for node in graph_def.node:
        copy = out.node.add()
        copy.CopyFrom(node)
        if node.name in ranges:
            copy.name = f"{node.name}/float"
            fake = out.node.add()
            fake.name, fake.op = node.name, "FakeQuantWithMinMaxArgs"
            fake.input.append(copy.name)
            lo, hi = ranges[node.name]
            fake.attr["min"].f, fake.attr["max"].f = lo, hi
            fake.attr["num_bits"].i = 8
    return out


def input_stats(draws: list[list[np.ndarray]], count: int) -> list[tuple[float, float]]:
    """``(mean, std)`` per input from the draws' range ``[lo, hi]`` (holding 0): ``std = 255 / (hi - lo)``,
    ``mean = -lo * std``, so ``real = (q - mean) / std`` spans the range."""
    stats = []
    for position in range(count):
        lo = min(0.0, min(float(np.min(d[position])) for d in draws))
        hi = max(0.0, max(float(np.max(d[position])) for d in draws))
        std = 255.0 / ((hi - lo) or 1.0)
        stats.append((round(-lo * std), std))
    return stats


def uint8_converter(frozen: FrozenGraph, shapes, draws: list[list[np.ndarray]] | None):
    """The v1 converter set up for legacy uint8: ``draws`` calibrate every range; None: the dummy ranges."""
    import tensorflow as tf

    if draws is None:
        converter = frozen.converter(shapes)
        converter.default_ranges_stats = DUMMY_RANGE
        stats = [DUMMY_INPUT_STATS] * len(frozen.inputs)
    else:
        converter = frozen.converter(shapes, with_fake_quant(frozen.graph_def(), calibrated_ranges(frozen, draws)))
        stats = input_stats(draws, len(frozen.inputs))
    converter.inference_type = tf.uint8
    converter.quantized_input_stats = dict(zip(frozen.inputs, stats))
    return converter


def lost_shapes(requested: list[tuple[int, ...]], names, converted: list[tuple[int, ...]]) -> list[str]:
    """One line per input whose converted shape is not the shape asked for (e.g. ``onet/input`` converted to ``[]``
    when the graph's ``[-1, 48, 48, 3]`` was not pinned by ``input_shapes``)."""
    return [f"{name}: converted to {list(got)}, asked for {list(want)}"
            for name, want, got in zip(names, requested, converted) if tuple(want) != tuple(got)]
