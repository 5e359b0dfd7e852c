"""reference.resize / resize_v1 reproduce TF bit for bit (lanczos and gaussian within 2e-6 relative)."""

import numpy as np
import pytest

import reference as ref
from reference.resize import METHODS, V1_METHODS

APPROX = {"lanczos3", "lanczos5", "gaussian"}  # compared within 2e-6 of max(|in|, |out|)
# (input NHWC, output HW): up/down, integer and non-integer ratios, 1x1, 1xN, Nx1, 1-pixel inputs,
# batch > 1, channels 1/3/4/16; then a seeded random draw.
FIXED = [((1, 8, 8, 3), (16, 16)), ((1, 12, 10, 1), (5, 7)), ((2, 7, 9, 4), (11, 13)), ((1, 6, 6, 16), (3, 3)),
         ((1, 5, 5, 3), (1, 1)), ((1, 6, 9, 3), (1, 12)), ((1, 9, 6, 1), (10, 1)), ((1, 4, 4, 3), (37, 41)),
         ((1, 64, 48, 2), (7, 5)), ((1, 3, 5, 3), (9, 20)), ((1, 1, 1, 2), (3, 2)), ((1, 2, 3, 1), (2, 3)),
         ((1, 1, 7, 3), (4, 1)), ((3, 10, 10, 1), (20, 5))]
_draw = np.random.default_rng(2024)
RANDOM = [((int(_draw.integers(1, 3)), *map(int, _draw.integers(1, 25, 2)), int(_draw.choice([1, 3, 4]))),
           tuple(map(int, _draw.integers(1, 40, 2)))) for _ in range(12)]
SHAPES = FIXED + RANDOM
V1_FLAGS = [(m, a, h) for m in V1_METHODS for a in (False, True) for h in (False, True)
            if not (a and h) and not (m == "area" and h)]


def _image(shape, dtype, seed, specials=True):
    """uint8 over the full range, or float32 ~ N(0, 3), with ``specials`` some -0.0 and some negative
    subnormals (TF's kernels flush those: FTZ + DAZ)."""
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    if not specials:
        return x
    pick = rng.random(shape)
    return np.where(pick < 0.1, np.float32(-0.0), np.where(pick > 0.95, np.float32(-1e-38), x))


def _bits(a):
    """The bit pattern (every NaN made the same NaN), so -0.0 != +0.0."""
    if a.dtype.kind != "f":
        return a
    return np.where(np.isnan(a), np.nan, a).astype(a.dtype).view(f"u{a.dtype.itemsize}")


def _assert_tf_equal(got, want, method, x):
    assert got.shape == want.shape and got.dtype == want.dtype
    if method not in APPROX:
        np.testing.assert_array_equal(_bits(got), _bits(want))
        return
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.where(finite, 0, got), np.where(finite, 0, want))  # same infs and NaNs
    x = x[np.isfinite(x)].astype(np.float64)
    scale = max(np.abs(want[finite]).max(initial=0), np.abs(x).max(initial=0), 1e-30)
    assert np.abs(got[finite].astype(np.float64) - want[finite]).max(initial=0) <= 2e-6 * scale


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _v1_tf(tf, method, x, size, align, half):
    v1 = tf.compat.v1.image
    if method == "area":
        return v1.resize_area(x, size, align_corners=align).numpy()
    fn = {"bilinear": v1.resize_bilinear, "nearest": v1.resize_nearest_neighbor, "bicubic": v1.resize_bicubic}[method]
    return fn(x, size, align_corners=align, half_pixel_centers=half).numpy()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_resize_matches_tf(tf, method, antialias, dtype):
    for seed, (shape, size) in enumerate(SHAPES):
        x = _image(shape, dtype, seed)
        _assert_tf_equal(ref.resize(x, size, method, antialias=antialias),
                         tf.image.resize(x, size, method, antialias=antialias).numpy(), method, x)


@pytest.mark.parametrize("method, align, half", V1_FLAGS)
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_resize_v1_matches_tf(tf, method, align, half, dtype):
    for seed, (shape, size) in enumerate(SHAPES):
        x = _image(shape, dtype, seed)
        _assert_tf_equal(ref.resize_v1(x, size, method, align_corners=align, half_pixel_centers=half),
                         _v1_tf(tf, method, x, size, align, half), method, x)


def _assert_every_method_matches_tf(tf, x, size):
    """Every tf.image.resize method x antialias, and every valid v1 flag combination, on ``x``."""
    for method in METHODS:
        for antialias in (False, True):
            _assert_tf_equal(ref.resize(x, size, method, antialias=antialias),
                             tf.image.resize(x, size, method, antialias=antialias).numpy(), method, x)
    for method, align, half in V1_FLAGS:
        _assert_tf_equal(ref.resize_v1(x, size, method, align_corners=align, half_pixel_centers=half),
                         _v1_tf(tf, method, x, size, align, half), method, x)


def test_extreme_ratios_match_tf(tf):
    for seed, (shape, size) in enumerate((((1, 4, 4, 3), (224, 224)), ((1, 224, 224, 3), (7, 7)))):
        x = _image(shape, "float32", seed)
        _assert_every_method_matches_tf(tf, x, size)


