"""TF-exact image resize: ``tf.image.resize`` (v2) and ``tf.compat.v1.image.resize_*``.

Source of truth: TF's CPU kernels (tensorflow/core/kernels/image/resize_{bilinear,nearest_neighbor,
bicubic,area}_op.cc, scale_and_translate_op.cc, sampling_kernels.h). Every step is emulated in
float32 in TF's order, so results match TF bit for bit, except lanczos/gaussian whose ``sinf``/``exp``
may differ from numpy's by an ulp (within 2e-6 relative). Each method is two separable passes:
per output position, ``taps`` input indices and float32 weights, accumulated tap by tap.

Scale: ``(in-1)/(out-1)`` with align_corners (when in > 1 and out > 1), else ``in/out`` (float32).
Coordinates: half-pixel ``(i + 0.5) * s - 0.5`` (nearest: no ``-0.5``), legacy ``i * s``.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
METHODS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
V1_METHODS = ("bilinear", "nearest", "bicubic", "area")


def _scale(n_in: int, n_out: int, align_corners: bool) -> np.float32:
    if align_corners and n_in > 1 and n_out > 1:
        return F32(n_in - 1) / F32(n_out - 1)
    return F32(n_in) / F32(n_out)


def _coords(n_out: int, scale, half_pixel: bool, offset: float = 0.5) -> np.ndarray:
    """float32 source coordinates: ``(i + 0.5) * s - offset`` (half pixel) or ``i * s``."""
    i = np.arange(n_out, dtype=F32)
    return (i + F32(0.5)) * scale - F32(offset) if half_pixel else i * scale


def _accumulate(x: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``Σ_t x[index[:, t]] * weight[:, t]`` along ``axis``, summed tap by tap in float32."""
    shape = [1] * x.ndim
    shape[axis] = -1
    total = None
    for t in range(index.shape[1]):
        term = np.take(x, index[:, t], axis=axis) * weight[:, t].reshape(shape)
        total = term if total is None else total + term
    return total


# --- per-axis sampling plans -------------------------------------------------------------------

def _nearest_index(n_in, n_out, align_corners, half_pixel) -> np.ndarray:
    """ResizeNearestNeighbor: ``roundf`` (half away) with align_corners else ``floorf``, clamped."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel, offset=0.0)
    idx = np.sign(v) * np.floor(np.abs(v) + F32(0.5)) if align_corners else np.floor(v)
    return np.clip(idx.astype(np.int64), 0, n_in - 1)


def _bilinear_plan(n_in, n_out, align_corners, half_pixel):
    """ResizeBilinear: ``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in-1)``, ``lerp = v - floor(v)``."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel)
    floor = np.floor(v)
    lo = np.maximum(floor.astype(np.int64), 0)
    hi = np.minimum(np.ceil(v).astype(np.int64), n_in - 1)
    return lo, hi, (v - floor).astype(F32)


def _bicubic_table(a: float) -> np.ndarray:
    """ResizeBicubic's 1025-entry table (double math, stored as float): column 0 ``W(x)``, column 1
    ``W(x + 1)`` for ``x = i / 1024``, Keys' cubic with parameter ``a``."""
    x = (np.arange(1025) * 1.0 / 1024).astype(F32).astype(np.float64)
    inner = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = (x + 1.0).astype(F32).astype(np.float64)
    outer = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return np.stack([inner, outer], axis=1).astype(F32)


