"""RELU, RELU6, RELU_N1_TO_1, LOGISTIC, TANH, HARD_SWISH, PRELU and SOFTMAX.

Sources: tflite/kernels/activations.cc, internal/common.h (LUTPopulate, LUTLookup), internal/reference/
{reference_ops.h (ReluX), hard_swish.h, prelu.h, softmax.h (SoftmaxInt16), integer_ops/{logistic,tanh}.h
(int16)}. Float kernels use :mod:`reference.nn`.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.tflite import fixedpoint as fx
from reference.tflite.quantization import activation_range, centred, f32_ratio, saturate
from reference.tflite.tables import SIGMOID_U16

F32 = np.float32


def _unary(ctx, op):
    return ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0]), ctx.value(op.inputs[0])


def _int8_only(op, tensor):
    if tensor.dtype != np.int8:
        raise NotImplementedError(f"reference.tflite has no {tensor.dtype.__name__} kernel for {op.name}")


def _eight_bit_levels(op, tensor) -> np.ndarray:
    """Every value of an int8 or uint8 ``tensor``, in order: the inputs a 256-entry table kernel tabulates (the
    kernel indexes its table by the input's byte; ``q - min`` here)."""
    if tensor.dtype not in (np.int8, np.uint8):
        raise NotImplementedError(f"reference.tflite has no {tensor.dtype.__name__} kernel for {op.name}")
    info = np.iinfo(tensor.dtype)
    return np.arange(info.min, info.max + 1, dtype=np.int64)


def _relu_family(low, high):
    """Quantized (ReluX): ``multiply(q - zp_in, m, sh) + zp_out`` with ``m`` from ``float32(s_in / s_out)``,
    clamped to ``[Q(low), Q(high)]`` (``Q(f) = zp_out + round(f / s_out)`` in float32)."""

    def kernel(ctx, op):
        x_t, out_t, x = _unary(ctx, op)
        if not x_t.quantized:
            return ctx.float_out(np.clip(x, low, high))
        m, sh = fx.quantize_multiplier(f32_ratio(x_t.scale[0], out_t.scale[0]))
        out = fx.multiply(centred(x_t, x), m, sh) + int(out_t.zero_point[0])
        return saturate(out, out_t, activation_range(None, out_t, low, high))

    return kernel


def _sigmoid_f32(x):
    """``1.0f / (1.0f + expf(-x))`` on float32 ``x`` (``expf`` overflows to +inf, and the result to 0, past
    x = -88.7)."""
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x.astype(np.float64)).astype(F32))


def _table_input_int16(x_t, q):
    """SigmoidPrepare / TanhPrepare and the kernels' prologue: ``q`` (zero point 0) on the table's input scale
    ``1 / (3 * 2^12)``: ``(q * m + 2^(sh-1)) >> sh`` with ``m = trunc(s * 3 * 4096 * 2^sh)`` and the least ``sh``
    (at most 31) that brings ``m`` above ``32767 / 2``. (LiteRT's shortcut for input scales 2^-12 and, in TANH,
    2^-11 multiplies by ``3 << (12 + log2 s)`` instead: the same integers, since ``m`` is then exact.)"""
    real, shift = float(np.float32(x_t.scale[0])) * 4096.0 * 3.0, 0
    while real <= 32767.0 / 2.0 and shift <= 30:
        real, shift = real * 2.0, shift + 1
    return (np.asarray(q, np.int64) * int(real) + ((1 << shift) >> 1)) >> shift


def _interpolate(magnitude, fraction_bits, saturated):
    """``T[h] << f + (m & (2^f - 1)) * (T[h+1] - T[h])`` with ``h = m >> f`` (``f`` fraction bits); ``saturated``
    from ``h >= 255`` on."""
    index = np.minimum(magnitude >> fraction_bits, 254)
    low, high = SIGMOID_U16[index], SIGMOID_U16[index + 1]
    value = (low << fraction_bits) + (magnitude & ((1 << fraction_bits) - 1)) * (high - low)
    return np.where(magnitude >> fraction_bits >= 255, saturated, value)


def _logistic_int16(x_t, x):
    """reference_integer_ops::Logistic (int16, output scale 2^-15): ``v`` the input on scale ``1 / (3 * 2^12)``;
    ``r = interp(|v|, 9 bits)`` (``0x7FFF << 10`` saturated);
    ``out = (r + 2^9) >> 10`` for ``v >= 0``, ``(2^25 - r + 2^9 - 1) >> 10`` otherwise."""
    v = _table_input_int16(x_t, x)
    r = _interpolate(np.abs(v), 9, 0x7FFF << 10)
    return (np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1) >> 10).astype(np.int16)


