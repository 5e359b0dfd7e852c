"""reference.nn proven on its own terms: hand-computed cases, algebraic identities, agreement with
TF in float64 over seeded grids, and clear errors for bad arguments."""

import numpy as np
import pytest

from reference import nn
from reference.windows import output_size, pads


def _image(rows):
    """A 2-D list as a [1, H, W, 1] float64 batch."""
    return np.asarray(rows, np.float64)[None, :, :, None]


# --- hand-computed -------------------------------------------------------------------------------

def test_sobel_on_a_ramp():
    ramp = _image(np.tile(np.arange(5.0), (5, 1)))  # I[r, c] = c
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)[:, :, None, None]
    # VALID: (1 + 2 + 1) * ((c + 1) - (c - 1)) = 8 everywhere (a flipped kernel would give -8)
    np.testing.assert_array_equal(nn.conv2d(ramp, sobel_x)[0, :, :, 0], np.full((3, 3), 8.0))
    same = nn.conv2d(ramp, sobel_x, padding="SAME")[0, :, :, 0]
    # left column: the zero pad stands in for column -1, column 1 holds 1: (1+2+1)*1 = 4, at the
    # corners the zero row drops a 1: 3; right column: column 5 is zero, column 3 holds 3: -4*3, -3*3
    np.testing.assert_array_equal(same[:, 0], [3, 4, 4, 4, 3])
    np.testing.assert_array_equal(same[:, 4], [-9, -12, -12, -12, -9])
    np.testing.assert_array_equal(same[1:-1, 1:-1], np.full((3, 3), 8.0))


def test_dilated_and_strided_conv_by_hand():
    x = _image(np.arange(25.0).reshape(5, 5))  # x[r, c] = 5r + c
    corners = np.zeros((2, 2, 1, 1))
    corners[0, 0] = corners[1, 1] = 1  # dilation 2: x[r, c] + x[r + 2, c + 2] = 10r + 2c + 12
    out = nn.conv2d(x, corners, strides=2, dilations=2)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[12, 16], [32, 36]])  # r, c in {0, 2}


def test_depthwise_output_channel_is_c_times_m_plus_m():
    x = np.array([2.0, 3.0]).reshape(1, 1, 1, 2)
    f = np.array([[1.0, 10.0, 100.0], [-1.0, -10.0, -100.0]]).reshape(1, 1, 2, 3)  # [kh, kw, C=2, M=3]
    np.testing.assert_array_equal(nn.depthwise_conv2d(x, f).ravel(), [2, 20, 200, -3, -30, -300])


