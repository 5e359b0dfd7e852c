"""Padding arithmetic and strided window views shared by every NHWC reference.

Padding follows ``tf.nn``: ``"SAME"`` gives ``out = ceil(in / stride)`` and pads
``total = max((out - 1) * stride + eff_k - in, 0)`` with ``eff_k = (k - 1) * d + 1``;
``before = total // 2`` and the odd pixel goes bottom/right. ``"VALID"`` pads nothing.
Explicit padding is ``[[0, 0], [top, bottom], [left, right], [0, 0]]``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pads = tuple[tuple[int, int], tuple[int, int]]


def pair(value) -> tuple[int, int]:
    """An int or a pair as ``(h, w)``; rejects non-positive entries."""
    h, w = (value, value) if np.isscalar(value) else tuple(value)
    if int(h) < 1 or int(w) < 1:
        raise ValueError(f"expected positive int or pair, got {value!r}")
    return int(h), int(w)


def effective_size(k: int, d: int) -> int:
    """Extent of a kernel of size ``k`` dilated by ``d``: ``(k - 1) * d + 1``."""
    return (k - 1) * d + 1


def same_total(n: int, k: int, s: int, d: int = 1) -> int:
    """SAME's total padding along one axis before ``tf.nn`` clamps it at 0: ``(ceil(n / s) - 1) * s + eff_k - n``
    (negative where the last window ends before the input does: those rows are never read)."""
    return (-(-n // s) - 1) * s + effective_size(k, d) - n


def pads(padding, in_hw, k_hw, strides, dilations=1) -> Pads:
    """``((top, bottom), (left, right))`` for ``padding`` as ``tf.nn`` interprets it."""
    strides, dilations = pair(strides), pair(dilations)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0), (0, 0)
        if mode != "SAME":
            raise ValueError(f"padding must be SAME, VALID or explicit, got {padding!r}")
        result = []
        for n, k, s, d in zip(in_hw, k_hw, strides, dilations):
            total = max(same_total(n, k, s, d), 0)
            result.append((total // 2, total - total // 2))
        return tuple(result)
    explicit = [tuple(int(v) for v in p) for p in padding]
    if len(explicit) != 4 or any(len(p) != 2 for p in explicit):
        raise ValueError(f"explicit padding must be 4 pairs (NHWC), got {padding!r}")
    if explicit[0] != (0, 0) or explicit[3] != (0, 0) or min(min(p) for p in explicit) < 0:
        raise ValueError(f"explicit padding must be non-negative and zero on N and C, got {padding!r}")
    return explicit[1], explicit[2]


def output_size(n: int, k: int, s: int, d: int, before: int, after: int) -> int:
    """Number of window positions along one axis: ``(n + before + after - eff_k) // s + 1``."""
    size = (n + before + after - effective_size(k, d)) // s + 1
    if size < 1:
        raise ValueError(f"window of {k} (dilation {d}) does not fit input of {n} padded by {before}+{after}")
    return size


def windows(x: np.ndarray, ksize, strides=1, dilations=1, padding="VALID", pad_value=0):
    """Strided view ``[N, OH, OW, C, KH, KW]`` of the windows of NHWC ``x``.

    ``padding`` is anything :func:`pads` accepts; padded cells hold ``pad_value``.
    The view shares memory with the padded copy; do not write to it.
    """
    (kh, kw), (sh, sw), (dh, dw) = pair(ksize), pair(strides), pair(dilations)
    (top, bottom), (left, right) = pads(padding, x.shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    oh = output_size(x.shape[1], kh, sh, dh, top, bottom)
    ow = output_size(x.shape[2], kw, sw, dw, left, right)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    view = sliding_window_view(xp, (effective_size(kh, dh), effective_size(kw, dw)), axis=(1, 2))
    return view[:, : oh * sh : sh, : ow * sw : sw, :, ::dh, ::dw]