def _tanh_int16(x_t, x):
    """reference_integer_ops::Tanh (int16, output scale 2^-15): ``v`` as for LOGISTIC;
    ``r = interp(|v|, 8 bits)`` (``0xFFFF << 8`` saturated);
    ``out = (r - 2^23 + 2^7) >> 8`` for ``v >= 0``, ``(-r + 2^23 + 2^7 - 1) >> 8`` otherwise (arithmetic shift)."""
    v = _table_input_int16(x_t, x)
    r = _interpolate(np.abs(v), 8, 0xFFFF << 8)
    return (np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1) >> 8).astype(np.int16)


def _lookup_table(float_fn, f32_fn, int16_fn):
    """LOGISTIC / TANH. int8 and uint8 (LUTPopulate, the builtin and the reference kernels alike): a 256-entry
    table over every input ``q``, ``clamp(round_half_away(f(float32(s_in) * (q - zp_in)) * float32(1 / s_out)) +
    zp_out)`` in float32. int16: ``int16_fn``, interpolating in :data:`reference.tflite.tables.SIGMOID_U16`."""

    def kernel(ctx, op):
        x_t, out_t, x = _unary(ctx, op)
        if not x_t.quantized:
            return ctx.float_out(float_fn(x))
        if x_t.dtype == np.int16:
            return int16_fn(x_t, x)
        levels = _eight_bit_levels(op, x_t)
        real = F32(x_t.scale[0]) * (levels - int(x_t.zero_point[0])).astype(F32)
        table = fx.round_half_away(f32_fn(real) * (F32(1) / F32(out_t.scale[0]))) + int(out_t.zero_point[0])
        return saturate(table, out_t)[x.astype(np.int64) - levels[0]]

    return kernel


def _saturating_left_shift16(x, amount):
    return np.clip(x * 2**amount, -(2**15), 2**15 - 1)


def _rdbpot16(x, exponent: int):
    """gemmlowp RoundingDivideByPOT instantiated on int16: its mask ``2^exponent - 1`` is cast to int16, so from
    exponent 16 on the mask is -1 and the result is ``+1`` for ``x >= 0``, ``-1`` for ``x < 0`` (measured on
    LiteRT's reference HARD_SWISH with input scales below ~2^-15 * 3 * 128, where the reluish exponent is < -15)."""
    x = np.asarray(x, np.int64)
    mask = int(np.int64((1 << exponent) - 1).astype(np.int16))
    return (x >> exponent) + ((x & mask) > (mask >> 1) + (x < 0))


def _hard_swish_8bit(x_t, out_t, levels):
    """The reference int8 / uint8 HardSwish (hard_swish.h, one template) on each input of ``levels``, in 16-bit
    fixed point:
    input on a hi-res scale ``(q - zp) * 2^7``; ``y = that * m_out`` (16-bit SRDHM); ``r`` = the input rescaled so
    that 3.0 is 2^15 (saturating), mapped from ``[-1, 1]`` to ``[0, 1]`` by ``(r + 2^15) >> 1``; the output
    ``rdbpot(r * y / 2^15 truncated, -exp_out) + zp_out``. Multipliers: ``QuantizeMultiplier`` of
    ``float32(s_in / 128) / s_out`` and ``float32(s_in / 128) / (3 / 32768)``, reduced to 16 bits,
    ``(m + 2^15) >> 16``. The shifts right are int16 rounding divisions (:func:`_rdbpot16`)."""
    hires_scale = F32(1 / 128) * F32(x_t.scale[0])

    def multiplier16(ratio):
        m, exponent = (int(v) for v in fx.quantize_multiplier(np.float64(ratio)))
        return (32767 if m >= 2**31 - 1 - 2**15 else (m + 2**15) >> 16), exponent

    out_m, out_exp = multiplier16(hires_scale / F32(out_t.scale[0]))
    relu_m, relu_exp = multiplier16(hires_scale / (F32(3) / F32(32768)))
    hires = (levels - int(x_t.zero_point[0])) * 2**7
    preshift = fx.srdhm(hires, out_m, bits=16)
    reluish = _saturating_left_shift16(hires, relu_exp - 1) if relu_exp > 0 else hires
    reluish = fx.srdhm(reluish, relu_m, bits=16)
    if relu_exp > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    elif relu_exp < 0:
        reluish = _rdbpot16(reluish, -relu_exp)
    reluish = (reluish + 2**15) >> 1
    product = np.where((reluish == -(2**15)) & (preshift == -(2**15)), 2**15 - 1,
                       fx.trunc_shift(reluish * preshift, 15))
    return saturate(_rdbpot16(product, -out_exp) + int(out_t.zero_point[0]), out_t)


