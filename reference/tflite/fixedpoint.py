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
