"""ADD, SUB, MUL, MINIMUM, MAXIMUM and NEG, with numpy broadcasting and fused activations.

Sources: tflite/kernels/{add,sub,mul,maximum_minimum,neg}.cc, internal/reference/{add,sub}.h,
reference/integer_ops/mul.h.
- ADD / SUB, uint8, int8 and int16 (scales not all powers of two): ``left = 20`` (8-bit) or ``15`` (int16),
  ``t = 2 * max(s1, s2)``; ``a_i = multiply((q_i - zp_i) << left, m_i, sh_i)`` with ``m_i`` from ``s_i / t``;
  the result is ``multiply(a_1 ± a_2, m, sh) + zp_out`` with ``m`` from ``t / (2^left * s_out)``, clamped.
- MUL, uint8, int8 and int16: ``multiply((q1 - zp1) * (q2 - zp2), m, sh) + zp_out`` with ``m`` from
  ``float32(s1 * s2 / s_out)``, clamped.
- MINIMUM / MAXIMUM: ``b < a ? b : a`` / ``a < b ? b : a`` (std::min / std::max) on the values as stored, raw
  integers for quantized tensors (the converter gives inputs and output one quantization); NEG: ``-x``.
"""

from __future__ import annotations

import numpy as np

from reference.tflite import fixedpoint as fx
from reference.tflite.quantization import activation_range, centred, f32_ratio, fused_activation, saturate


def _operands(ctx, op):
    return [(ctx.tensor(i), ctx.value(i)) for i in op.inputs[:2]]


def _near_power_of_two(tensor) -> bool:
    """CheckedLog2: ``|log2(scale) - round(log2(scale))| < 1e-3``, which selects the kernels' separate
    power-of-two int16 path."""
    log2 = np.log2(np.float64(tensor.scale[0]))
    return abs(log2 - np.round(log2)) < 1e-3


def _add_sub(sign: int):
    def kernel(ctx, op):
        (a_t, a), (b_t, b) = _operands(ctx, op)
        out_t, activation = ctx.tensor(op.outputs[0]), op.options.FusedActivationFunction()
        if not a_t.quantized:
            return fused_activation(ctx.float_out(a.astype(np.float64) + sign * b.astype(np.float64)), activation)
        power_of_two = all(_near_power_of_two(t) for t in (a_t, b_t, out_t))
        if a_t.dtype == np.int16 and op.options.PotScaleInt16() and power_of_two:
            raise NotImplementedError(f"reference.tflite: int16 {op.name} with power-of-two scales is not supported")
        left = 15 if a_t.dtype == np.int16 else 20
        twice_max = 2 * np.float64(max(np.float32(a_t.scale[0]), np.float32(b_t.scale[0])))
        scaled = []
        for t, v in ((a_t, a), (b_t, b)):
            m, sh = fx.quantize_multiplier(np.float64(t.scale[0]) / twice_max)
            scaled.append(fx.multiply(centred(t, v) << left, m, sh))
        m, sh = fx.quantize_multiplier(twice_max / (2**left * np.float64(out_t.scale[0])))
        out = fx.multiply(scaled[0] + sign * scaled[1], m, sh) + int(out_t.zero_point[0])
        return saturate(out, out_t, activation_range(activation, out_t))

    return kernel


def mul(ctx, op):
    (a_t, a), (b_t, b) = _operands(ctx, op)
    out_t, activation = ctx.tensor(op.outputs[0]), op.options.FusedActivationFunction()
    if not a_t.quantized:
        return fused_activation(ctx.float_out(a.astype(np.float64) * b.astype(np.float64)), activation)
    m, sh = fx.quantize_multiplier(f32_ratio(a_t.scale[0], b_t.scale[0], out_t.scale[0]))
    out = fx.multiply(centred(a_t, a) * centred(b_t, b), m, sh) + int(out_t.zero_point[0])
    return saturate(out, out_t, activation_range(activation, out_t))


def _select(pick_b):
    def kernel(ctx, op):
        a, b = (v for _, v in _operands(ctx, op))
        return np.where(pick_b(a, b), b, a).astype(ctx.tensor(op.outputs[0]).dtype)

    return kernel


def neg(ctx, op):
    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    if x_t.quantized:
        raise NotImplementedError(f"reference.tflite has no quantized kernel for {op.name}")
    return -x


KERNELS = {"ADD": _add_sub(1), "SUB": _add_sub(-1), "MUL": mul, "MINIMUM": _select(lambda a, b: b < a),
           "MAXIMUM": _select(lambda a, b: a < b), "NEG": neg}