def test_transpose_conv_by_hand():
    x = _image([[1.0, 2.0], [3.0, 4.0]])
    one = np.ones((1, 1, 1, 1))
    # 1x1 kernel, stride 2: the input lands on even cells; VALID admits output 3 and 4 (last row zero)
    np.testing.assert_array_equal(nn.conv2d_transpose(x, one, (1, 3, 3, 1), 2)[0, :, :, 0],
                                  [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    np.testing.assert_array_equal(nn.conv2d_transpose(x, one, (1, 4, 4, 1), 2)[0, :, :, 0],
                                  [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    # a 2x2 box with stride 2 repeats each pixel: nearest-neighbour upsampling
    np.testing.assert_array_equal(nn.conv2d_transpose(x, np.ones((2, 2, 1, 1)), (1, 4, 4, 1), 2, "SAME")[0, :, :, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    # 3x3 ones, stride 1, SAME: each output cell sums its 3x3 neighbourhood of x
    np.testing.assert_array_equal(nn.conv2d_transpose(x, np.ones((3, 3, 1, 1)), (1, 2, 2, 1), 1, "SAME")[0, :, :, 0],
                                  [[10, 10], [10, 10]])


def test_avg_pool_same_divides_by_in_image_cells():
    x = _image(np.arange(9.0).reshape(3, 3))
    # k=2, s=2 on 3: out 2, total pad 1, all of it bottom/right
    np.testing.assert_array_equal(nn.avg_pool2d(x, 2, 2, "SAME")[0, :, :, 0],
                                  [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8 / 1]])
    # k=3, s=1: the corner windows see 4 cells, the edge windows 6
    np.testing.assert_array_equal(nn.avg_pool2d(x, 3, 1, "SAME")[0, :, :, 0],
                                  [[8 / 4, 15 / 6, 12 / 4], [21 / 6, 36 / 9, 27 / 6], [20 / 4, 33 / 6, 24 / 4]])


def test_max_pool_padding_never_wins():
    x = _image(-np.arange(1.0, 10.0).reshape(3, 3))  # all negative: a zero pad would win
    np.testing.assert_array_equal(nn.max_pool2d(x, 3, 1, "SAME")[0, :, :, 0],
                                  [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])
    np.testing.assert_array_equal(nn.max_pool2d(x, 2, 2, [[0, 0], [1, 0], [1, 0], [0, 0]])[0, :, :, 0],
                                  [[-1, -2], [-4, -5]])


def test_softmax_known_values():
    np.testing.assert_array_equal(nn.softmax(np.zeros((2, 4))), np.full((2, 4), 0.25))
    np.testing.assert_allclose(nn.softmax(np.log([[1.0, 3.0]])), [[0.25, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(nn.softmax(np.log([[1.0, 3.0]]), beta=2.0), [[0.1, 0.9]], rtol=1e-15)
    np.testing.assert_allclose(nn.softmax(np.log([[1.0], [3.0]]), axis=0), [[0.25], [0.75]], rtol=1e-15)
    np.testing.assert_array_equal(nn.softmax(np.array([1000.0, 0.0])), [1.0, 0.0])  # no overflow


def test_activations_known_values():
    x = np.array([-100.0, -1.0, 0.0, 1.0, 7.0, 100.0])
    np.testing.assert_array_equal(nn.relu(x), [0, 0, 0, 1, 7, 100])
    np.testing.assert_array_equal(nn.relu6(x), [0, 0, 0, 1, 6, 6])
    np.testing.assert_allclose(nn.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    with np.errstate(over="raise"):
        np.testing.assert_array_equal(nn.sigmoid(np.array([-800.0, 0.0, 800.0])), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(nn.tanh(x), [-1.0, -0.7615941559557649, 0.0, 0.7615941559557649,
                                            0.9999983369439447, 1.0], rtol=1e-15)  # tanh 1 = (e^2 - 1)/(e^2 + 1)
    assert nn.relu(np.array([1, 2], np.int8)).dtype == np.float64


# --- identities ----------------------------------------------------------------------------------

def test_1x1_conv_is_a_matmul_over_channels():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 5, 6, 7)), rng.standard_normal((1, 1, 7, 3))
    np.testing.assert_allclose(nn.conv2d(x, w), x @ w[0, 0], rtol=1e-13)


def test_dilation_is_a_zero_stuffed_kernel_and_stride_is_subsampling():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 13, 12, 2)), rng.standard_normal((3, 2, 2, 3))
    stuffed = np.zeros((7, 4, 2, 3))
    stuffed[::3, ::3] = w
    np.testing.assert_allclose(nn.conv2d(x, w, dilations=3), nn.conv2d(x, stuffed), rtol=1e-13)
    np.testing.assert_allclose(nn.conv2d(x, w, strides=(2, 3), dilations=3), nn.conv2d(x, stuffed)[:, ::2, ::3],
                               rtol=1e-13)


def test_avg_pool_is_a_box_filter_on_interior_cells():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 9, 9, 2))
    box = np.zeros((3, 3, 2, 2))
    box[:, :, 0, 0] = box[:, :, 1, 1] = 1 / 9
    np.testing.assert_allclose(nn.avg_pool2d(x, 3, 1, "VALID"), nn.conv2d(x, box), rtol=1e-13)
    np.testing.assert_allclose(nn.avg_pool2d(x, 3, 1, "SAME")[:, 1:-1, 1:-1], nn.conv2d(x, box), rtol=1e-13)


def test_depthwise_with_multiplier_1_is_per_channel_conv():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 7, 8, 3)), rng.standard_normal((3, 2, 3, 1))
    out = nn.depthwise_conv2d(x, w, 2, "SAME")
    for c in range(3):
        np.testing.assert_allclose(out[..., c:c + 1], nn.conv2d(x[..., c:c + 1], w[:, :, c:c + 1], 2, "SAME"),
                                   rtol=1e-13)


@pytest.mark.parametrize("out_shape, strides, padding", [
    ((1, 7, 7, 3), 1, "VALID"),
    ((1, 8, 8, 3), 2, "VALID"),  # the last row and column see no window
    ((2, 9, 8, 3), 2, "SAME"),
    ((1, 10, 11, 3), (3, 2), "SAME"),
    ((1, 1, 1, 3), 2, "SAME"),
    ((1, 6, 7, 3), 2, [[0, 0], [2, 1], [0, 1], [0, 0]]),
], ids=lambda v: str(v).replace(" ", ""))
def test_transpose_conv_is_the_adjoint_of_conv(out_shape, strides, padding):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 2, 3, 4))  # HWIO for conv2d (3 in, 4 out) = [kh, kw, out, in] for the transpose
    x = rng.standard_normal(out_shape)
    y = rng.standard_normal(nn.conv2d(x, w, strides, padding).shape)
    assert np.vdot(nn.conv2d(x, w, strides, padding), y) == pytest.approx(
        np.vdot(x, nn.conv2d_transpose(y, w, out_shape, strides, padding)), rel=1e-12)