def hard_swish(ctx, op):
    """float: ``x * min(6, max(0, x + 3)) / 6`` (float32 operations); int8, uint8: :func:`_hard_swish_8bit`."""
    x_t, out_t, x = _unary(ctx, op)
    if not x_t.quantized:
        x = ctx.float_out(x)
        return x * np.clip(x + x.dtype.type(3), 0, 6) / x.dtype.type(6)
    levels = _eight_bit_levels(op, x_t)
    return _hard_swish_8bit(x_t, out_t, levels)[x.astype(np.int64) - levels[0]]


def prelu(ctx, op):
    """``x >= 0 ? x : alpha * x``, alpha broadcast. Quantized: ``multiply(q - zp, m1, sh1)`` for ``q >= zp``,
    else ``multiply((q - zp) * (a - zp_a), m2, sh2)``; ``+ zp_out``, saturated; ``m1`` from ``float32(s_in / s_out)``,
    ``m2`` from ``float32(s_in * s_a / s_out)``."""
    (x_t, x), (a_t, alpha) = ((ctx.tensor(i), ctx.value(i)) for i in op.inputs[:2])
    out_t = ctx.tensor(op.outputs[0])
    if not x_t.quantized:
        x, alpha = x.astype(np.float64), alpha.astype(np.float64)
        return ctx.float_out(np.where(x >= 0, x, x * alpha))
    xc = centred(x_t, x)
    m1, sh1 = fx.quantize_multiplier(f32_ratio(x_t.scale[0], out_t.scale[0]))
    m2, sh2 = fx.quantize_multiplier(f32_ratio(x_t.scale[0], a_t.scale[0], out_t.scale[0]))
    out = np.where(xc >= 0, fx.multiply(xc, m1, sh1), fx.multiply(xc * centred(a_t, alpha), m2, sh2))
    return saturate(out + int(out_t.zero_point[0]), out_t)


def _lut_int16(fn, input_scale, input_zero, output_scale):
    """LUTPopulateInt16<double>: 513 entries sampling ``fn`` over the int16 input range in 512 steps, each
    biased by half the error of linear interpolation at its midpoint."""
    input_min, input_max = input_scale * (-32768 - input_zero), input_scale * (32767 - input_zero)
    inverse = 65536 / (output_scale * 32767 - output_scale * -32768)
    step = (input_max - input_min) / 512
    start = input_min + np.arange(512) * step
    value, midpoint, following = fn(start), fn(start + step / 2), fn(input_min + np.arange(1, 513) * step)
    interpolated = fx.round_half_away((following * inverse + fx.round_half_away(value * inverse)) / 2)
    bias = fx.round_half_away((interpolated - fx.round_half_away(midpoint * inverse)) / 2)
    table = np.append(fx.round_half_away(value * inverse) - bias, fx.round_half_away(fn(input_max) * inverse))
    return np.clip(table, -32768, 32767).astype(np.int64)


def _lut_lookup(value, table):
    """LUTLookup: ``base = lut[256 + (v >> 7)]``, plus the slope to the next entry times ``(v & 127)``,
    ``(slope * offset + 64) >> 7``."""
    index = 256 + (value >> 7)
    base = table[index]
    return base + (((table[index + 1] - base) * (value & 0x7F) + 64) >> 7)


def _softmax_int16(x, x_t, beta):
    """SoftmaxInt16: ``e = LUT_exp(clamp(multiply(q - max, m, sh) + 32767))`` with ``m`` from
    ``float32(s_in * beta) / (10 / 65535)``; ``S = Σe``, ``h`` its leading zero bits;
    ``r = LUT_1/(1+x)(clamp((((S << (h-1)) + 2^13) >> 14) - 3*2^15))``;
    ``out = clamp((e * r + 2^(30-h)) >> (31-h), 0, 32767)``."""
    exp_lut = _lut_int16(np.exp, 10 / 65535, 32767, 2 / 65535)
    reciprocal_lut = _lut_int16(lambda v: 1 / (1 + v), 1 / 65535, -32768, 2 / 65535)
    m, sh = fx.quantize_multiplier(np.float64(F32(x_t.scale[0]) * F32(beta)) / (10 / 65535))
    q = x.astype(np.int64)
    diff = fx.multiply(q - q.max(axis=-1, keepdims=True), m, sh) + 32767
    e = _lut_lookup(np.clip(diff, -32768, 32767), exp_lut)
    total = e.sum(axis=-1, keepdims=True)
    headroom = 32 - np.frexp(total.astype(np.float64))[1]  # leading zeros of the positive uint32 sum
    shifted = ((total << (headroom - 1)) + (1 << 13)) >> 14
    reciprocal = _lut_lookup(np.clip(shifted - (3 << 15), -32768, 32767), reciprocal_lut)
    right = 31 - headroom
    return np.clip((e * reciprocal + (np.int64(1) << (right - 1))) >> right, 0, 32767).astype(np.int16)


