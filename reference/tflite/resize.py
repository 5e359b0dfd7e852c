"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (source: tflite/kernels/internal/reference/resize_bilinear.h).

Nearest neighbour picks indices by TF's own rule (:func:`reference.resize.resize_v1`), for any dtype.
Bilinear differs from TF's:
- float: per output pixel ``v = (i + 0.5) * s - 0.5`` (half pixel) or ``i * s``, ``s = in / out`` (align
  corners: ``(in - 1) / (out - 1)``), ``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in - 1)``, ``d = v - lo``;
  ``tl (1-dy)(1-dx) + bl dy (1-dx) + tr (1-dy) dx + br dy dx`` evaluated left to right in float32
  (float64 in float64 mode).
- int8 / int16 (ResizeBilinearInteger): Q10 coordinates, ``s10 = (1024*in + out/2) / out`` (align corners:
  ``(1024*(in-1) + (out-1)/2) / (out-1)``), ``v = i*s10 + s10/2 - 512`` (half pixel) or ``i*s10``,
  ``lo = max(v / 1024, 0)``, ``hi = min((v + 1023) / 1024, in - 1)``; the four products summed in int64,
  then ``(acc ± 2^19) / 2^20`` (C division). Quantization is unchanged.
"""

from __future__ import annotations

import numpy as np

from reference.resize import resize_v1
from reference.tflite import fixedpoint as fx


def _flags_and_size(ctx, op):
    o = op.options
    return bool(o.AlignCorners()), bool(o.HalfPixelCenters()), [int(v) for v in ctx.value(op.inputs[1])]


def _float_plan(n_in: int, n_out: int, align: bool, half: bool, dtype):
    ftype = dtype.type
    scale = ftype(n_in - 1) / ftype(n_out - 1) if align and n_out > 1 else ftype(n_in) / ftype(n_out)
    i = np.arange(n_out, dtype=dtype)
    v = (i + ftype(0.5)) * scale - ftype(0.5) if half else i * scale
    lo = np.maximum(np.floor(v), 0).astype(np.int64)
    hi = np.minimum(np.ceil(v).astype(np.int64), n_in - 1)
    return lo, hi, v - lo.astype(dtype)


def _q10_plan(n_in: int, n_out: int, align: bool, half: bool):
    s10 = ((1024 * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1) if align and n_out > 1
           else (1024 * n_in + n_out // 2) // n_out)
    i = np.arange(n_out, dtype=np.int64)
    v = i * s10 + s10 // 2 - 512 if half else i * s10
    lo = np.maximum(fx.trunc_shift(v, 10), 0)
    hi = np.minimum(fx.trunc_shift(v + 1023, 10), n_in - 1)
    return lo, hi, v - 1024 * lo


def _gather(x, ys, xs):
    return x[:, ys][:, :, xs]


def resize_bilinear(ctx, op):
    x_t, x = ctx.tensor(op.inputs[0]), ctx.value(op.inputs[0])
    align, half, (oh, ow) = _flags_and_size(ctx, op)
    if x_t.quantized:
        (y0, y1, dy), (x0, x1, dx) = _q10_plan(x.shape[1], oh, align, half), _q10_plan(x.shape[2], ow, align, half)
        q, one = x.astype(np.int64), 1024
    else:
        dtype = np.dtype(np.float64 if ctx.float64 else np.float32)
        (y0, y1, dy), (x0, x1, dx) = _float_plan(x.shape[1], oh, align, half, dtype), _float_plan(
            x.shape[2], ow, align, half, dtype)
        q, one = x.astype(dtype), dtype.type(1)
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    acc = (_gather(q, y0, x0) * (one - dy) * (one - dx) + _gather(q, y1, x0) * dy * (one - dx)
           + _gather(q, y0, x1) * (one - dy) * dx + _gather(q, y1, x1) * dy * dx)
    if not x_t.quantized:
        return acc
    return fx.trunc_shift(acc + np.where(acc > 0, 2**19, -(2**19)), 20).astype(x.dtype)


def resize_nearest_neighbor(ctx, op):
    align, half, size = _flags_and_size(ctx, op)
    return resize_v1(ctx.value(op.inputs[0]), size, "nearest", align_corners=align, half_pixel_centers=half)


KERNELS = {"RESIZE_BILINEAR": resize_bilinear, "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor}