@pytest.mark.parametrize("special", ["inf", "-inf", "nan", "tiny"])
def test_special_values_like_tf(tf, special):
    """An inf or NaN reaches exactly the outputs whose taps TF reads (0 * inf is NaN). "tiny": values
    near FLT_MIN; TF flushes a product to zero when its exact value is below FLT_MIN, so
    ``(2^-125 - 2^-149) * 0.5`` gives 0 there, not the FLT_MIN it rounds to."""
    shapes = [((1, 9, 7, 2), (4, 13)), ((1, 6, 12, 1), (17, 5)), ((1, 20, 3, 3), (6, 3)), ((1, 4, 6, 2), (8, 12))]
    for seed, (shape, size) in enumerate(shapes):
        rng = np.random.default_rng(seed)
        if special == "tiny":
            edge = rng.choice([0.0, 2.0**-125 - 2.0**-149, 2.0**-124 - 2.0**-148], shape) * rng.choice([-1, 1], shape)
            x = np.where(rng.random(shape) < 0.5, edge, rng.standard_normal(shape) * 2.0**-125).astype(np.float32)
        else:
            x = _image(shape, "float32", seed)
            x[rng.random(shape) < 0.04] = float(special)
        _assert_every_method_matches_tf(tf, x, size)


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32"])
def test_other_input_dtypes_match_tf(tf, dtype):
    """Values go through float32; nearest keeps the input dtype, every other method returns float32."""
    x = (np.random.default_rng(7).standard_normal((2, 6, 5, 3)) * 100).astype(dtype)
    for method in METHODS:
        _assert_tf_equal(ref.resize(x, (9, 4), method), tf.image.resize(x, (9, 4), method).numpy(), method, x)


def test_tf_rejects_align_corners_with_half_pixel_centers(tf):
    x = _image((1, 4, 4, 1), "float32", 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="half_pixel_centers"):
        tf.compat.v1.image.resize_bilinear(x, (8, 8), align_corners=True, half_pixel_centers=True)


# --- identities (numpy only) ---------------------------------------------------------------------

@pytest.mark.parametrize("method, antialias", [("bilinear", False), ("bilinear", True), ("nearest", False),
                                               ("bicubic", False), ("bicubic", True), ("area", False)])
def test_identity_size_returns_the_input(method, antialias):
    """As in TF (for normal numbers; bilinear keeps even -0.0 and subnormals: a plain cast); lanczos is
    an ulp off (sin(πk) != 0 in float32), gaussian and mitchellcubic smooth."""
    x = _image((2, 7, 5, 3), "float32", 1, specials=False)
    np.testing.assert_array_equal(_bits(ref.resize(x, (7, 5), method, antialias=antialias)), _bits(x))


@pytest.mark.parametrize("method, align, half", V1_FLAGS)
def test_v1_identity_size_returns_the_input(method, align, half):
    x = _image((1, 6, 4, 2), "float32", 2, specials=False)
    np.testing.assert_array_equal(_bits(ref.resize_v1(x, (6, 4), method, align, half)), _bits(x))


@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("half", [False, True])
def test_integer_nearest_upsampling_repeats_pixels(factor, half):
    x = _image((1, 4, 5, 2), "uint8", 3)
    want = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
    got = ref.resize_v1(x, (4 * factor, 5 * factor), "nearest", half_pixel_centers=half)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ref.resize(x, (4 * factor, 5 * factor), "nearest"), want)
    assert got.dtype == np.uint8


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [False, True])
def test_constant_image_stays_constant(method, antialias):
    """Lerps and nearest keep a constant exactly; normalised kernels within a few ulp (their float32
    weights sum to 1 only up to rounding), area within 16 ulp (its overlap fractions ``cell + 1 - i*s``
    do not add up exactly to ``1 / scale``)."""
    x = np.full((1, 9, 7, 2), -3.25, np.float32)
    out = ref.resize(x, (5, 12), method, antialias=antialias)
    assert out.dtype == np.float32
    ulps = 0 if method == "nearest" or (method == "bilinear" and not antialias) else 16 if method == "area" else 4
    np.testing.assert_allclose(out, -3.25, rtol=ulps * np.finfo(np.float32).eps, atol=0)


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic"])
def test_align_corners_keeps_corner_pixels(method):
    """Exactly (area's align_corners scale does not: its cells are not centred on the corners)."""
    x = _image((1, 5, 6, 3), "float32", 4, specials=False)
    out = ref.resize_v1(x, (9, 13), method, align_corners=True)
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        np.testing.assert_array_equal(_bits(out[0, r, c]), _bits(x[0, r, c]))


def test_hwc_images_and_output_dtypes():
    x = _image((6, 4, 3), "uint8", 5)
    assert ref.resize(x, (3, 8)).shape == (3, 8, 3)
    for method in METHODS:
        assert ref.resize(x, (3, 8), method).dtype == (np.uint8 if method == "nearest" else np.float32)


def test_invalid_flags_and_arguments_raise():
    x = _image((1, 4, 4, 1), "float32", 6)
    for method in ("bilinear", "nearest", "bicubic"):
        with pytest.raises(ValueError, match="cannot both be True"):
            ref.resize_v1(x, (8, 8), method, align_corners=True, half_pixel_centers=True)
    with pytest.raises(ValueError, match="half_pixel_centers"):
        ref.resize_v1(x, (8, 8), "area", half_pixel_centers=True)
    with pytest.raises(ValueError, match="unknown resize method"):
        ref.resize(x, (8, 8), "cubic")
    with pytest.raises(ValueError, match="unknown v1 resize method"):
        ref.resize_v1(x, (8, 8), "lanczos3")
    with pytest.raises(ValueError, match="size must be positive"):
        ref.resize(x, (0, 8))
    with pytest.raises(ValueError, match="HWC or NHWC"):
        ref.resize(x[0, 0], (2, 2))
