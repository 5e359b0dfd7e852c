"""CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED.

float: CONV_2D and FULLY_CONNECTED on float32 as reference_ops::Conv / FullyConnected sum, in float32 tap by
tap then ``+ bias`` (:func:`f32_sum_of_products`, bit-exact); otherwise, and in float64 mode, :mod:`reference.nn`
on float64, ``+ bias``; then the fused activation. Quantized (int8, int16 activations with int8 weights, or legacy
uint8 activations and weights): ``acc = Σ (w - zp_w) * (x - zp_in)`` over in-image taps ``+ bias``, computed
exactly, then per output channel ``c`` requantized with ``s_in * s_w[c] / s_out`` (:func:`output_multiplier`) and
clamped to the fused activation's range. Sources: tflite/kernels/internal/reference/{conv,fully_connected}.h,
reference/integer_ops/{conv,depthwise_conv,transpose_conv,fully_connected}.h, kernel_util.cc
(PopulateConvolutionQuantizationParams, GetQuantizedConvolutionMultipler).
Dynamic-range (hybrid) models: float input, int8 weights; the weights as the model holds them,
``s_w[c] * (w - zp[c])`` per channel, in float64 (the kernels' on-the-fly input quantization is not
modelled: this is the model's exact float meaning).
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.tflite import fixedpoint as fx
from reference.tflite.quantization import activation_range, centred, fused_activation, saturate
from reference.windows import windows

PADDING = {0: "SAME", 1: "VALID"}
_PATCH_ELEMENTS = 1 << 22  # im2col block size (elements) for the integer convolution


def _exact_float(x, w):
    """A float type in which ``x @ w`` (integer-valued, ``w`` 2-D) is exact whatever the summation order:
    every partial sum is bounded by ``max|x| * max_col Σ|w|``; float32 is exact below 2^24, float64 below 2^53."""
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).sum(axis=0).max(initial=0))
    if bound < 2**24:
        return np.float32
    if bound < 2**53:
        return np.float64
    raise OverflowError(f"reference.tflite: accumulator bound {bound:.3g} exceeds 2^53")


def exact_matmul(x, w):
    """``x @ w`` of integer arrays, exactly, as int64 (BLAS in the smallest exact float type)."""
    dtype = _exact_float(x, w)
    return (np.asarray(x, dtype) @ np.asarray(w, dtype)).astype(np.int64)


def integer_conv2d(x, w, strides, padding, dilations):
    """``Σ_{i,j,c} x[n, h*sh + i*dh, w*sw + j*dw, c] * w[i,j,c,o]`` of integer NHWC ``x`` (zero-padded) and
    HWIO ``w``, as int64: im2col blocks of the window view times the flattened filters."""
    kh, kw, _, out_channels = w.shape
    flat_w = w.reshape(-1, out_channels)
    dtype = _exact_float(x, flat_w)
    view = windows(np.asarray(x, dtype), (kh, kw), strides, dilations, padding)  # [N, OH, OW, C, KH, KW]
    n, oh, ow = view.shape[:3]
    flat_w = flat_w.astype(dtype)
    out = np.empty((n, oh, ow, out_channels), np.int64)
    rows = max(1, _PATCH_ELEMENTS // (ow * flat_w.shape[0]))
    for b in range(n):
        for top in range(0, oh, rows):
            patches = view[b, top: top + rows].transpose(0, 1, 3, 4, 2).reshape(-1, flat_w.shape[0])
            out[b, top: top + rows] = (patches @ flat_w).reshape(-1, ow, out_channels)
    return out


def output_multiplier(x_t, w_t, out_t):
    """The effective output scale per output channel: ``double(s_in) * double(s_w[c]) / double(s_out)``
    (PopulateConvolutionQuantizationParams); legacy uint8 (one channel): ``double(float32(s_in * s_w)) /
    double(s_out)`` (GetQuantizedConvolutionMultipler multiplies the scales in float32)."""
    if x_t.dtype == np.uint8:
        return np.float64(np.float32(x_t.scale[0]) * w_t.scale) / np.float64(out_t.scale[0])
    return np.float64(x_t.scale[0]) * w_t.scale.astype(np.float64) / np.float64(out_t.scale[0])


def f32_sum_of_products(pairs, shape):
    """``Σ_t a_t * b_t`` over the ``(a_t, b_t)`` of ``pairs`` in float32, from ``0.0f``, in order: one rounding per
    product and per addition, as the float loops of reference_ops::Conv and FullyConnected accumulate."""
    total = np.zeros(shape, np.float32)
    for a, b in pairs:
        total += np.asarray(a, np.float32) * np.asarray(b, np.float32)
    return total


def f32_conv2d(x, w, strides, padding, dilations):
    """Float CONV_2D as reference_ops::Conv: per output, taps in ``(kh, kw, c_in)`` order summed by
    :func:`f32_sum_of_products` (zero padding adds ``±0``, which leaves every sum unchanged)."""
    kh, kw, channels, out_channels = w.shape
    view = windows(np.asarray(x, np.float32), (kh, kw), strides, dilations, padding)  # [N, OH, OW, C, KH, KW]
    taps = ((view[..., c, i, j, None], w[i, j, c]) for i in range(kh) for j in range(kw) for c in range(channels))
    return f32_sum_of_products(taps, view.shape[:3] + (out_channels,))


def _f32_result(total, bias, activation):
    """The kernels' ``total + bias_value`` in float32, then the fused activation."""
    return fused_activation(total if bias is None else total + bias.astype(np.float32), activation)


