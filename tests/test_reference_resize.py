"""reference.resize / resize_v1 reproduce TF bit for bit (lanczos and gaussian within 2e-6 relative)."""

import numpy as np
import pytest

import reference as ref
from reference.resize import METHODS, V1_METHODS

RNG = np.random.default_rng(99)
SHAPES = [((1, 8, 8, 3), (16, 16)), ((1, 12, 10, 1), (5, 7)), ((2, 7, 9, 4), (11, 13)), ((1, 6, 6, 16), (3, 3)),
          ((1, 5, 5, 3), (1, 1)), ((1, 6, 9, 3), (1, 12)), ((1, 9, 6, 1), (10, 1)), ((1, 4, 4, 3), (37, 41)),
          ((1, 64, 48, 2), (7, 5)), ((1, 3, 5, 3), (9, 20)), ((1, 1, 1, 2), (3, 2)), ((1, 2, 3, 1), (2, 3))]
APPROX = {"lanczos3", "lanczos5", "gaussian"}


def _image(shape, dtype):
    if dtype == "uint8":
        return RNG.integers(0, 256, shape).astype(np.uint8)
    return (RNG.standard_normal(shape) * 3).astype(np.float32)


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _assert_tf_equal(got, want, method):
    assert got.shape == want.shape and got.dtype == want.dtype
    if method in APPROX:
        scale = max(float(np.abs(want).max()), 1e-30)
        assert np.abs(got.astype(np.float64) - want).max() <= 2e-6 * scale
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_resize_matches_tf(tf, method, antialias, dtype):
    for shape, size in SHAPES:
        x = _image(shape, dtype)
        _assert_tf_equal(ref.resize(x, size, method, antialias=antialias),
                         tf.image.resize(x, size, method, antialias=antialias).numpy(), method)


V1_FLAGS = [(m, a, h) for m in V1_METHODS for a in (False, True) for h in (False, True)
            if not (a and h) and not (m == "area" and h)]


def _v1_tf(tf, method, x, size, align, half):
    v1 = tf.compat.v1.image
    if method == "area":
        return v1.resize_area(x, size, align_corners=align).numpy()
    fn = {"bilinear": v1.resize_bilinear, "nearest": v1.resize_nearest_neighbor, "bicubic": v1.resize_bicubic}[method]
    return fn(x, size, align_corners=align, half_pixel_centers=half).numpy()


@pytest.mark.parametrize("method, align, half", V1_FLAGS)
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_resize_v1_matches_tf(tf, method, align, half, dtype):
    for shape, size in SHAPES:
        x = _image(shape, dtype)
        _assert_tf_equal(ref.resize_v1(x, size, method, align_corners=align, half_pixel_centers=half),
                         _v1_tf(tf, method, x, size, align, half), method)


def test_extreme_ratios_match_tf(tf):
    for shape, size in (((1, 4, 4, 3), (224, 224)), ((1, 224, 224, 3), (7, 7))):
        x = _image(shape, "float32")
        for method in METHODS:
            for antialias in (False, True):
                _assert_tf_equal(ref.resize(x, size, method, antialias=antialias),
                                 tf.image.resize(x, size, method, antialias=antialias).numpy(), method)


# --- identities ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "area"])
def test_identity_size_returns_the_input(method):
    x = _image((2, 7, 5, 3), "float32")
    np.testing.assert_array_equal(ref.resize(x, (7, 5), method), x)


@pytest.mark.parametrize("factor", [2, 3])
def test_integer_nearest_upsampling_repeats_pixels(factor):
    x = _image((1, 4, 5, 2), "uint8")
    want = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
    np.testing.assert_array_equal(ref.resize(x, (4 * factor, 5 * factor), "nearest"), want)
    assert ref.resize(x, (8, 10), "nearest").dtype == np.uint8


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [False, True])
def test_constant_image_stays_constant(method, antialias):
    # Area's weights are float32 overlap fractions (cell + 1 - i*s) that do not sum exactly to 1/scale:
    # a few ulp per axis (TF computes the same values; see the bit-exactness tests). The others
    # renormalise their weights or interpolate with lerps, which keep a constant within an ulp or two.
    x = np.full((1, 9, 7, 2), 3.25, np.float32)
    out = ref.resize(x, (5, 12), method, antialias=antialias)
    ulps = 16 if method == "area" else 4
    np.testing.assert_allclose(out, 3.25, rtol=ulps * np.finfo(np.float32).eps)


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic"])
def test_align_corners_keeps_corner_pixels(method):
    x = _image((1, 5, 6, 3), "float32")
    out = ref.resize_v1(x, (9, 13), method, align_corners=True)
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        np.testing.assert_allclose(out[0, r, c], x[0, r, c], rtol=1e-6)


def test_hwc_images_are_accepted():
    x = _image((6, 4, 3), "float32")
    assert ref.resize(x, (3, 8)).shape == (3, 8, 3)


def test_invalid_flags_and_arguments_raise():
    x = _image((1, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match="cannot both be True"):
        ref.resize_v1(x, (8, 8), "bilinear", align_corners=True, half_pixel_centers=True)
    with pytest.raises(ValueError, match="unknown resize method"):
        ref.resize(x, (8, 8), "cubic")
    with pytest.raises(ValueError, match="size must be positive"):
        ref.resize(x, (0, 8))
    with pytest.raises(ValueError, match="half_pixel_centers"):
        ref.resize_v1(x, (8, 8), "area", half_pixel_centers=True)
