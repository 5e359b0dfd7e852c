"""Integer arithmetic of LiteRT's reference kernels (gemmlowp fixed point, TFLite quantization utils).

Sources: tflite/kernels/internal/{common.h,common.cc,quantization_util.cc}, gemmlowp fixedpoint.h.
LiteRT 2.3's pip build uses the double-rounding ``MultiplyByQuantizedMultiplier`` (no
``TFLITE_SINGLE_ROUNDING``). Everything is vectorized over int64 arrays.

- ``quantize_multiplier(e)``: ``q, shift = frexp(e)``; ``m = round_half_away(q * 2^31)``; if ``m == 2^31``:
  ``m /= 2, shift += 1``; if ``shift < -31``: ``m = shift = 0``.
- ``srdhm(a, b, bits)``: SaturatingRoundingDoublingHighMul on ``bits``-bit integers:
  ``(a*b + nudge) / 2^(bits-1)`` truncated, ``nudge = 2^(bits-2)`` if ``a*b >= 0`` else ``1 - 2^(bits-2)``,
  which is ``floor((a*b + 2^(bits-2)) / 2^(bits-1))`` (halves round up); ``MIN * MIN`` saturates to ``MAX``.
- ``rdbpot(x, e)``: RoundingDivideByPOT, ``(x >> e) + (x & (2^e-1) > ((2^e-1) >> 1) + (x < 0))``
  (round half away from zero).
- ``multiply(x, m, shift)``: MultiplyByQuantizedMultiplier on int32 ``x`` (the kernels' accumulators),
  ``rdbpot(srdhm(x * 2^max(shift, 0), m), max(-shift, 0))``.
- ``multiply_int64(x, m, shift)``: its int64-accumulator overload (16-bit activation kernels): ``m`` reduced to
  16 bits, ``m16 = (m + 2^15) >> 16`` (``0x7FFF`` if ``m >= 0x7FFF0000``), then
  ``(x*m16 + 2^(14-shift)) >> (15-shift)``.
"""

from __future__ import annotations

import numpy as np


def round_half_away(x):
    """C ``round`` / ``TfLiteRound``: halves away from zero."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def trunc_div(a, b):
    """C integer division (rounds toward zero)."""
    a = np.asarray(a, np.int64)
    return np.sign(a) * (np.abs(a) // b)


def trunc_shift(x, k: int):
    """C division by ``2^k`` (rounds toward zero): negative ``x`` get ``2^k - 1`` added before the shift."""
    x = np.asarray(x, np.int64)
    return (x + ((x >> 63) & ((1 << k) - 1))) >> k


def quantize_multiplier(effective) -> tuple[np.ndarray, np.ndarray]:
    """``(m, shift)`` with ``effective ~= m * 2^(shift - 31)``, ``m`` in ``[2^30, 2^31)`` (QuantizeMultiplier)."""
    q, shift = np.frexp(np.asarray(effective, np.float64))
    m = round_half_away(q * 2.0**31).astype(np.int64)
    overflow = m == 2**31
    m, shift = np.where(overflow, m // 2, m), np.where(overflow, shift + 1, shift).astype(np.int64)
    tiny = shift < -31
    return np.where(tiny, 0, m), np.where(tiny, 0, shift)


def srdhm(a, b, bits: int = 32):
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    # the sign-dependent nudge then truncation equals one floor shift; only MIN * MIN exceeds MAX
    return np.minimum((a * b + 2 ** (bits - 2)) >> (bits - 1), 2 ** (bits - 1) - 1)


def rdbpot(x, exponent):
    x, exponent = np.asarray(x, np.int64), np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    return (x >> exponent) + ((x & mask) > (mask >> 1) + (x < 0))


def multiply(x, multiplier, shift):
    x, shift = np.asarray(x, np.int64), np.asarray(shift, np.int64)
    return rdbpot(srdhm(x << np.maximum(shift, 0), multiplier), np.maximum(-shift, 0))


def multiply_int64(x, multiplier, shift):
    multiplier = np.asarray(multiplier, np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - np.asarray(shift, np.int64)
    return (np.asarray(x, np.int64) * reduced + (np.int64(1) << (total - 1))) >> total


def saturating_shift(x, exponent: int, bits: int = 32):
    """SaturatingRoundingMultiplyByPOT: ``x * 2^exponent`` saturated to ``bits`` bits (``exponent >= 0``), else
    ``rdbpot(x, -exponent)``."""
    if exponent <= 0:
        return rdbpot(x, -exponent)
    return np.clip(np.asarray(x, np.int64) << exponent, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def exp_on_negative_values(a, integer_bits: int):
    """gemmlowp ``exp_on_negative_values``: ``exp(a)`` in Q0.31 of ``a <= 0`` in Q``integer_bits``.(31-``integer_bits``)
    (``integer_bits <= 5``). ``r = a mod 1/4 - 1/4``; ``exp(r)`` by the Taylor expansion at ``-1/8``:
    ``c + c * (x + ((x^4/4 + x^3) / 3 + x^2) / 2)``, ``x = r + 1/8``, ``c = exp(-1/8)``, products ``srdhm``;
    then for each set bit ``2^k`` (``k = -2..integer_bits-1``) of ``r - a`` a product with ``exp(-2^k)``;
    ``exp(0) = 2^31 - 1``."""
    a = np.asarray(a, np.int64)
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    remainder_raw = (a & (quarter - 1)) - quarter
    x = saturating_shift(remainder_raw, integer_bits) + (1 << 28)
    x2 = srdhm(x, x)
    x3, x4 = srdhm(x2, x), srdhm(x2, x2)
    poly = rdbpot(srdhm(rdbpot(x4, 2) + x3, 715827883) + x2, 1)
    result = 1895147668 + srdhm(1895147668, x + poly)
    remainder = remainder_raw - a
    for k, multiplier in zip(range(-2, integer_bits), (1672461947, 1302514674, 790015084, 290630308, 39332535,
                                                       720401, 242)):
        result = np.where(remainder & (1 << (fractional + k)), srdhm(result, multiplier), result)
    return np.where(a == 0, 2**31 - 1, result)


def one_over_one_plus_x(a):
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1``: ``1 / (1 + a)`` of Q0.31 ``a`` in ``[0, 1)``, in Q0.31.
    ``d = (a + 2^31 - 1)`` halved rounding away; Newton-Raphson in Q2.29 from ``48/17 - 32/17 * d``, three steps
    ``x += sat_shift(x * (1 - d * x), 2)``; the result ``sat_shift(x, 1)``."""
    total = np.asarray(a, np.int64) + 2**31 - 1
    half = trunc_div(total + np.where(total >= 0, 1, -1), 2)
    x = 1515870810 + srdhm(half, -1010580540)
    for _ in range(3):
        x = x + saturating_shift(srdhm(x, (1 << 29) - srdhm(half, x)), 2)
    return saturating_shift(x, 1)