def test_softmax_sums_to_one_and_ignores_shifts():
    x = np.random.default_rng(6).standard_normal((3, 4, 5)) * 10
    for axis in (0, 1, -1):
        s = nn.softmax(x, axis=axis)
        np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-14)
        np.testing.assert_allclose(nn.softmax(x + 123.0, axis=axis), s, rtol=1e-12)
        np.testing.assert_allclose(nn.softmax(x, axis=axis, beta=0.5), nn.softmax(x / 2, axis=axis), rtol=1e-12)


# --- agreement with TF in float64 ----------------------------------------------------------------
# Inputs go to TF as float64 tensors, never numpy arrays: once tf.nn.max_pool2d has seen a float32
# numpy array, a float64 numpy array is silently computed in float32 (TF 2.21 eager).

@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _pad_id(padding):
    return padding if isinstance(padding, str) else "pad" + "-".join(str(v) for v in np.ravel(padding[1:3]))


def _draw_padding(rng, kh, kw):
    """SAME, VALID, or explicit with each side below the window (tf.nn.max_pool2d's limit)."""
    choice = int(rng.integers(3))
    if choice < 2:
        return ("SAME", "VALID")[choice]
    return [[0, 0], [int(rng.integers(kh)), int(rng.integers(kh))], [int(rng.integers(kw)), int(rng.integers(kw))],
            [0, 0]]


def _grid(seed, count, draw):
    """``count`` parameter sets from ``draw(rng)``, which returns None for a set TF would reject."""
    rng, cases = np.random.default_rng(seed), []
    while len(cases) < count:
        case = draw(rng)
        if case is not None:
            cases.append(pytest.param(case, id=case.pop("id")))
    return cases


def _input(rng):
    """A random NHWC shape: batch 1-2, odd and even sizes 1-11 (both SAME splits), channels 1-4."""
    return 1 + int(rng.integers(2)), int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 5))


def _conv_case(rng, *, depthwise):
    """Kernels up to 4x4, strides 1-3, dilations 1-3; out channels 1-3 or depth multiplier 1-2."""
    n, h, w, c = _input(rng)
    kh, kw, s = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    d = 1 if depthwise and s > 1 else int(rng.integers(1, 4))
    padding = _draw_padding(rng, kh, kw)
    (t, b), (l, r) = pads(padding, (h, w), (kh, kw), s, d)
    if (kh - 1) * d + 1 > h + t + b or (kw - 1) * d + 1 > w + l + r:
        return None
    out = int(rng.integers(1, 3 if depthwise else 4))
    return dict(shape=(n, h, w, c), filters=(kh, kw, c, out), s=s, d=d, padding=padding,
                id=f"x{n}x{h}x{w}x{c}_k{kh}x{kw}_s{s}_d{d}_{_pad_id(padding)}_{'m' if depthwise else 'o'}{out}")


