"""float64 references of the ``tf.nn`` ops tfparity checks (NHWC, TF argument conventions).

Convolutions and pools read a strided window view ``[N, OH, OW, C, KH, KW]`` of the padded input
(:func:`reference.windows.windows`); ``conv2d_transpose`` scatters into strided slices of a zero
buffer. Nothing loops over pixels. ``conv2d`` and ``conv2d_transpose`` loop over the kernel taps
with one BLAS ``tensordot`` per tap: one ``einsum`` over the whole view copies it first (im2col),
measured 20x slower and 20x the memory on a large full-grid case.
"""

from __future__ import annotations

import numpy as np

from reference.windows import output_size, pads, pair, windows


def _rank4(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, which must be rank 4 (NHWC / HWIO)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(f"{name} must be rank 4 (NHWC / HWIO), got shape {array.shape}")
    return array


def _conv_operands(x, filters) -> tuple[np.ndarray, np.ndarray]:
    """float64 NHWC input and ``[kh, kw, C, *]`` filters whose input channels agree."""
    x, f = _rank4("x", x), _rank4("filters", filters)
    if x.shape[3] != f.shape[2]:
        raise ValueError(f"x has {x.shape[3]} channels but filters {f.shape} expect {f.shape[2]}")
    return x, f


def conv2d(x, filters, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """``y[n,h,w,o] = Σ_{i,j,c} xp[n, h*sh + i*dh, w*sw + j*dw, c] * f[i,j,c,o]``: filters HWIO,
    ``xp`` zero-padded as ``tf.nn.conv2d`` pads (SAME, VALID or explicit)."""
    x, f = _conv_operands(x, filters)
    win = windows(x, f.shape[:2], strides, dilations, padding)
    out = np.zeros(win.shape[:3] + (f.shape[3],))
    with np.errstate(invalid="ignore"):  # inf + (-inf): NaN, as IEEE 754 defines
        for i in range(f.shape[0]):
            for j in range(f.shape[1]):
                out += np.tensordot(win[..., i, j], f[i, j], axes=(3, 0))
    return out


def depthwise_conv2d(x, filters, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """``y[n,h,w,c*M+m] = Σ_{i,j} xp[n, h*sh + i*dh, w*sw + j*dw, c] * f[i,j,c,m]``: filters
    ``[kh, kw, C, M]``, padding as :func:`conv2d`."""
    x, f = _conv_operands(x, filters)
    out = np.einsum("nhwcij,ijcm->nhwcm", windows(x, f.shape[:2], strides, dilations, padding), f)
    return out.reshape(out.shape[:3] + (-1,))


def conv2d_transpose(x, filters, output_shape, strides=1, padding="VALID") -> np.ndarray:
    """The adjoint of :func:`conv2d` for an input of ``output_shape`` (``tf.nn.conv2d_transpose``):
    filters ``[kh, kw, out, in]``; ``zp[n, p*sh + i, q*sw + j, o] += Σ_c x[n,p,q,c] * f[i,j,o,c]``,
    then the padding ``conv2d`` would add to ``output_shape`` is cropped off. ``x`` must have the
    spatial shape ``conv2d`` gives for ``output_shape`` (several ``output_shape`` can qualify)."""
    x, f = _rank4("x", x), _rank4("filters", filters)
    n, oh, ow, oc = (int(v) for v in output_shape)
    if (n, oc, x.shape[3]) != (x.shape[0], f.shape[2], f.shape[3]):
        raise ValueError(f"shapes do not agree: x {x.shape}, filters {f.shape} ([kh, kw, out, in]), "
                         f"output_shape {tuple(output_shape)}")
    (sh, sw), (kh, kw) = pair(strides), f.shape[:2]
    (top, bottom), (left, right) = pads(padding, (oh, ow), (kh, kw), (sh, sw))
    h, w = output_size(oh, kh, sh, 1, top, bottom), output_size(ow, kw, sw, 1, left, right)
    if x.shape[1:3] != (h, w):
        raise ValueError(f"x spatial shape {x.shape[1:3]} is not the {(h, w)} conv2d gives for output_shape "
                         f"{tuple(output_shape)}, strides {strides}, padding {padding!r}")
    zp = np.zeros((n, oh + top + bottom, ow + left + right, oc))
    for i in range(kh):
        for j in range(kw):
            zp[:, i: i + sh * h: sh, j: j + sw * w: sw] += np.tensordot(x, f[i, j], axes=(3, 1))
    return zp[:, top: top + oh, left: left + ow]


def max_pool2d(x, ksize, strides, padding) -> np.ndarray:
    """``y[n,h,w,c] = max_{i,j} xp[n, h*sh + i, w*sw + j, c]`` with padded cells ``-inf`` (padding never
    wins). A window holding a NaN gives NaN (IEEE 754-2019 ``maximum``, as ``np.max``; TF documents no NaN rule).
    Explicit padding, as in ``tf.nn.max_pool2d``, must be smaller than the window on each side."""
    x = _rank4("x", x)
    if not isinstance(padding, str):
        kh, kw = pair(ksize)
        (top, bottom), (left, right) = pads(padding, x.shape[1:3], (kh, kw), strides)
        if max(top, bottom) >= kh or max(left, right) >= kw:
            raise ValueError(f"explicit padding {padding!r} must be smaller than the window {ksize!r}")
    return windows(x, ksize, strides, 1, padding, pad_value=-np.inf).max(axis=(-2, -1))


def avg_pool2d(x, ksize, strides, padding) -> np.ndarray:
    """Mean over the in-image cells of each window: with SAME padding the divisor counts only them.
    Padding is SAME or VALID (``tf.nn.avg_pool2d`` takes no explicit padding). IEEE 754 sums: a NaN, or +Inf with
    -Inf, in a window gives NaN; ±Inf alone gives ±Inf."""
    x = _rank4("x", x)
    if not isinstance(padding, str):
        raise ValueError(f"avg_pool2d padding must be SAME or VALID, got {padding!r}")
    with np.errstate(invalid="ignore"):  # inf + (-inf): NaN, as IEEE 754 defines
        total = windows(x, ksize, strides, 1, padding).sum(axis=(-2, -1))
    count = windows(np.ones((1,) + x.shape[1:3] + (1,)), ksize, strides, 1, padding).sum(axis=(-2, -1))
    return total / count


def softmax(logits, axis=-1, beta=1.0) -> np.ndarray:
    """``exp(beta * (x - max)) / Σ exp(beta * (x - max))`` along ``axis`` (``tf.nn.softmax``'s
    ``exp(x) / Σ exp(x)``, shifted by the maximum, which leaves it unchanged and keeps ``exp`` finite). IEEE 754
    arithmetic on that form: a NaN or a +Inf in a slice makes the whole slice NaN (``inf - inf``); a -Inf gives 0
    in a slice with a finite maximum."""
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as IEEE 754 defines
        e = np.exp(beta * (z - z.max(axis=axis, keepdims=True)))
        return e / e.sum(axis=axis, keepdims=True)


def relu(x) -> np.ndarray:
    """``max(x, 0)``; NaN stays NaN (IEEE 754-2019 ``maximum``, as ``np.maximum``)."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu6(x) -> np.ndarray:
    """``min(max(x, 0), 6)``; NaN stays NaN."""
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, 6.0)


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))``, evaluated as ``e / (1 + e)`` with ``e = exp(-|x|)`` for ``x < 0`` (no overflow)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x) -> np.ndarray:
    """``tanh(x)``: ``tanh(±0) = ±0``, ``tanh(±inf) = ±1`` (IEEE 754 / C99 Annex F)."""
    return np.tanh(np.asarray(x, dtype=np.float64))
