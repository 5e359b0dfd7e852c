"""TF-exact image resize: ``tf.image.resize`` (v2) and ``tf.compat.v1.image.resize_*``.

Source of truth: TF's CPU kernels (tensorflow/core/kernels/image/resize_{bilinear,nearest_neighbor,
bicubic,area}_op.cc, scale_and_translate_op.cc, sampling_kernels.h). Every step is emulated in
float32 in TF's order, reading exactly the input cells TF reads, with subnormals flushed to zero as
TF's CPU kernels run (FTZ + DAZ), so results match TF bit for bit (signed zeros, subnormals,
infinities and NaNs included), except lanczos: TF calls libm's ``sinf``, here the sine is rounded
from double, an ulp apart now and then (measured: a few 1e-7 of max|output|). Every method but
bilinear and nearest is two separable passes: per output position, input indices (-1: no tap) and
float32 weights, accumulated tap by tap.

Scale: ``(in-1)/(out-1)`` with align_corners (when in > 1 and out > 1), else ``in/out`` (float32).
Coordinates: half-pixel ``(i + 0.5) * s - 0.5`` (nearest: no ``-0.5``), legacy ``i * s``.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
_TINY = np.finfo(F32).tiny
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


def _ftz(a: np.ndarray) -> np.ndarray:
    """Subnormals to zero of the same sign: TF's sums and differences (exact below FLT_MIN, so
    flushing after rounding is the same), and, applied to the input once, DAZ on its operands."""
    return np.where(np.abs(a) < _TINY, a * F32(0), a)


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 ``a * b`` with FTZ: zero (same sign) when the exact product, held by float64, is below
    FLT_MIN, even where it would round up to FLT_MIN (x86 detects tininess before rounding)."""
    p = np.multiply(a, b, dtype=np.float64)
    return np.where(np.abs(p) < _TINY, p * 0, p).astype(F32)


def _accumulate(x: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray, from_zero: bool) -> np.ndarray:
    """``Σ_t x[index[:, t]] * weight[:, t]`` along ``axis``, summed tap by tap in float32. Taps with
    index -1 (never the first) are skipped, not multiplied by 0, so an inf or NaN that TF does not
    read stays out. ``from_zero``: the sum starts at +0.0 (TF's ScaleAndTranslate sums and ResizeArea's
    sum over rows), which turns a -0.0 result into +0.0."""
    shape = [1] * x.ndim
    shape[axis] = -1
    total = None
    for t in range(index.shape[1]):
        term = _mul(np.take(x, np.maximum(index[:, t], 0), axis=axis), weight[:, t].reshape(shape))
        if total is None:
            total = term + F32(0) if from_zero else term
        else:
            total = np.where((index[:, t] >= 0).reshape(shape), _ftz(total + term), total)
    return total


# --- per-axis sampling plans -------------------------------------------------------------------

def _nearest_index(n_in, n_out, align_corners, half_pixel) -> np.ndarray:
    """ResizeNearestNeighbor: ``roundf`` (half away from zero) with align_corners else ``floorf``,
    clamped to the image."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel, offset=0.0)
    idx = np.floor(v)
    if align_corners:  # v >= 0; v - floor(v) is exact, unlike floor(v + 0.5)
        idx = idx + (v - idx >= F32(0.5))
    return np.clip(idx.astype(np.int64), 0, n_in - 1)


def _bilinear_plan(n_in, n_out, align_corners, half_pixel, coordinates=F32):
    """ResizeBilinear: ``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in-1)``, ``lerp = v - floor(v)``, with ``v``
    rounded to ``coordinates`` (a lane that holds it in float16; TF: float32)."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel).astype(coordinates).astype(F32)
    floor = np.floor(v)
    lo = np.maximum(floor.astype(np.int64), 0)
    hi = np.minimum(np.ceil(v).astype(np.int64), n_in - 1)
    return lo, hi, (v - floor).astype(F32)