def _within(actual, expected, scale, rel=1e-13):
    """Agreement to float64 rounding: ``|actual - expected| <= rel * scale``, scale = Σ|x||w| per element."""
    assert expected.dtype == np.float64 and actual.shape == expected.shape
    assert np.all(np.abs(actual - expected) <= rel * scale), np.max(np.abs(actual - expected) / scale)


# TF 2.21 CPU runs conv2d with strides > 1 and dilations > 1 (the grid includes them).
@pytest.mark.parametrize("p", _grid(11, 30, lambda rng: _conv_case(rng, depthwise=False)))
def test_conv2d_matches_tf(tf, p):
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal(p["shape"]), rng.standard_normal(p["filters"])
    want = tf.nn.conv2d(tf.constant(x), tf.constant(w), p["s"], p["padding"], dilations=p["d"]).numpy()
    _within(nn.conv2d(x, w, p["s"], p["padding"], p["d"]), want,
            nn.conv2d(abs(x), abs(w), p["s"], p["padding"], p["d"]))


# tf.nn.depthwise_conv2d with strides > 1 and dilations > 1 only warns, then returns a wrongly shaped
# result (space-to-batch around a strided kernel): the grid keeps d = 1 when s > 1.
@pytest.mark.parametrize("p", _grid(21, 30, lambda rng: _conv_case(rng, depthwise=True)))
def test_depthwise_conv2d_matches_tf(tf, p):
    rng = np.random.default_rng(22)
    x, w = rng.standard_normal(p["shape"]), rng.standard_normal(p["filters"])
    want = tf.nn.depthwise_conv2d(tf.constant(x), tf.constant(w), [1, p["s"], p["s"], 1], p["padding"],
                                  dilations=[p["d"], p["d"]]).numpy()
    _within(nn.depthwise_conv2d(x, w, p["s"], p["padding"], p["d"]), want,
            nn.depthwise_conv2d(abs(x), abs(w), p["s"], p["padding"], p["d"]))


def _transpose_case(rng):
    """Any output_shape TF accepts: draw the output, derive the input conv2d would give it."""
    n, oh, ow, o = _input(rng)
    kh, kw, s, c = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = _draw_padding(rng, kh, kw)
    (t, b), (l, r) = pads(padding, (oh, ow), (kh, kw), s)
    if kh > oh + t + b or kw > ow + l + r:
        return None
    h, w = output_size(oh, kh, s, 1, t, b), output_size(ow, kw, s, 1, l, r)
    return dict(x=(n, h, w, c), filters=(kh, kw, o, c), out=(n, oh, ow, o), s=s, padding=padding,
                id=f"x{n}x{h}x{w}x{c}_out{oh}x{ow}x{o}_k{kh}x{kw}_s{s}_{_pad_id(padding)}")


@pytest.mark.parametrize("p", _grid(31, 30, _transpose_case))
def test_conv2d_transpose_matches_tf(tf, p):
    rng = np.random.default_rng(32)
    x, w = rng.standard_normal(p["x"]), rng.standard_normal(p["filters"])
    want = tf.nn.conv2d_transpose(tf.constant(x), tf.constant(w), p["out"], p["s"], p["padding"]).numpy()
    _within(nn.conv2d_transpose(x, w, p["out"], p["s"], p["padding"]), want,
            nn.conv2d_transpose(abs(x), abs(w), p["out"], p["s"], p["padding"]))


