"""RESHAPE, TRANSPOSE, PAD, PADV2 and CONCATENATION: data movement, no arithmetic.

Quantized tensors move raw: LiteRT's int8 CONCATENATION requires every input to share the output's scale and
zero point (the converter inserts requantizing ops otherwise) and int16 concatenates raw values; PAD fills
with the output zero point, PADV2 with its (quantized) constant input (tflite/kernels/{concatenation,pad}.cc).
"""

from __future__ import annotations

import numpy as np

from reference.tflite.quantization import fused_activation


def reshape(ctx, op):
    return ctx.value(op.inputs[0]).reshape(ctx.tensor(op.outputs[0]).shape)


def transpose(ctx, op):
    return np.transpose(ctx.value(op.inputs[0]), ctx.value(op.inputs[1]).astype(np.int64))


def pad(ctx, op):
    x_t, x, fill = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0]), ctx.optional(op, 2)
    if fill is None:
        fill = ctx.tensor(op.outputs[0]).zero_point[0] if x_t.quantized else 0
    return np.pad(x, ctx.value(op.inputs[1]).astype(np.int64), constant_values=np.asarray(fill).reshape(()))


def concatenation(ctx, op):
    out = np.concatenate([ctx.value(i) for i in op.inputs], axis=op.options.Axis())
    if ctx.tensor(op.outputs[0]).quantized:
        return out
    return fused_activation(ctx.float_out(out), op.options.FusedActivationFunction())


KERNELS = {"RESHAPE": reshape, "TRANSPOSE": transpose, "PAD": pad, "PADV2": pad, "CONCATENATION": concatenation}
