"""RESHAPE, TRANSPOSE, PAD, PADV2, CONCATENATION, SHAPE, STRIDED_SLICE and PACK: data movement, no arithmetic.

Quantized tensors move raw: LiteRT's int8 CONCATENATION requires every input to share the output's scale and
zero point (the converter inserts requantizing ops otherwise) and int16 concatenates raw values; uint8 rescales
inputs quantized unlike the output (reference_ops::ConcatenationWithScaling); PAD fills
with the output zero point, PADV2 with its (quantized) constant input (tflite/kernels/{concatenation,pad}.cc).
SHAPE, STRIDED_SLICE and PACK (tflite/kernels/{shape,strided_slice,pack}.cc, internal/strided_slice_logic.h) are
what a dynamic-batch export (``TFLiteConverter.from_keras_model``) adds before a RESHAPE: any element type, values
moved raw (PACK's int8 / uint8 / int16 inputs share the output's quantization: LiteRT checks it, no rescaling).
"""

from __future__ import annotations

import numpy as np

from reference.tflite import fixedpoint as fx
from reference.tflite.quantization import fused_activation, saturate

F32 = np.float32


def reshape(ctx, op):
    """To the shape input's values (computed by SHAPE / PACK in a dynamic-batch export, whose stored output
    shape holds 1 for the unknown dimension), else ReshapeOptions.new_shape, else the output's stored shape;
    one ``-1`` takes the remaining size (reshape.cc GetOutputShape)."""
    x, new = ctx.value(op.inputs[0]), ctx.optional(op, 1)
    if new is None and op.options is not None and op.options.NewShapeLength():
        new = op.options.NewShapeAsNumpy()
    return x.reshape(ctx.tensor(op.outputs[0]).shape if new is None else [int(d) for d in np.ravel(new)])


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


def shape(ctx, op):
    """The input's dimensions, as the output's type (int32 or int64, ShapeOptions.out_type)."""
    return np.asarray(ctx.value(op.inputs[0]).shape, ctx.tensor(op.outputs[0]).dtype)


def _slice_spec(op, begin, end, strides) -> tuple:
    """StridedSliceOptions as a numpy index, one entry per spec position ``i`` (bit ``1 << i`` of each mask):
    ellipsis → ``...``; new axis → ``None``; shrink → the integer ``begin[i]`` (negative counts from the end);
    else ``slice(begin[i], end[i], strides[i])`` with a ``begin_mask`` / ``end_mask`` bit dropping that bound (the
    whole axis in the stride's direction); ``offset``: ``end[i]`` is relative, ``begin[i] + end[i]``. Bounds wrap
    once if negative and clamp to ``[0, dim]`` (``[-1, dim - 1]`` for negative strides), as numpy slices do (Start-
    / StopForAxis); axes past the spec are kept whole."""
    o, index = op.options, []
    offset = bool(o.Offset()) if hasattr(o, "Offset") else False
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if o.EllipsisMask() & bit:
            index.append(Ellipsis)
        elif o.NewAxisMask() & bit:
            index.append(None)
        elif o.ShrinkAxisMask() & bit:
            index.append(b)
        else:
            index.append(slice(None if o.BeginMask() & bit else b,
                               None if o.EndMask() & bit else (b + e if offset else e), s))
    return tuple(index)


def strided_slice(ctx, op):
    begin, end, strides = (ctx.value(i).astype(np.int64).tolist() for i in op.inputs[1:4])
    if 0 in strides:
        raise ValueError(f"reference.tflite: {op.name} with a zero stride")
    x = ctx.value(op.inputs[0])
    return np.array(x[_slice_spec(op, begin, end, strides)], dtype=x.dtype)


def pack(ctx, op):
    """``np.stack`` of the inputs along ``PackOptions.axis`` (negative: from the end of the output's rank)."""
    return np.stack([ctx.value(i) for i in op.inputs], axis=op.options.Axis())


KERNELS = {"RESHAPE": reshape, "TRANSPOSE": transpose, "PAD": pad, "PADV2": pad, "CONCATENATION": concatenation,
           "SHAPE": shape, "STRIDED_SLICE": strided_slice, "PACK": pack}
