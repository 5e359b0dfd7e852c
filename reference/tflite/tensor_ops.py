"""RESHAPE, TRANSPOSE, PAD, PADV2 and CONCATENATION: data movement, no arithmetic.

Quantized tensors move raw: LiteRT's int8 CONCATENATION requires every input to share the output's scale and
zero point (the converter inserts requantizing ops otherwise) and int16 concatenates raw values; uint8 rescales
inputs quantized unlike the output (reference_ops::ConcatenationWithScaling); PAD fills
with the output zero point, PADV2 with its (quantized) constant input (tflite/kernels/{concatenation,pad}.cc).
"""

from __future__ import annotations

import numpy as np

from reference.tflite import fixedpoint as fx
from reference.tflite.quantization import fused_activation, saturate

F32 = np.float32


def reshape(ctx, op):
    return ctx.value(op.inputs[0]).reshape(ctx.tensor(op.outputs[0]).shape)


def transpose(ctx, op):
    return np.transpose(ctx.value(op.inputs[0]), ctx.value(op.inputs[1]).astype(np.int64))


def pad(ctx, op):
    x_t, x, fill = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0]), ctx.optional(op, 2)
    if fill is None:
        fill = ctx.tensor(op.outputs[0]).zero_point[0] if x_t.quantized else 0
    return np.pad(x, ctx.value(op.inputs[1]).astype(np.int64), constant_values=np.asarray(fill).reshape(()))


def _rescaled_uint8(x_t, x, out_t):
    """ConcatenationWithScaling (uint8): an input quantized unlike the output is mapped in float32,
    ``clamp(round_half_away(q * a + b) + zp_out, 0, 255)`` with ``a = s_in * (1 / s_out)``, ``b = -zp_in * a``."""
    if x_t.scale[0] == out_t.scale[0] and x_t.zero_point[0] == out_t.zero_point[0]:
        return x
    a = F32(x_t.scale[0]) * (F32(1) / F32(out_t.scale[0]))
    b = F32(-x_t.zero_point[0]) * a
    return saturate(fx.round_half_away(x.astype(F32) * a + b) + int(out_t.zero_point[0]), out_t)


def concatenation(ctx, op):
    out_t = ctx.tensor(op.outputs[0])
    parts = [ctx.value(i) for i in op.inputs]
    if out_t.dtype == np.uint8:
        parts = [_rescaled_uint8(ctx.tensor(i), v, out_t) for i, v in zip(op.inputs, parts)]
    out = np.concatenate(parts, axis=op.options.Axis())
    if out_t.quantized:
        return out
    return fused_activation(ctx.float_out(out), op.options.FusedActivationFunction())


KERNELS = {"RESHAPE": reshape, "TRANSPOSE": transpose, "PAD": pad, "PADV2": pad, "CONCATENATION": concatenation}