def _bicubic_table(a: float) -> np.ndarray:
    """ResizeBicubic's 1025-entry table (double math, stored as float): column 0 ``W(x)``, column 1
    ``W(x + 1)`` for ``x = i / 1024``, Keys' cubic with parameter ``a``; ``x + 1`` is rounded to float."""
    x = (np.arange(1025) / 1024).astype(F32).astype(np.float64)
    inner = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = (x + 1.0).astype(F32).astype(np.float64)
    outer = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return np.stack([inner, outer], axis=1).astype(F32)


def _normalise(weight: np.ndarray, total: np.ndarray, otherwise) -> np.ndarray:
    """``weight * (1 / total)`` where ``|total| >= 1000 * FLT_MIN``, else ``otherwise``."""
    ok = np.abs(total) >= F32(1000) * _TINY
    return np.where(ok[:, None], weight * (F32(1) / np.where(ok, total, F32(1)))[:, None], otherwise)


def _bicubic_plan(n_in, n_out, align_corners, half_pixel):
    """ResizeBicubic: 4 taps at ``floor(v) - 1 .. + 2``; offset ``lrintf(delta * 1024)`` into the table.
    Half-pixel (Keys a=-0.5): out-of-image taps get weight 0 and the rest are renormalised.
    Legacy (a=-0.75): taps clamped to the edge, no renormalisation."""
    v = _coords(n_out, _scale(n_in, n_out, align_corners), half_pixel)
    base = np.floor(v)
    offset = np.rint((v - base) * F32(1024)).astype(np.int64)  # lrintf: ties to even
    table = _bicubic_table(-0.5 if half_pixel else -0.75)
    weight = np.stack([table[offset, 1], table[offset, 0], table[1024 - offset, 0], table[1024 - offset, 1]], 1)
    index = base.astype(np.int64)[:, None] + np.arange(-1, 3)
    clamped = np.clip(index, 0, n_in - 1)
    if half_pixel:
        weight = np.where(clamped == index, weight, F32(0))
        weight = _normalise(weight, ((weight[:, 0] + weight[:, 1]) + weight[:, 2]) + weight[:, 3], weight)
    return clamped, weight


def _area_plan(n_in, n_out, align_corners):
    """ResizeArea: output cell ``[i*s, (i+1)*s)`` covers input cells ``floor(i*s) .. ceil((i+1)*s) - 1``
    (clamped to the image); the first and last weigh their overlap, the ones between weigh 1."""
    s = _scale(n_in, n_out, align_corners)
    lo = np.arange(n_out).astype(F32) * s
    hi = np.arange(1, n_out + 1).astype(F32) * s
    start, end = np.floor(lo).astype(np.int64), np.ceil(hi).astype(np.int64)
    cell = start[:, None] + np.arange(int((end - start).max()))
    cf, lo, hi = cell.astype(F32), lo[:, None], hi[:, None]
    weight = np.where(cf < lo, np.where(cf + 1 > hi, s, cf + 1 - lo), np.where(cf + 1 > hi, hi - cf, F32(1)))
    return np.where(cell < end[:, None], np.clip(cell, 0, n_in - 1), -1), weight.astype(F32)


_PI = F32(3.14159265359)


def _lanczos(radius: float):
    """``r sinf(πx) sinf(πx/r) / (π²x²)``, 1 for ``x <= 1e-3``, 0 beyond ``r`` (sine rounded from double)."""
    r = F32(radius)

    def kernel(x):
        def sinf(v):
            return np.sin(v.astype(np.float64)).astype(F32)

        value = r * sinf(_PI * x) * sinf(_PI * x / r) / (_PI * _PI * x * x)
        return np.where(x > r, F32(0), np.where(x.astype(np.float64) <= 1e-3, F32(1), value))

    return kernel, r


def _gaussian(x):
    """``exp(-x² / (2σ²))`` with σ = 0.5, radius 1.5; the exponent is evaluated in double, as TF does."""
    return np.where(x >= F32(1.5), F32(0), np.exp((-x * x).astype(np.float64) / 0.5).astype(F32))


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


KERNELS = {  # ScaleAndTranslate kernel name -> (function of |x| >= 0, radius)
    "triangle": (_triangle, F32(1)),
    "keyscubic": (_keys_cubic, F32(2)),
    "mitchellcubic": (_mitchell_cubic, F32(2)),
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
    "gaussian": (_gaussian, F32(1.5)),
}


