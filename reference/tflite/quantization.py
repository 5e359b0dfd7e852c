"""Quantization spec helpers shared by the kernels, and the QUANTIZE / DEQUANTIZE ops.

``real = scale * (q - zero_point)``. Fused activations (tflite/kernels/kernel_util.cc,
CalculateActivationRangeQuantized): the output is clamped to ``[Q(lo), Q(hi)]`` inside the type's range,
``Q(f) = zp + round_half_away(float32(f) / float32(scale))`` (RELU: ``[Q(0), max]``, RELU6: ``[Q(0), Q(6)]``,
RELU_N1_TO_1: ``[Q(-1), Q(1)]``); float kernels clamp to ``[lo, hi]``.
"""

from __future__ import annotations

import numpy as np

from reference.tflite import fixedpoint as fx

_FUSED_BOUNDS = {0: (None, None), 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}  # NONE, RELU, RELU_N1_TO_1, RELU6


def _bounds(code):
    if code not in _FUSED_BOUNDS:
        raise NotImplementedError(f"reference.tflite: fused activation {code} is not supported")
    return _FUSED_BOUNDS[code]


def fused_activation(x, code):
    """Clamp a float result by the fused activation ``code`` (the ActivationFunctionType enum)."""
    low, high = _bounds(code)
    return x if low is None else np.clip(x, low, high)


def _quantized(value: float, tensor) -> int:
    """``zp + round_half_away(float32(value) / float32(scale))``."""
    return int(tensor.zero_point[0]) + int(fx.round_half_away(np.float32(value) / np.float32(tensor.scale[0])))


def activation_range(code, tensor, low=None, high=None) -> tuple[int, int]:
    """Integer clamp bounds of a fused activation ``code`` (or of explicit real ``low`` / ``high``)."""
    if code is not None:
        low, high = _bounds(code)
    info = np.iinfo(tensor.dtype)
    lo = info.min if low is None else max(info.min, _quantized(low, tensor))
    hi = info.max if high is None else min(info.max, _quantized(high, tensor))
    return lo, hi


def saturate(values, tensor, bounds=None):
    """``values`` clamped to ``bounds`` (default: the range of ``tensor``'s type) and cast to that type."""
    info = np.iinfo(tensor.dtype)
    return np.clip(values, *(bounds or (info.min, info.max))).astype(tensor.dtype)


def centred(tensor, value):
    """``q - zero_point`` as int64."""
    return np.asarray(value, np.int64) - int(tensor.zero_point[0])


def f32_ratio(*scales) -> np.float64:
    """``s1 / s2`` (or ``s1 * s2 / s3``) evaluated in float32 then widened, as kernels that compute
    ``input->params.scale * ... / output->params.scale`` on floats do."""
    *numerator, denominator = (np.float32(s) for s in scales)
    return np.float64(np.prod(numerator, dtype=np.float32) / denominator)


def quantize(ctx, op):
    """float → int: ``round_half_away(x / float32(scale)) + zp`` (AffineQuantize); int → int: requantize,
    ``multiply(q - zp_in, m, shift) + zp_out`` with ``m`` from ``double(s_in) / double(s_out)`` (Requantize)."""
    x_t, out_t, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])
    if out_t.scale.size != 1:
        raise NotImplementedError("reference.tflite: per-axis QUANTIZE is not supported")
    if not x_t.quantized:
        q = fx.round_half_away(np.asarray(x, np.float32) / np.float32(out_t.scale[0]))
        return saturate(q + int(out_t.zero_point[0]), out_t)
    m, shift = fx.quantize_multiplier(np.float64(x_t.scale[0]) / np.float64(out_t.scale[0]))
    return saturate(fx.multiply(centred(x_t, x), m, shift) + int(out_t.zero_point[0]), out_t)


def dequantize(ctx, op):
    """int → float: ``float32(double(scale) * (q - zp))``; float16 constants are widened."""
    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    if not x_t.quantized:
        return ctx.float_out(x)
    if x_t.scale.size != 1:
        raise NotImplementedError("reference.tflite: per-axis DEQUANTIZE is not supported")
    return ctx.float_out(np.float64(x_t.scale[0]) * centred(x_t, x))


KERNELS = {"QUANTIZE": quantize, "DEQUANTIZE": dequantize}
