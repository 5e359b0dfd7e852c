"""Kernels of the numpy TFLite executor: float (float32 semantics, or float64) and quantized
(int8, bit-exact with LiteRT's reference kernels, ``OpResolverType.BUILTIN_REF``).

Integer convolutions reuse the float64 references of :mod:`reference.nn` on integer-valued arrays:
every partial sum is an integer below 2^53, so float64 accumulates it exactly. Sources of truth:
tensorflow/lite/kernels/internal/reference/integer_ops/{conv,depthwise_conv,pooling,fully_connected}.h,
reference/softmax.h, kernels/{activations,dequantize,quantize,pad}.cc.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.tflite import fixedpoint as fx
from reference.windows import windows

_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


class Context:
    """Tensor values by index, and whether float ops compute in float64."""

    def __init__(self, graph, float64: bool):
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

    def float_out(self, x):
        return np.asarray(x, np.float64 if self.float64 else np.float32)


def _activation_float(x, code):
    kind = _ACTIVATIONS.get(code)
    if kind is None:
        raise NotImplementedError(f"reference.tflite: fused activation {code} is not supported")
    bounds = {"NONE": (None, None), "RELU": (0, None), "RELU_N1_TO_1": (-1, 1), "RELU6": (0, 6)}[kind]
    return x if kind == "NONE" else np.clip(x, *bounds)


def _activation_range(code, tensor):
    """CalculateActivationRangeQuantized: clamp bounds ``zp + round(f / scale)`` inside the type range."""
    info = np.iinfo(tensor.dtype)
    scale, zero = np.float32(tensor.scale[0]), int(tensor.zero_point[0])

    def q(f):
        return zero + int(fx.round_half_away(np.float32(f) / scale))

    kind = _ACTIVATIONS[code]
    low = {"NONE": info.min, "RELU": q(0), "RELU6": q(0), "RELU_N1_TO_1": q(-1)}[kind]
    high = {"NONE": info.max, "RELU": info.max, "RELU6": q(6), "RELU_N1_TO_1": q(1)}[kind]
    return max(info.min, low), min(info.max, high)


def _requantize(acc, in_scale, weight_scale, out_tensor, activation, rounding=fx.multiply):
    """``clamp(rounding(acc, m_c, shift_c) + zp_out)`` with ``m_c, shift_c`` from ``s_in * s_w[c] / s_out``."""
    effective = np.float64(in_scale) * weight_scale.astype(np.float64) / np.float64(out_tensor.scale[0])
    multiplier, shift = fx.quantize_multiplier(effective)
    out = rounding(acc, multiplier, shift) + int(out_tensor.zero_point[0])
    return np.clip(out, *_activation_range(activation, out_tensor)).astype(out_tensor.dtype)


def _conv_rounding(out_tensor):
    """Convolutions requantize with double rounding; with int16 activations (int16x8) they accumulate in
    int64 and use the reduced-multiplier variant."""
    return fx.multiply_int64 if out_tensor.dtype == np.int16 else fx.multiply


def _conv_common(ctx, op, to_hwio, run):
    """CONV_2D / DEPTHWISE_CONV_2D: float via reference.nn; int8 per-channel ``Σ w * (x - zp_in) + b``."""
    x_t, w_t, out_t = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    x, w = ctx.value(op.inputs[0]), ctx.value(op.inputs[1])
    bias = ctx.value(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    o = op.options
    strides, dilations = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
    padding = _PADDING[o.Padding()]
    if not x_t.quantized:
        y = run(x.astype(np.float64), to_hwio(w.astype(np.float64)), strides, padding, dilations)
        y = ctx.float_out(y + (bias if bias is not None else 0))
        return _activation_float(y, o.FusedActivationFunction())
    acc = run(x.astype(np.float64) - x_t.zero_point[0], to_hwio(w.astype(np.float64) - w_t.zero_point[0]),
              strides, padding, dilations)
    acc = np.rint(acc).astype(np.int64) + (bias.astype(np.int64) if bias is not None else 0)
    return _requantize(acc, x_t.scale[0], w_t.scale, out_t, o.FusedActivationFunction(), _conv_rounding(out_t))


def conv_2d(ctx, op):
    """Weights ``[O, kh, kw, I]`` → HWIO."""
    return _conv_common(ctx, op, lambda w: w.transpose(1, 2, 3, 0), nn.conv2d)


def depthwise_conv_2d(ctx, op):
    """Weights ``[1, kh, kw, C*M]`` → ``[kh, kw, C, M]``; output channel ``c*M + m``."""
    channels = ctx.tensor(op.inputs[0]).shape[3]
    return _conv_common(ctx, op, lambda w: w[0].reshape(w.shape[1], w.shape[2], channels, -1), nn.depthwise_conv2d)


def transpose_conv(ctx, op):
    """Inputs ``[output_shape, weights [O, kh, kw, I], x, bias?]``: the adjoint of conv2d
    (:func:`reference.nn.conv2d_transpose`); int8 ``Σ (x - zp_in) * w`` scattered, ``+ b``, requantized
    per output channel."""
    out_shape = [int(v) for v in ctx.value(op.inputs[0])]
    x_t, w_t, out_t = ctx.tensor(op.inputs[2]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    x, w = ctx.value(op.inputs[2]), ctx.value(op.inputs[1])
    bias = ctx.value(op.inputs[3]) if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
    o = op.options
    strides, padding = (o.StrideH(), o.StrideW()), _PADDING[o.Padding()]
    activation = o.FusedActivationFunction()
    if not x_t.quantized:
        y = nn.conv2d_transpose(x.astype(np.float64), w.astype(np.float64).transpose(1, 2, 0, 3), out_shape,
                                strides, padding)
        return _activation_float(ctx.float_out(y + (bias if bias is not None else 0)), activation)
    acc = nn.conv2d_transpose(x.astype(np.float64) - x_t.zero_point[0],
                              (w.astype(np.float64) - w_t.zero_point[0]).transpose(1, 2, 0, 3), out_shape, strides,
                              padding)
    acc = np.rint(acc).astype(np.int64) + (bias.astype(np.int64) if bias is not None else 0)
    return _requantize(acc, x_t.scale[0], w_t.scale, out_t, activation, _conv_rounding(out_t))


def _resize_flags(op):
    return bool(op.options.AlignCorners()), bool(op.options.HalfPixelCenters())


def resize_nearest_neighbor(ctx, op):
    """Index selection, same rule as TF's (reference.resize_v1 'nearest'); any dtype."""
    from reference.resize import resize_v1

    align, half = _resize_flags(op)
    size = [int(v) for v in ctx.value(op.inputs[1])]
    return resize_v1(ctx.value(op.inputs[0]), size, "nearest", align_corners=align, half_pixel_centers=half)