def _softmax_uint8(x, x_t, beta):
    """reference_ops::Softmax (uint8, output scale 1/256, zero point 0), gemmlowp fixed point. Prepare
    (PreprocessSoftmaxScaling, 5 integer bits): ``m, sh = QuantizeMultiplier(min(beta * s_in * 2^26, 2^31 - 1))``
    in double; ``diff_min = -floor(31 * 2^26 / 2^sh)``. Per row, ``d = q - max``; ``e = exp_on_negative_values(
    srdhm(d << sh, m))`` (Q5.26 → Q0.31) where ``d >= diff_min``; ``S = Σ rdbpot(e, 12)`` (Q12.19), ``h`` its leading
    zero bits; ``r = one_over_one_plus_x((S << h) - 2^31)``; ``out = clamp(rdbpot(srdhm(r, e), 12 - h + 23), 0, 255)``,
    0 where ``d < diff_min``."""
    real = min(np.float64(beta) * np.float64(x_t.scale[0]) * 2.0**26, 2.0**31 - 1)
    m, shift = (int(v) for v in fx.quantize_multiplier(real))
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True).astype(np.int64)
    valid = diff >= -int(np.floor(31 * 2.0**26 / 2.0**shift))
    e = np.where(valid, fx.exp_on_negative_values(fx.srdhm(np.where(valid, diff, 0) << shift, m), 5), 0)
    total = fx.rdbpot(e, 12).sum(axis=-1, keepdims=True)
    headroom = 32 - np.frexp(total.astype(np.float64))[1]  # leading zeros of the positive uint32 sum
    reciprocal = fx.one_over_one_plus_x((total << headroom) - 2**31)
    out = fx.rdbpot(fx.srdhm(reciprocal, e), 12 - headroom + 31 - 8)
    return np.where(valid, np.clip(out, 0, 255), 0).astype(np.uint8)


def softmax(ctx, op):
    """Along the last axis. int8 (measured on LiteRT 2.3's BUILTIN_REF, which runs the table kernel, not the
    fixed-point one of reference/softmax.h): ``t[k] = float32(exp(-s_in * beta * k))`` for ``k = max - q``; float32
    sum in index order; ``q_out = round_half_away(t * (1 / (sum * s_out))) + zp_out``, clamped. uint8 (measured:
    the fixed-point kernel): :func:`_softmax_uint8`. int16: see :func:`_softmax_int16`."""
    x_t, out_t, x = _unary(ctx, op)
    beta = op.options.Beta()
    if not x_t.quantized:
        return ctx.float_out(nn.softmax(x, axis=-1, beta=beta))
    if x_t.dtype == np.int16:
        return _softmax_int16(x, x_t, beta)
    if x_t.dtype == np.uint8:
        return _softmax_uint8(x, x_t, beta)
    _int8_only(op, x_t)
    q = x.astype(np.int64)
    table = np.exp((F32(-x_t.scale[0] * F32(beta)) * np.arange(256, dtype=F32)).astype(np.float64)).astype(F32)
    e = table[q.max(axis=-1, keepdims=True) - q]
    total = np.cumsum(e, axis=-1, dtype=F32)[..., -1:]  # cumsum adds in index order, like the kernel
    inverse = F32(1) / (total * F32(out_t.scale[0]))
    return saturate(fx.round_half_away(e * inverse) + int(out_t.zero_point[0]), out_t)


KERNELS = {
    "RELU": _relu_family(0.0, None),
    "RELU6": _relu_family(0.0, 6.0),
    "RELU_N1_TO_1": _relu_family(-1.0, 1.0),
    "LOGISTIC": _lookup_table(nn.sigmoid, _sigmoid_f32, _logistic_int16),
    "TANH": _lookup_table(nn.tanh, lambda v: np.tanh(v.astype(np.float64)).astype(F32), _tanh_int16),
    "HARD_SWISH": hard_swish,
    "PRELU": prelu,
    "SOFTMAX": softmax,
}
