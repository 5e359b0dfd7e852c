"""float64 references of the ``tf.nn`` ops tfparity checks (NHWC, TF argument conventions).

Each op walks the kernel taps over a strided window view (:mod:`reference.windows`) and
accumulates in float64, so there is no loop over pixels and no im2col copy.
"""

from __future__ import annotations

import numpy as np

from reference.windows import output_size, pads, pair, windows


def _as64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _check_rank4(name: str, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} must be rank 4 (NHWC / HWIO), got shape {x.shape}")


def _conv_operands(x, filters) -> tuple[np.ndarray, np.ndarray]:
    """float64 NHWC input and ``[kh, kw, C, *]`` filters whose input channels agree."""
    x, f = _as64(x), _as64(filters)
    _check_rank4("x", x), _check_rank4("filters", f)
    if x.shape[3] != f.shape[2]:
        raise ValueError(f"input has {x.shape[3]} channels but filters expect {f.shape[2]}")
    return x, f


def conv2d(x, filters, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """``y[n,h,w,o] = Σ_{i,j,c} xp[n, h*sh + i*dh, w*sw + j*dw, c] * f[i,j,c,o]`` (filters HWIO,
    ``xp`` zero-padded as ``tf.nn.conv2d`` pads)."""
    x, f = _conv_operands(x, filters)
    win = windows(x, f.shape[:2], strides, dilations, padding)
    out = np.zeros(win.shape[:3] + (f.shape[3],))
    for i in range(f.shape[0]):
        for j in range(f.shape[1]):
            out += np.tensordot(win[..., i, j], f[i, j], axes=(3, 0))
    return out


def depthwise_conv2d(x, filters, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """``y[n,h,w,c*M+m] = Σ_{i,j} xp[n, h*sh + i*dh, w*sw + j*dw, c] * f[i,j,c,m]`` (filters ``[kh,kw,C,M]``)."""
    x, f = _conv_operands(x, filters)
    win = windows(x, f.shape[:2], strides, dilations, padding)
    out = np.zeros(win.shape[:4] + (f.shape[3],))
    for i in range(f.shape[0]):
        for j in range(f.shape[1]):
            out += win[..., i, j][..., None] * f[i, j]
    return out.reshape(out.shape[:3] + (-1,))


def conv2d_transpose(x, filters, output_shape, strides=1, padding="VALID") -> np.ndarray:
    """The adjoint of :func:`conv2d` (``tf.nn.conv2d_transpose``): filters ``[kh,kw,out,in]``; every
    input pixel scatters ``x[n,p,q,:] @ f[i,j].T`` to ``zp[n, p*sh + i, q*sw + j]``, and the padding
    ``conv2d`` would add to ``output_shape`` is cropped off."""
    x, f = _as64(x), _as64(filters)
    _check_rank4("x", x), _check_rank4("filters", f)
    n, oh, ow, oc = (int(v) for v in output_shape)
    if x.shape[3] != f.shape[3] or oc != f.shape[2] or n != x.shape[0]:
        raise ValueError(f"shapes do not agree: x {x.shape}, filters {f.shape}, output_shape {tuple(output_shape)}")
    (sh, sw), (kh, kw) = pair(strides), f.shape[:2]
    (top, bottom), (left, right) = pads(padding, (oh, ow), (kh, kw), (sh, sw))
    expected = (output_size(oh, kh, sh, 1, top, bottom), output_size(ow, kw, sw, 1, left, right))
    if x.shape[1:3] != expected:
        raise ValueError(f"x spatial shape {x.shape[1:3]} is not what conv2d gives for output_shape "
                         f"{tuple(output_shape)}: {expected}")
    zp = np.zeros((n, max(oh + top + bottom, kh + sh * (x.shape[1] - 1)),
                   max(ow + left + right, kw + sw * (x.shape[2] - 1)), oc))
    h, w = x.shape[1:3]
    for i in range(kh):
        for j in range(kw):
            zp[:, i: i + sh * h: sh, j: j + sw * w: sw, :] += np.tensordot(x, f[i, j], axes=(3, 1))
    return zp[:, top: top + oh, left: left + ow, :]


def max_pool2d(x, ksize, strides, padding) -> np.ndarray:
    """Max over each window; padded cells never win (they hold -inf)."""
    x = _as64(x)
    _check_rank4("x", x)
    return windows(x, ksize, strides, 1, padding, pad_value=-np.inf).max(axis=(-2, -1))


def avg_pool2d(x, ksize, strides, padding) -> np.ndarray:
    """Mean over the in-image cells of each window (with SAME padding the divisor counts only them)."""
    x = _as64(x)
    _check_rank4("x", x)
    total = windows(x, ksize, strides, 1, padding).sum(axis=(-2, -1))
    count = windows(np.ones((1,) + x.shape[1:3] + (1,)), ksize, strides, 1, padding).sum(axis=(-2, -1))
    return total / count


def softmax(logits, axis=-1, beta=1.0) -> np.ndarray:
    """``exp(beta * (x - max)) / Σ exp(beta * (x - max))`` along ``axis``."""
    z = _as64(logits)
    e = np.exp(beta * (z - z.max(axis=axis, keepdims=True)))
    return e / e.sum(axis=axis, keepdims=True)


def relu(x) -> np.ndarray:
    """``max(x, 0)``"""
    return np.maximum(_as64(x), 0.0)


def relu6(x) -> np.ndarray:
    """``min(max(x, 0), 6)``"""
    return np.clip(_as64(x), 0.0, 6.0)


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))``, evaluated as ``e / (1 + e)`` with ``e = exp(-|x|)`` on the negative side."""
    x = _as64(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x) -> np.ndarray:
    """``tanh(x)``"""
    return np.tanh(_as64(x))