def _pool_case(rng):
    n, h, w, c = _input(rng)
    k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    padding = _draw_padding(rng, k, k)
    (t, b), (l, r) = pads(padding, (h, w), (k, k), s)
    if k > min(h + t + b, w + l + r):
        return None
    return dict(shape=(n, h, w, c), k=k, s=s, padding=padding, id=f"x{n}x{h}x{w}x{c}_k{k}_s{s}_{_pad_id(padding)}")


@pytest.mark.parametrize("p", _grid(41, 30, _pool_case))
def test_pools_match_tf(tf, p):
    x = np.random.default_rng(42).standard_normal(p["shape"])
    k, s, padding = p["k"], p["s"], p["padding"]
    np.testing.assert_array_equal(nn.max_pool2d(x, k, s, padding),
                                  tf.nn.max_pool2d(tf.constant(x), k, s, padding).numpy(), strict=True)
    if isinstance(padding, str):  # tf.nn.avg_pool2d takes no explicit padding
        _within(nn.avg_pool2d(x, k, s, padding), tf.nn.avg_pool2d(tf.constant(x), k, s, padding).numpy(),
                nn.avg_pool2d(abs(x), k, s, padding))


def test_softmax_and_activations_match_tf(tf):
    x = np.random.default_rng(51).standard_normal((3, 4, 5)) * 20
    for axis in (0, 1, 2):
        np.testing.assert_allclose(nn.softmax(x, axis), tf.nn.softmax(tf.constant(x), axis=axis).numpy(),
                                   rtol=1e-13, atol=1e-300)
    for fn, want in ((nn.relu, tf.nn.relu), (nn.relu6, tf.nn.relu6), (nn.sigmoid, tf.sigmoid), (nn.tanh, tf.tanh)):
        np.testing.assert_allclose(fn(x), want(tf.constant(x)).numpy(), rtol=1e-14, atol=1e-300, err_msg=fn.__name__)


# --- bad arguments -------------------------------------------------------------------------------

X = np.zeros((1, 5, 5, 3))
W = np.zeros((3, 3, 3, 2))


@pytest.mark.parametrize("call, message", [
    (lambda: nn.conv2d(X, np.zeros((3, 3, 4, 2))), "3 channels but filters"),
    (lambda: nn.depthwise_conv2d(X, np.zeros((3, 3, 2, 1))), "3 channels but filters"),
    (lambda: nn.conv2d(X[0], W), "rank 4"),
    (lambda: nn.avg_pool2d(np.zeros((5, 5)), 2, 2, "VALID"), "rank 4"),
    (lambda: nn.conv2d(X, W, padding="FULL"), "SAME, VALID or explicit"),
    (lambda: nn.conv2d(X, W, padding=[[0, 0], [1, 1], [1, 1]]), "explicit padding must be 4 pairs"),
    (lambda: nn.conv2d(X, W, padding=[[1, 0], [1, 1], [1, 1], [0, 0]]), "zero on N and C"),
    (lambda: nn.conv2d(X, W, strides=0), "positive"),
    (lambda: nn.conv2d(X, W, dilations=3), "does not fit"),
    (lambda: nn.max_pool2d(X, 7, 1, "VALID"), "does not fit"),
    (lambda: nn.max_pool2d(X, 2, 1, [[0, 0], [2, 0], [0, 0], [0, 0]]), "smaller than the window"),
    (lambda: nn.avg_pool2d(X, 2, 1, [[0, 0], [1, 0], [0, 0], [0, 0]]), "SAME or VALID"),
    (lambda: nn.conv2d_transpose(np.zeros((1, 3, 3, 2)), W, (1, 5, 5, 4)), "do not agree"),
    (lambda: nn.conv2d_transpose(np.zeros((1, 3, 3, 2)), W, (1, 6, 5, 3), 1, "SAME"), "spatial shape"),
], ids=["conv-channels", "depthwise-channels", "conv-rank", "pool-rank", "padding-name", "padding-pairs",
        "padding-batch", "stride-0", "dilated-too-big", "pool-too-big", "maxpool-pad-ge-window",
        "avgpool-explicit", "transpose-channels", "transpose-output-shape"])
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