def _bicubic_plan(n_in, n_out, align_corners, half_pixel):
    """ResizeBicubic: 4 taps at ``floor(v) - 1 .. + 2``; offset ``lrintf(delta * 1024)`` into the table.
    Half-pixel (Keys a=-0.5): out-of-image taps get weight 0 and the rest are renormalised.
    Legacy (a=-0.75): taps clamped to the edge, no renormalisation."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel)
    base = np.floor(v).astype(np.int64)
    offset = np.rint((v - base.astype(F32)) * F32(1024)).astype(np.int64)  # lrintf: ties to even
    table = _bicubic_table(-0.5 if half_pixel else -0.75)
    weight = np.stack([table[offset, 1], table[offset, 0], table[1024 - offset, 0], table[1024 - offset, 1]], 1)
    index = base[:, None] + np.arange(-1, 3)
    clamped = np.clip(index, 0, n_in - 1)
    if half_pixel:
        weight = np.where(clamped == index, weight, F32(0))
        total = ((weight[:, 0] + weight[:, 1]) + weight[:, 2]) + weight[:, 3]
        norm = np.abs(total) >= F32(1000) * np.finfo(F32).tiny
        weight = np.where(norm[:, None], weight * (F32(1) / np.where(norm, total, F32(1)))[:, None], weight)
    return clamped, weight.astype(F32)


def _area_plan(n_in, n_out, align_corners):
    """ResizeArea: output cell ``[i*s, (i+1)*s)`` covers input cells ``floor(i*s) .. ceil((i+1)*s) - 1``;
    the first and last cells weigh their overlap, the ones between weigh 1 (indices clamped)."""
    s = _scale(n_in, n_out, align_corners)
    lo = np.arange(n_out).astype(F32) * s
    hi = np.arange(1, n_out + 1).astype(F32) * s
    start, end = np.floor(lo).astype(np.int64), np.ceil(hi).astype(np.int64)
    taps = int((end - start).max())
    cell = start[:, None] + np.arange(taps)
    cf = cell.astype(F32)
    overlap = np.where(cf < lo[:, None], np.where(cf + 1 > hi[:, None], s, cf + 1 - lo[:, None]),
                       np.where(cf + 1 > hi[:, None], hi[:, None] - cf, F32(1)))
    weight = np.where(cell < end[:, None], overlap, F32(0)).astype(F32)
    return np.clip(np.minimum(cell, end[:, None] - 1), 0, n_in - 1), weight


_PI = F32(3.14159265359)


def _lanczos(radius: float):
    r = F32(radius)

    def kernel(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (r * np.sin((_PI * x).astype(np.float64)).astype(F32)
                     * np.sin((_PI * x / r).astype(np.float64)).astype(F32)) / (_PI * _PI * x * x)
        return np.where(x > r, F32(0), np.where(x.astype(np.float64) <= 1e-3, F32(1), value)).astype(F32)

    return kernel, r


def _gaussian(x):
    """``exp(-x² / (2σ²))`` with σ = 0.5, radius 1.5; the exponent is evaluated in double, as TF does."""
    value = np.exp((-x * x).astype(np.float64) / 0.5).astype(F32)
    return np.where(x >= F32(1.5), F32(0), value)


def _triangle(x):
    return np.where(x < F32(1), F32(1) - x, F32(0))


def _keys_cubic(x):
    far = ((F32(-0.5) * x + F32(2.5)) * x - F32(4)) * x + F32(2)
    near = ((F32(1.5) * x - F32(2.5)) * x) * x + F32(1)
    return np.where(x >= F32(2), F32(0), np.where(x >= F32(1), far, near))


def _mitchell_cubic(x):
    far = (((F32(-7) / F32(18)) * x + F32(2)) * x - F32(10) / F32(3)) * x + F32(16) / F32(9)
    near = (((F32(7) / F32(6)) * x - F32(2)) * x) * x + F32(8) / F32(9)
    return np.where(x >= F32(2), F32(0), np.where(x >= F32(1), far, near))


KERNELS = {  # ScaleAndTranslate kernel name -> (function of |x|, radius)
    "triangle": (_triangle, F32(1)),
    "keyscubic": (_keys_cubic, F32(2)),
    "mitchellcubic": (_mitchell_cubic, F32(2)),
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
    "gaussian": (_gaussian, F32(1.5)),
}


def _span_plan(n_in, n_out, kernel_name: str, antialias: bool):
    """ScaleAndTranslate with ``scale = out/in`` and no translation: sample at ``(i + 0.5) / scale``,
    taps ``j`` in ``[ceil(s - R*ks - 0.5), floor(s + R*ks - 0.5)]`` clamped to the image, weight
    ``K(|j + 0.5 - s| / ks)`` with ``ks = max(1/scale, 1)`` if antialias else 1, normalised to sum 1."""
    kernel, radius = KERNELS[kernel_name]
    inv_scale = F32(1) / (F32(n_out) / F32(n_in))
    kernel_scale = max(inv_scale, F32(1)) if antialias else F32(1)
    sample = (np.arange(n_out).astype(F32) + F32(0.5)) * inv_scale
    reach = radius * kernel_scale
    start = np.clip(np.ceil(sample - reach - F32(0.5)).astype(np.int64), 0, n_in - 1)
    end = np.clip(np.floor(sample + reach - F32(0.5)).astype(np.int64), 0, n_in - 1) + 1
    taps = int((end - start).max())
    index = start[:, None] + np.arange(taps)
    position = (index.astype(F32) + F32(0.5)) - sample[:, None]
    weight = np.where(index < end[:, None], kernel(np.abs(position * (F32(1) / kernel_scale))), F32(0)).astype(F32)
    total = np.zeros(n_out, F32)
    for t in range(taps):  # float32 running sum, as TF accumulates it
        total = total + weight[:, t]
    norm = np.abs(total) >= F32(1000) * np.finfo(F32).tiny
    weight = np.where(norm[:, None], weight * (F32(1) / np.where(norm, total, F32(1)))[:, None], F32(0))
    return np.minimum(index, n_in - 1), weight.astype(F32)


# --- methods on NHWC float32 -------------------------------------------------------------------

def _nearest(x, size, align_corners, half_pixel):
    (h, w), (oh, ow) = x.shape[1:3], size
    rows = _nearest_index(h, oh, align_corners, half_pixel)
    cols = _nearest_index(w, ow, align_corners, half_pixel)
    return x[:, rows][:, :, cols]


def _bilinear(x, size, align_corners, half_pixel):
    """``top = tl + (tr - tl) * lx``; ``bottom = bl + (br - bl) * lx``; ``top + (bottom - top) * ly``."""
    x = x.astype(F32)
    (h, w), (oh, ow) = x.shape[1:3], size
    y0, y1, ly = _bilinear_plan(h, oh, align_corners, half_pixel)
    x0, x1, lx = _bilinear_plan(w, ow, align_corners, half_pixel)
    lx = lx[None, None, :, None]
    left, right = x[:, :, x0], x[:, :, x1]
    rows = left + (right - left) * lx
    top, bottom = rows[:, y0], rows[:, y1]
    return top + (bottom - top) * ly[None, :, None, None]


def _separable(x, size, plan, y_first=True):
    """Two tap-by-tap float32 passes with ``plan(n_in, n_out) -> (index, weight)`` per axis."""
    x = x.astype(F32)
    (h, w), (oh, ow) = x.shape[1:3], size
    (ry, wy), (rx, wx) = plan(h, oh), plan(w, ow)
    if y_first:
        return _accumulate(_accumulate(x, 1, ry, wy), 2, rx, wx)
    return _accumulate(_accumulate(x, 2, rx, wx), 1, ry, wy)


def _bicubic(x, size, align_corners, half_pixel):
    """Rows (y) first for each needed column, then columns (x): TF's cached-column order."""
    return _separable(x, size, lambda n, m: _bicubic_plan(n, m, align_corners, half_pixel))