def _requantize(acc, x_t, w_t, out_t, activation):
    """Per-channel MultiplyByQuantizedMultiplier (int16 activations: its int64 overload) ``+ zp_out``, clamped."""
    multiplier, shift = fx.quantize_multiplier(output_multiplier(x_t, w_t, out_t))
    rounding = fx.multiply_int64 if x_t.dtype == np.int16 else fx.multiply
    out = rounding(acc, multiplier, shift) + int(out_t.zero_point[0])
    return saturate(out, out_t, activation_range(activation, out_t))


def weights(ctx, index, x_t):
    """A weight tensor's values: raw integers when the op's input ``x_t`` is quantized; else floats, quantized
    weights dequantized per channel (a dynamic-range model)."""
    w_t, w = ctx.tensor(index), ctx.value(index)
    if x_t.quantized or not w_t.quantized:
        return w
    shape = [-1 if axis == w_t.axis else 1 for axis in range(w.ndim)]
    return w_t.scale.astype(np.float64).reshape(shape) * (w.astype(np.float64) - w_t.zero_point.reshape(shape))


def _conv(ctx, op, to_hwio, float_conv, integer_conv, f32_conv=None):
    x_t, w_t, out_t = (ctx.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    x, w, bias = ctx.value(op.inputs[0]), to_hwio(weights(ctx, op.inputs[1], x_t)), ctx.optional(op, 2)
    o = op.options
    geometry = ((o.StrideH(), o.StrideW()), PADDING[o.Padding()], (o.DilationHFactor(), o.DilationWFactor()))
    if not x_t.quantized:
        if f32_conv is not None and not ctx.float64 and x.dtype == np.float32 and w.dtype == np.float32:
            return _f32_result(f32_conv(x, w, *geometry), bias, o.FusedActivationFunction())
        y = float_conv(x.astype(np.float64), w.astype(np.float64), *geometry)
        return fused_activation(ctx.float_out(y + (0 if bias is None else bias)), o.FusedActivationFunction())
    acc = integer_conv(centred(x_t, x), centred(w_t, w), *geometry)
    acc = acc + (0 if bias is None else bias.astype(np.int64))
    return _requantize(acc, x_t, w_t, out_t, o.FusedActivationFunction())


def conv_2d(ctx, op):
    """Weights ``[O, kh, kw, I]`` → HWIO. Float32 (not float64 mode): :func:`f32_conv2d`, bit-exact."""
    if ctx.tensor(op.inputs[1]).shape[3] != ctx.tensor(op.inputs[0]).shape[3]:
        raise NotImplementedError("reference.tflite: grouped CONV_2D is not supported")
    return _conv(ctx, op, lambda w: w.transpose(1, 2, 3, 0), nn.conv2d, integer_conv2d, f32_conv2d)


def depthwise_conv_2d(ctx, op):
    """Weights ``[1, kh, kw, C*M]`` → ``[kh, kw, C, M]``; output channel ``c*M + m``. Integer sums through
    :func:`reference.nn.depthwise_conv2d` in float64, exact (each is below 2^53)."""
    channels = ctx.tensor(op.inputs[0]).shape[3]

    def integer(x, w, *geometry):
        return np.rint(nn.depthwise_conv2d(x.astype(np.float64), w.astype(np.float64), *geometry)).astype(np.int64)

    return _conv(ctx, op, lambda w: w[0].reshape(w.shape[1], w.shape[2], channels, -1), nn.depthwise_conv2d, integer)


def transpose_conv(ctx, op):
    """Inputs ``[output_shape, weights [O, kh, kw, I], x, bias?]``: the adjoint of a convolution
    (:func:`reference.nn.conv2d_transpose`, exact in float64 on integers), requantized like CONV_2D."""
    out_shape = [int(v) for v in ctx.value(op.inputs[0])]
    x_t, w_t, out_t = ctx.tensor(op.inputs[2]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    x = ctx.value(op.inputs[2])
    w = weights(ctx, op.inputs[1], x_t).transpose(1, 2, 0, 3)
    bias = ctx.optional(op, 3)
    o = op.options
    geometry = ((o.StrideH(), o.StrideW()), PADDING[o.Padding()])
    if not x_t.quantized:
        y = nn.conv2d_transpose(x.astype(np.float64), w.astype(np.float64), out_shape, *geometry)
        return fused_activation(ctx.float_out(y + (0 if bias is None else bias)), o.FusedActivationFunction())
    acc = nn.conv2d_transpose(centred(x_t, x).astype(np.float64), centred(w_t, w).astype(np.float64), out_shape,
                              *geometry)
    acc = np.rint(acc).astype(np.int64) + (0 if bias is None else bias.astype(np.int64))
    return _requantize(acc, x_t, w_t, out_t, o.FusedActivationFunction())


def fully_connected(ctx, op):
    """Weights ``[O, I]``, input flattened to ``[-1, I]``. Quantized requantization is in floating point here
    (reference FullyConnected / FullyConnectedPerChannel with scales; uint8 too, measured: not
    MultiplyByQuantizedMultiplier): ``round_half_away(double(acc) * (double(s_in) * double(s_w[c]) / double(s_out)))
    + zp_out``."""
    x_t, w_t, out_t = (ctx.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    x, w, bias = ctx.value(op.inputs[0]), weights(ctx, op.inputs[1], x_t), ctx.optional(op, 2)
    rows, activation = x.reshape(-1, w.shape[1]), op.options.FusedActivationFunction()
    if not x_t.quantized:
        if not ctx.float64 and rows.dtype == np.float32 and w.dtype == np.float32:
            y = f32_sum_of_products(((rows[:, d, None], w[:, d]) for d in range(w.shape[1])), (len(rows), len(w)))
            return _f32_result(y, bias, activation).reshape(out_t.shape)
        y = rows.astype(np.float64) @ w.astype(np.float64).T + (0 if bias is None else bias)
        return fused_activation(ctx.float_out(y), activation).reshape(out_t.shape)
    acc = exact_matmul(centred(x_t, rows), centred(w_t, w).T) + (0 if bias is None else bias.astype(np.int64))
    effective = np.float64(x_t.scale[0]) * w_t.scale.astype(np.float64) / np.float64(out_t.scale[0])
    out = fx.round_half_away(acc * effective) + int(out_t.zero_point[0])
    return saturate(out, out_t, activation_range(activation, out_t)).reshape(out_t.shape)


KERNELS = {"CONV_2D": conv_2d, "DEPTHWISE_CONV_2D": depthwise_conv_2d, "TRANSPOSE_CONV": transpose_conv,
           "FULLY_CONNECTED": fully_connected}