def _span_plan(n_in, n_out, kernel_name: str, antialias: bool):
    """ScaleAndTranslate with ``scale = f32(out) / f32(in)``, no translation: sample at ``(i + 0.5) / scale``;
    weights ``K(|j + 0.5 - s| / ks)``, ``ks = max(1/scale, 1)`` if antialias else 1, for ``j`` in
    ``[ceil(s - R*ks - 0.5), floor(s + R*ks - 0.5)]`` clamped to the image, summed in float32 and
    normalised to 1. Like TF, every output reads ``min(2*ceil(R*ks) + 1, in)`` taps from its start
    (those past the span with weight 0), stopping at the image edge."""
    kernel, radius = KERNELS[kernel_name]
    inv_scale = F32(1) / (F32(n_out) / F32(n_in))
    kernel_scale = max(inv_scale, F32(1)) if antialias else F32(1)
    reach = radius * kernel_scale
    taps = min(2 * int(np.ceil(reach)) + 1, n_in)
    sample = (np.arange(n_out).astype(F32) + F32(0.5)) * inv_scale
    start = np.clip(np.ceil(sample - reach - F32(0.5)).astype(np.int64), 0, n_in - 1)
    end = np.clip(np.floor(sample + reach - F32(0.5)).astype(np.int64), 0, n_in - 1) + 1
    index = start[:, None] + np.arange(taps)
    position = (index.astype(F32) + F32(0.5)) - sample[:, None]
    weight = np.where(index < end[:, None], kernel(np.abs(position * (F32(1) / kernel_scale))), F32(0))
    total = F32(0)
    for t in range(taps):  # float32 running sum, as TF accumulates it
        total = total + weight[:, t]
    return np.where(index < n_in, index, -1), _normalise(weight, total, F32(0)).astype(F32)


# --- methods on NHWC input ---------------------------------------------------------------------

def _nearest(x, size, align_corners, half_pixel):
    (h, w), (oh, ow) = x.shape[1:3], size
    rows, cols = _nearest_index(h, oh, align_corners, half_pixel), _nearest_index(w, ow, align_corners, half_pixel)
    return x[:, rows][:, :, cols]


def _lerp(a, b, t):
    return _ftz(a + _mul(_ftz(b - a), t))


def _bilinear(x, size, align_corners, half_pixel, coordinates=F32):
    """``top = tl + (tr - tl) * lx``; ``bottom = bl + (br - bl) * lx``; ``top + (bottom - top) * ly``.
    The same size in both axes is a plain cast to float32 (TF's no-op path: nothing flushed)."""
    (h, w), (oh, ow) = x.shape[1:3], size
    if (h, w) == (oh, ow):
        return x.astype(F32)
    x = _ftz(x.astype(F32))
    y0, y1, ly = _bilinear_plan(h, oh, align_corners, half_pixel, coordinates)
    x0, x1, lx = _bilinear_plan(w, ow, align_corners, half_pixel, coordinates)
    rows = _lerp(x[:, :, x0], x[:, :, x1], lx[None, None, :, None])
    return _lerp(rows[:, y0], rows[:, y1], ly[None, :, None, None])


def _separable(x, size, plan, first_axis: int, from_zero: tuple[bool, bool]):
    """Two tap-by-tap float32 passes, ``first_axis`` (1: rows, 2: columns) first, with
    ``plan(n_in, n_out) -> (index, weight)`` per axis; ``from_zero`` per pass, see ``_accumulate``."""
    x = _ftz(x.astype(F32))
    plans = {axis: plan(x.shape[axis], size[axis - 1]) for axis in (1, 2)}
    for axis, zero in zip((first_axis, 3 - first_axis), from_zero):
        x = _accumulate(x, axis, *plans[axis], zero)
    return x


def _bicubic(x, size, align_corners, half_pixel):
    """Along y for each needed column first, then along x: ``((v0*w0 + v1*w1) + v2*w2) + v3*w3``."""
    return _separable(x, size, lambda n, m: _bicubic_plan(n, m, align_corners, half_pixel), 1, (False, False))