def _q10_plan(n_in: int, n_out: int, align: bool, half: bool):
    """ResizeBilinearInteger's Q10 coordinates: ``s10 = (1024*in + out/2) / out`` (align:
    ``(1024*(in-1) + (out-1)/2) / (out-1)``), ``v = i*s10 + s10/2 - 512`` (half) or ``i*s10``;
    ``lo = max(v / 1024, 0)``, ``hi = min((v + 1023) / 1024, in-1)``, C integer division."""
    def cdiv(a, b):
        return np.where(a >= 0, a // b, -((-a) // b))

    s10 = ((1024 * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1) if align and n_out > 1
           else (1024 * n_in + n_out // 2) // n_out)
    i = np.arange(n_out, dtype=np.int64)
    v = i * s10 + s10 // 2 - 512 if half else i * s10
    lo = np.maximum(cdiv(v, 1024), 0)
    hi = np.minimum(cdiv(v + 1023, 1024), n_in - 1)
    return lo, hi, v - 1024 * lo


def resize_bilinear(ctx, op):
    """float: reference.resize_v1 bilinear; int8: TFLite's Q10 path, ``Σ q * wy * wx`` over the four
    neighbours in int64, then ``(acc ± 2^19) / 2^20`` truncated (quantization unchanged)."""
    from reference.resize import resize_v1

    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    align, half = _resize_flags(op)
    size = [int(v) for v in ctx.value(op.inputs[1])]
    if not x_t.quantized:
        return ctx.float_out(resize_v1(x, size, "bilinear", align_corners=align, half_pixel_centers=half))
    y0, y1, dy = _q10_plan(x.shape[1], size[0], align, half)
    x0, x1, dx = _q10_plan(x.shape[2], size[1], align, half)
    q = x.astype(np.int64)
    wy0, wy1 = (1024 - dy)[None, :, None, None], dy[None, :, None, None]
    wx0, wx1 = (1024 - dx)[None, None, :, None], dx[None, None, :, None]
    acc = (q[:, y0][:, :, x0] * wy0 * wx0 + q[:, y1][:, :, x0] * wy1 * wx0
           + q[:, y0][:, :, x1] * wy0 * wx1 + q[:, y1][:, :, x1] * wy1 * wx1)
    total = acc + np.where(acc > 0, 2**19, -(2**19))
    return np.where(total >= 0, total // 2**20, -((-total) // 2**20)).astype(x.dtype)


def _pool_windows(ctx, op, x, pad_value):
    o = op.options
    return windows(x, (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()), 1,
                   _PADDING[o.Padding()], pad_value=pad_value)


def max_pool_2d(ctx, op):
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    y = _pool_windows(ctx, op, x.astype(np.float64), -np.inf).max(axis=(-2, -1))
    if not x_t.quantized:
        return _activation_float(ctx.float_out(y), op.options.FusedActivationFunction())
    return np.clip(y, *_activation_range(op.options.FusedActivationFunction(), out_t)).astype(out_t.dtype)


def average_pool_2d(ctx, op):
    """int8: ``Σ q`` over in-image taps, divided by their count rounding half away from zero."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    total = _pool_windows(ctx, op, x.astype(np.float64), 0).sum(axis=(-2, -1))
    count = _pool_windows(ctx, op, np.ones((1,) + x.shape[1:3] + (1,)), 0).sum(axis=(-2, -1))
    if not x_t.quantized:
        return _activation_float(ctx.float_out(total / count), op.options.FusedActivationFunction())
    acc, n = np.rint(total).astype(np.int64), np.rint(count).astype(np.int64)
    rounded = np.where(acc > 0, (acc + n // 2) // n, -((n // 2 - acc) // n))
    return np.clip(rounded, *_activation_range(op.options.FusedActivationFunction(), out_t)).astype(out_t.dtype)


def _operands(ctx, op):
    return [(ctx.tensor(i), ctx.value(i)) for i in op.inputs[:2]]


def _add_sub(sign: int):
    """ADD / SUB. int8: both inputs rescaled to ``2 * max(s1, s2)`` after a left shift of 20,
    ``raw = multiply((q1 - zp1) << 20, m1, sh1) ± multiply((q2 - zp2) << 20, m2, sh2)``, then
    ``multiply(raw, m_out, sh_out) + zp_out`` with ``m_out`` from ``2 * max(s1, s2) / (2^20 * s_out)``."""

    def kernel(ctx, op):
        (a_t, a), (b_t, b) = _operands(ctx, op)
        out_t, activation = ctx.tensor(op.outputs[0]), op.options.FusedActivationFunction()
        if not a_t.quantized:
            return _activation_float(ctx.float_out(a.astype(np.float64) + sign * b.astype(np.float64)), activation)
        _int8_only(op, a_t)
        s1, s2, so = (np.float64(t.scale[0]) for t in (a_t, b_t, out_t))
        twice_max = 2 * max(s1, s2)
        scaled = []
        for t, v, s_in in ((a_t, a, s1), (b_t, b, s2)):
            m, sh = fx.quantize_multiplier(s_in / twice_max)
            scaled.append(fx.multiply((v.astype(np.int64) - t.zero_point[0]) << 20, m, sh))
        m, sh = fx.quantize_multiplier(twice_max / (2**20 * so))
        out = fx.multiply(scaled[0] + sign * scaled[1], m, sh) + int(out_t.zero_point[0])
        return np.clip(out, *_activation_range(activation, out_t)).astype(out_t.dtype)

    return kernel


def mul(ctx, op):
    """MUL. int8: ``multiply((q1 - zp1) * (q2 - zp2), m, sh) + zp_out`` with ``m`` from ``s1 * s2 / s_out``."""
    (a_t, a), (b_t, b) = _operands(ctx, op)
    out_t, activation = ctx.tensor(op.outputs[0]), op.options.FusedActivationFunction()
    if not a_t.quantized:
        return _activation_float(ctx.float_out(a.astype(np.float64) * b.astype(np.float64)), activation)
    _int8_only(op, a_t)
    acc = (a.astype(np.int64) - a_t.zero_point[0]) * (b.astype(np.int64) - b_t.zero_point[0])
    m, sh = fx.quantize_multiplier(np.float64(a_t.scale[0]) * np.float64(b_t.scale[0]) / np.float64(out_t.scale[0]))
    out = fx.multiply(acc, m, sh) + int(out_t.zero_point[0])
    return np.clip(out, *_activation_range(activation, out_t)).astype(out_t.dtype)


def concatenation(ctx, op):
    """Along ``axis``; an int8 input whose (scale, zero point) differs from the output's is requantized as
    the reference kernel does, ``round(q * s_in / s_out - zp_in * s_in / s_out) + zp_out`` in float32."""
    out_t = ctx.tensor(op.outputs[0])
    parts = []
    for i in op.inputs:
        t, v = ctx.tensor(i), ctx.value(i)
        if t.quantized and (t.scale[0] != out_t.scale[0] or t.zero_point[0] != out_t.zero_point[0]):
            scale = np.float32(t.scale[0]) * (np.float32(1) / np.float32(out_t.scale[0]))
            bias = np.float32(-t.zero_point[0]) * scale
            q = fx.round_half_away(v.astype(np.float32) * scale + bias) + out_t.zero_point[0]
            v = np.clip(q, np.iinfo(out_t.dtype).min, np.iinfo(out_t.dtype).max).astype(out_t.dtype)
        parts.append(v)
    out = np.concatenate(parts, axis=op.options.Axis())
    return out if out_t.quantized else _activation_float(ctx.float_out(out), op.options.FusedActivationFunction())


def prelu(ctx, op):
    """PRELU: ``x >= 0 ? x : alpha * x``. int8: ``multiply(q - zp, m1, sh1)`` (``s_in / s_out``) for
    ``q >= zp``, else ``multiply((q - zp) * (a - zp_a), m2, sh2)`` (``s_in * s_a / s_out``); ``+ zp_out``."""
    (x_t, x), (a_t, alpha) = _operands(ctx, op)
    out_t = ctx.tensor(op.outputs[0])
    if not x_t.quantized:
        x, alpha = x.astype(np.float64), alpha.astype(np.float64)
        return ctx.float_out(np.where(x >= 0, x, x * alpha))
    _int8_only(op, x_t)
    centred = x.astype(np.int64) - x_t.zero_point[0]
    so = np.float64(out_t.scale[0])
    m1, sh1 = fx.quantize_multiplier(np.float64(x_t.scale[0]) / so)
    m2, sh2 = fx.quantize_multiplier(np.float64(x_t.scale[0]) * np.float64(a_t.scale[0]) / so)
    negative = fx.multiply(centred * (alpha.astype(np.int64) - a_t.zero_point[0]), m2, sh2)
    out = np.where(centred >= 0, fx.multiply(centred, m1, sh1), negative) + int(out_t.zero_point[0])
    info = np.iinfo(out_t.dtype)
    return np.clip(out, info.min, info.max).astype(out_t.dtype)


def mean(ctx, op):
    """MEAN over the axes of input 1. int8 only for a 4-D mean over axes {1, 2} (global average pooling):
    ``multiply(Σq - n*zp_in, m, sh) + zp_out`` with ``m`` from ``s_in / (s_out * n)`` (measured exact).
    Over other axes LiteRT 2.3 switches between that and a float32 path by a rule not pinned down here,
    so those are refused rather than guessed."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    axes = tuple(sorted({int(a) % x.ndim for a in np.atleast_1d(ctx.value(op.inputs[1]))}))
    keep = bool(op.options.KeepDims())
    if not x_t.quantized:
        return ctx.float_out(x.astype(np.float64).mean(axis=axes, keepdims=keep))
    _int8_only(op, x_t)
    if not (x.ndim == 4 and axes == (1, 2)):
        raise NotImplementedError(f"reference.tflite has no int8 kernel for MEAN over axes {axes} of a "
                                  f"{x.ndim}-D tensor (only 4-D over (1, 2))")
    n = x.shape[1] * x.shape[2]
    total = x.astype(np.int64).sum(axis=axes, keepdims=keep)
    m, sh = fx.quantize_multiplier(np.float64(x_t.scale[0]) / (np.float64(out_t.scale[0]) * n))
    out = fx.multiply(total - n * int(x_t.zero_point[0]), m, sh) + int(out_t.zero_point[0])
    info = np.iinfo(out_t.dtype)
    return np.clip(out, info.min, info.max).astype(out_t.dtype)


def _int8_only(op, tensor):
    if tensor.dtype != np.int8:
        raise NotImplementedError(f"reference.tflite has no {tensor.dtype.__name__} kernel for {op.name}")


def softmax(ctx, op):
    """int8 (LiteRT 2.3, every resolver): ``e[k] = expf(-s_in * beta * k)`` for ``k = max - q``; float sum in
    index order; ``q_out = lround(e * 1 / (sum * s_out)) + zp_out``, clamped."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    beta = op.options.Beta()
    if not x_t.quantized:
        return ctx.float_out(nn.softmax(x.astype(np.float64), axis=-1, beta=beta))
    _int8_only(op, x_t)
    q = x.astype(np.int64)
    table = np.exp(np.float32(-x_t.scale[0] * np.float32(beta)) * np.arange(256, dtype=np.float32)).astype(np.float32)
    e = table[q.max(axis=-1, keepdims=True) - q]
    total = np.zeros(e.shape[:-1] + (1,), np.float32)
    for j in range(e.shape[-1]):  # float32 running sum in index order, as the kernel does
        total = total + e[..., j:j + 1]
    inverse = np.float32(1) / (total * np.float32(out_t.scale[0]))
    out = fx.round_half_away(e * inverse).astype(np.int64) + int(out_t.zero_point[0])
    info = np.iinfo(out_t.dtype)
    return np.clip(out, info.min, info.max).astype(out_t.dtype)


def quantize(ctx, op):
    """float → int: ``round_half_away(x / scale) + zp`` (float32 division), clamped."""
    out_t, x = ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    if ctx.tensor(op.inputs[0]).quantized:
        raise NotImplementedError("reference.tflite: QUANTIZE from an integer tensor (requantize) is not supported")
    q = fx.round_half_away(x.astype(np.float32) / np.float32(out_t.scale[0])) + out_t.zero_point[0]
    info = np.iinfo(out_t.dtype)
    return np.clip(q, info.min, info.max).astype(out_t.dtype)


def dequantize(ctx, op):
    """int → float: ``float32(double(scale) * (q - zp))``; float16 constants are widened."""
    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    if not x_t.quantized:
        return ctx.float_out(x)
    return ctx.float_out(np.float64(x_t.scale[0]) * (x.astype(np.int64) - x_t.zero_point[0]))


def reshape(ctx, op):
    return ctx.value(op.inputs[0]).reshape(ctx.tensor(op.outputs[0]).shape)


def transpose(ctx, op):
    return np.transpose(ctx.value(op.inputs[0]), ctx.value(op.inputs[1]).astype(np.int64))


def pad(ctx, op):
    """Zero padding; quantized tensors pad with the zero point (PADV2: with its constant input)."""
    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    widths = ctx.value(op.inputs[1]).astype(np.int64)
    if len(op.inputs) > 2:
        fill = ctx.value(op.inputs[2]).reshape(())
    else:
        fill = x_t.zero_point[0] if x_t.quantized else 0
    return np.pad(x, widths, constant_values=fill)


def fully_connected(ctx, op):
    """Weights ``[O, I]``; input flattened to ``[-1, I]``; ``Σ w * (x - zp_in) + b``, requantized with a single
    rounding for int8 and int16 activations alike (unlike the convolutions; see fixedpoint.multiply_single)."""
    x_t, w_t, out_t = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    x, w = ctx.value(op.inputs[0]), ctx.value(op.inputs[1])
    bias = ctx.value(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    rows = x.reshape(-1, w.shape[1]).astype(np.float64)
    if not x_t.quantized:
        y = rows @ w.astype(np.float64).T + (bias if bias is not None else 0)
        return _activation_float(ctx.float_out(y), op.options.FusedActivationFunction()).reshape(out_t.shape)
    acc = np.rint((rows - x_t.zero_point[0]) @ (w.astype(np.float64) - w_t.zero_point[0]).T).astype(np.int64)
    acc = acc + (bias.astype(np.int64) if bias is not None else 0)
    out = _requantize(acc, x_t.scale[0], w_t.scale, out_t, op.options.FusedActivationFunction(), fx.multiply_single)
    return out.reshape(out_t.shape)


def _relu_family(low, high):
    """float: clamp; int8: ``clamp(zp_out + multiply(q - zp_in, m, shift))`` with ``m`` from ``s_in / s_out``
    and the clamp at the quantized ``low`` / ``high``."""

    def kernel(ctx, op):
        x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
        if not x_t.quantized:
            return ctx.float_out(np.clip(x, low, high))
        _int8_only(op, x_t)  # int16 RELU6 matched no candidate rounding exactly (1 in ~3,300 outputs)
        multiplier, shift = fx.quantize_multiplier(np.float64(x_t.scale[0]) / np.float64(out_t.scale[0]))
        out = int(out_t.zero_point[0]) + fx.multiply(x.astype(np.int64) - x_t.zero_point[0], multiplier, shift)
        info, scale, zero = np.iinfo(out_t.dtype), np.float32(out_t.scale[0]), int(out_t.zero_point[0])
        lo = info.min if low is None else max(info.min, zero + int(fx.round_half_away(np.float32(low) / scale)))
        hi = info.max if high is None else min(info.max, zero + int(fx.round_half_away(np.float32(high) / scale)))
        return np.clip(out, lo, hi).astype(out_t.dtype)

    return kernel


def _elementwise(fn):
    """LOGISTIC / TANH. int8 (every LiteRT 2.3 path): a 256-entry table,
    ``q_out = round_half_away(f(s_in * (q - zp_in)) / s_out) + zp_out`` in float32, clamped (measured:
    all 256 inputs agree on the reference, builtin and XNNPACK kernels)."""

    def kernel(ctx, op):
        x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
        if not x_t.quantized:
            return ctx.float_out(fn(x.astype(np.float64)))
        _int8_only(op, x_t)
        real = np.float32(x_t.scale[0]) * (np.arange(-128, 128, dtype=np.float32) - np.float32(x_t.zero_point[0]))
        table = fx.round_half_away(fn(real).astype(np.float32) / np.float32(out_t.scale[0])) + out_t.zero_point[0]
        return np.clip(table, -128, 127).astype(np.int8)[x.astype(np.int64) + 128]

    return kernel


KERNELS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "TRANSPOSE_CONV": transpose_conv,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "RESIZE_BILINEAR": resize_bilinear,
    "MAX_POOL_2D": max_pool_2d,
    "AVERAGE_POOL_2D": average_pool_2d,
    "SOFTMAX": softmax,
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
    "ADD": _add_sub(1),
    "SUB": _add_sub(-1),
    "MUL": mul,
    "CONCATENATION": concatenation,
    "MEAN": mean,
    "PRELU": prelu,
    "RESHAPE": reshape,
    "TRANSPOSE": transpose,
    "PAD": pad,
    "PADV2": pad,
    "FULLY_CONNECTED": fully_connected,
    "RELU": _relu_family(0, None),
    "RELU6": _relu_family(0, 6),
    "RELU_N1_TO_1": _relu_family(-1, 1),
    "LOGISTIC": _elementwise(nn.sigmoid),
    "TANH": _elementwise(nn.tanh),
}
