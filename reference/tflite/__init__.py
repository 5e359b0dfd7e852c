"""A numpy executor of .tflite models.

``run(model, inputs, *, float64=False)`` returns the output arrays; ``run_all`` (same arguments) returns them
with a dict of every tensor computed, keyed by tensor name, to locate where a model's error starts
(``run_indexed``: the graph and that dict keyed by tensor index, as exported graphs repeat names). ``model``
is bytes, a path, or a :class:`Graph` from :func:`load`; ``inputs`` a list in the model's input order or a dict
keyed by input tensor name. Float graphs run in float32 semantics (each op's result rounded to float32; float32
CONV_2D and FULLY_CONNECTED sum in float32 in LiteRT's order; ``float64=True``: kept in float64, an exact reference);
int8 graphs, int16x8 graphs (16-bit activations, 8-bit weights) and legacy uint8 graphs (TF v1 converter,
asymmetric uint8 activations and weights) reproduce LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``)
bit for bit. An op without a kernel raises NotImplementedError naming it.

Modules: ``model`` (flatbuffer → :class:`Graph`; ``op_names`` alone), ``executor`` (op loop, kernel registry),
``fixedpoint`` (integer arithmetic), ``quantization`` (quantization helpers, QUANTIZE / DEQUANTIZE) and the kernels
by family: ``conv``, ``pooling``, ``activations``, ``arithmetic``, ``resize``, ``tensor_ops``.
"""

from reference.tflite.executor import KERNELS, run, run_all, run_indexed
from reference.tflite.model import Graph, load, op_names

__all__ = ["KERNELS", "Graph", "load", "op_names", "run", "run_all", "run_indexed"]