def _area(x, size, align_corners):
    """Along x within each input row (first term first), then along y (from zero), ``* f32(1 / (sy * sx))``."""
    (h, w), (oh, ow) = x.shape[1:3], size
    scale = F32(1.0 / float(_scale(h, oh, align_corners) * _scale(w, ow, align_corners)))
    return _mul(_separable(x, size, lambda n, m: _area_plan(n, m, align_corners), 2, (False, True)), scale)


def _scale_and_translate(x, size, kernel_name, antialias):
    """Rows (y) into a float32 buffer, then columns (x), each sum from zero: GatherRows / GatherColumns."""
    return _separable(x, size, lambda n, m: _span_plan(n, m, kernel_name, antialias), 1, (True, True))


def _batched(images, size, fn):
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be HWC or NHWC, got shape {x.shape}")
    oh, ow = (int(v) for v in size)
    if oh < 1 or ow < 1:
        raise ValueError(f"size must be positive, got {tuple(size)}")
    if min(x.shape[-3:-1]) < 1:
        raise ValueError(f"images must have non-zero height and width, got shape {x.shape}")
    with np.errstate(all="ignore"):  # inf - inf, 0 * inf, overflow: IEEE results, as in TF
        out = fn(x if x.ndim == 4 else x[None], (oh, ow))
    return out if x.ndim == 4 else out[0]


def resize(images, size, method="bilinear", antialias=False, coordinates=F32) -> np.ndarray:
    """``tf.image.resize``: bilinear, nearest, bicubic with half-pixel centres; area; lanczos3/5,
    gaussian, mitchellcubic through ScaleAndTranslate. ``antialias`` sends bilinear (triangle kernel)
    and bicubic (Keys cubic) through ScaleAndTranslate too, and widens the kernel when downsampling;
    nearest and area ignore it. float32 output, except nearest, which keeps the input dtype.
    ``coordinates``: the dtype bilinear's source coordinates are held in (float16 on LiteRT's GPU accelerator)."""
    if method not in METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose from {', '.join(METHODS)}")

    def run(x, out):
        if method == "nearest":
            return _nearest(x, out, False, True)
        if method == "area":
            return _area(x, out, False)
        if method == "bilinear" and not antialias:
            return _bilinear(x, out, False, True, coordinates)
        if method == "bicubic" and not antialias:
            return _bicubic(x, out, False, True)
        kernel = {"bilinear": "triangle", "bicubic": "keyscubic"}.get(method, method)
        return _scale_and_translate(x, out, kernel, antialias)

    return _batched(images, size, run)


def resize_v1(images, size, method="bilinear", align_corners=False, half_pixel_centers=False,
              coordinates=F32) -> np.ndarray:
    """The ops behind ``tf.compat.v1.image.resize_{bilinear,nearest_neighbor,bicubic,area}`` with their
    flags; dtypes as in ``resize``. align_corners with half_pixel_centers is rejected, as TF rejects
    it; area has no half-pixel mode. (``tf.compat.v1.image.resize`` passes align_corners only, and
    returns the input itself, in its own dtype, when the size already matches.) ``coordinates`` as in ``resize``."""
    if method not in V1_METHODS:
        raise ValueError(f"unknown v1 resize method {method!r}; choose from {', '.join(V1_METHODS)}")
    if align_corners and half_pixel_centers:
        raise ValueError("align_corners and half_pixel_centers cannot both be True (TF rejects the combination)")
    if method == "area" and half_pixel_centers:
        raise ValueError("resize_area has no half_pixel_centers option")
    if method == "area":
        return _batched(images, size, lambda x, out: _area(x, out, align_corners))
    if method == "bilinear":
        return _batched(images, size, lambda x, out: _bilinear(x, out, align_corners, half_pixel_centers, coordinates))
    fn = {"nearest": _nearest, "bicubic": _bicubic}[method]
    return _batched(images, size, lambda x, out: fn(x, out, align_corners, half_pixel_centers))
