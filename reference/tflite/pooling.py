"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN.

Sources: tflite/kernels/internal/reference/integer_ops/pooling.h (int8 and int16 alike),
reference/reduce.h (QuantizedMeanOrSum), kernels/reduce.cc.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.tflite import fixedpoint as fx
from reference.tflite.conv import PADDING
from reference.tflite.quantization import activation_range, fused_activation, saturate
from reference.windows import windows


def _geometry(op):
    o = op.options
    return (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()), PADDING[o.Padding()]


def max_pool_2d(ctx, op):
    """Quantized: the largest raw ``q`` over in-image taps, clamped to the fused activation's range."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    (ksize, strides, padding), activation = _geometry(op), op.options.FusedActivationFunction()
    if not x_t.quantized:
        return fused_activation(ctx.float_out(nn.max_pool2d(x, ksize, strides, padding)), activation)
    y = windows(x, ksize, strides, 1, padding, pad_value=np.iinfo(x.dtype).min).max(axis=(-2, -1))
    return saturate(y, out_t, activation_range(activation, out_t))


def average_pool_2d(ctx, op):
    """Quantized: ``Σ q`` over the ``n`` in-image taps, then ``(acc + n/2) / n`` if ``acc > 0`` else
    ``(acc - n/2) / n``, C division (halves away from zero), clamped."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    (ksize, strides, padding), activation = _geometry(op), op.options.FusedActivationFunction()
    if not x_t.quantized:
        return fused_activation(ctx.float_out(nn.avg_pool2d(x, ksize, strides, padding)), activation)
    acc = windows(x.astype(np.int64), ksize, strides, 1, padding).sum(axis=(-2, -1))
    n = windows(np.ones((1,) + x.shape[1:3] + (1,), np.int64), ksize, strides, 1, padding).sum(axis=(-2, -1))
    rounded = fx.trunc_div(np.where(acc > 0, acc + n // 2, acc - n // 2), n)
    return saturate(rounded, out_t, activation_range(activation, out_t))


def mean(ctx, op):
    """MEAN over the axes of input 1. Quantized (QuantizedMeanOrSum): ``m, shift`` from
    ``double(s_in) / double(s_out)``; for ``n`` reduced elements ``k = min(floor(log2 n), 32, 31 + shift)``,
    ``m' = (m << k) / n`` (integer division), ``shift' = shift - k``; then
    ``multiply(Σq - n*zp_in, m', shift') + zp_out``, saturated."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    axes = tuple(sorted({int(a) % x.ndim for a in np.atleast_1d(ctx.value(op.inputs[1]))}))
    keep = bool(op.options.KeepDims())
    if not x_t.quantized:
        return ctx.float_out(x.astype(np.float64).mean(axis=axes, keepdims=keep))
    n = int(np.prod([x.shape[a] for a in axes]))
    m, shift = (int(v) for v in fx.quantize_multiplier(np.float64(x_t.scale[0]) / np.float64(out_t.scale[0])))
    k = min(n.bit_length() - 1, 32, 31 + shift)
    m, shift = (m << k) // n, shift - k
    total = x.astype(np.int64).sum(axis=axes, keepdims=keep) - n * int(x_t.zero_point[0])
    return saturate(fx.multiply(total, m, shift) + int(out_t.zero_point[0]), out_t)


KERNELS = {"MAX_POOL_2D": max_pool_2d, "AVERAGE_POOL_2D": average_pool_2d, "MEAN": mean}