def _area(x, size, align_corners):
    """Columns (x) first within each input row, then rows (y), then ``* f32(1 / (sy * sx))``."""
    (h, w), (oh, ow) = x.shape[1:3], size
    scale = F32(1.0 / float(_scale(h, oh, align_corners) * _scale(w, ow, align_corners)))
    return _separable(x, size, lambda n, m: _area_plan(n, m, align_corners), y_first=False) * scale


def _scale_and_translate(x, size, kernel_name, antialias):
    """Rows (y) into a float32 buffer, then columns (x): ScaleAndTranslate's GatherRows/GatherColumns."""
    return _separable(x, size, lambda n, m: _span_plan(n, m, kernel_name, antialias))


def _batched(images, size, fn):
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be HWC or NHWC, got shape {x.shape}")
    oh, ow = (int(v) for v in size)
    if oh < 1 or ow < 1:
        raise ValueError(f"size must be positive, got {tuple(size)}")
    if min(x.shape[-3:-1]) < 1:
        raise ValueError(f"images must have non-zero height and width, got shape {x.shape}")
    out = fn(x if x.ndim == 4 else x[None], (oh, ow))
    return out if x.ndim == 4 else out[0]


def resize(images, size, method="bilinear", antialias=False) -> np.ndarray:
    """``tf.image.resize``: bilinear, nearest, bicubic with half-pixel centres; area; lanczos3/5,
    gaussian, mitchellcubic through ScaleAndTranslate. ``antialias`` sends bilinear (triangle kernel)
    and bicubic (Keys cubic) through ScaleAndTranslate too, and widens the kernel when downsampling;
    nearest and area ignore it. float32 output, except nearest, which keeps the input dtype."""
    if method not in METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose from {', '.join(METHODS)}")

    def run(x, out):
        if method == "nearest":
            return _nearest(x, out, False, True)
        if method == "area":
            return _area(x, out, False)
        if method in ("bilinear", "bicubic") and not antialias:
            return (_bilinear if method == "bilinear" else _bicubic)(x, out, False, True)
        kernel = {"bilinear": "triangle", "bicubic": "keyscubic"}.get(method, method)
        return _scale_and_translate(x, out, kernel, antialias)

    return _batched(images, size, run)


def resize_v1(images, size, method="bilinear", align_corners=False, half_pixel_centers=False) -> np.ndarray:
    """``tf.compat.v1.image.resize_{bilinear,nearest_neighbor,bicubic,area}`` with their flags.
    align_corners with half_pixel_centers is rejected, as TF rejects it; area has no half-pixel mode."""
    if method not in V1_METHODS:
        raise ValueError(f"unknown v1 resize method {method!r}; choose from {', '.join(V1_METHODS)}")
    if align_corners and half_pixel_centers:
        raise ValueError("align_corners and half_pixel_centers cannot both be True (TF rejects the combination)")
    if method == "area" and half_pixel_centers:
        raise ValueError("resize_area has no half_pixel_centers option")
    fn = {"bilinear": _bilinear, "nearest": _nearest, "bicubic": _bicubic}.get(method)
    if fn is None:
        return _batched(images, size, lambda x, out: _area(x, out, align_corners))
    return _batched(images, size, lambda x, out: fn(x, out, align_corners, half_pixel_centers))
