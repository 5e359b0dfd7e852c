"""The float references proven on their own terms: hand-computed cases, algebraic identities,
and agreement with TF in float64 over a seeded grid."""

import numpy as np
import pytest

import reference as ref

RNG = np.random.default_rng(1234)


def _nhwc(image):
    return np.asarray(image, np.float64)[None, :, :, None]


# --- hand-computed -------------------------------------------------------------------------------

def test_sobel_on_a_ramp():
    image = np.tile(np.arange(5.0), (5, 1))  # x-ramp: I[r, c] = c
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)[:, :, None, None]
    out = ref.conv2d(_nhwc(image), sobel_x, padding="VALID")[0, :, :, 0]
    np.testing.assert_array_equal(out, np.full((3, 3), 8.0))  # (1+2+1) * (c+1 - (c-1))
    same = ref.conv2d(_nhwc(image), sobel_x, padding="SAME")[0, :, :, 0]
    # at the left border the zero pad stands in for column -1: (1+2+1)*1 = 4 in the interior rows,
    # (2+1)*1 = 3 at the corners; at the right border column 5 is zero: -(1+2+1)*3 = -12 etc.
    np.testing.assert_array_equal(same[:, 0], [3, 4, 4, 4, 3])
    np.testing.assert_array_equal(same[:, 4], [-9, -12, -12, -12, -9])


def test_avg_pool_same_divides_by_in_image_cells():
    x = _nhwc(np.arange(9.0).reshape(3, 3))
    out = ref.avg_pool2d(x, 2, 2, "SAME")[0, :, :, 0]
    # SAME with k=2, s=2 on 3: out 2, pad total 1 -> bottom/right only
    np.testing.assert_allclose(out, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8 / 1]])


def test_max_pool_padding_never_wins():
    x = _nhwc(-np.arange(1.0, 10.0).reshape(3, 3))  # all negative
    out = ref.max_pool2d(x, 3, 1, "SAME")[0, :, :, 0]
    np.testing.assert_array_equal(out, [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])


def test_softmax_known_values():
    np.testing.assert_allclose(ref.softmax(np.zeros((2, 4))), np.full((2, 4), 0.25))
    np.testing.assert_allclose(ref.softmax(np.log([[1.0, 3.0]])), [[0.25, 0.75]])
    np.testing.assert_allclose(ref.softmax(np.log([[1.0, 3.0]]), beta=2.0), [[0.1, 0.9]])
    np.testing.assert_allclose(ref.softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])  # no overflow


def test_activations_known_values():
    x = np.array([-100.0, -1.0, 0.0, 1.0, 7.0, 100.0])
    np.testing.assert_array_equal(ref.relu(x), [0, 0, 0, 1, 7, 100])
    np.testing.assert_array_equal(ref.relu6(x), [0, 0, 0, 1, 6, 6])
    np.testing.assert_allclose(ref.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ref.sigmoid(np.array([-800.0, 800.0])), [0.0, 1.0])  # no overflow warning
    np.testing.assert_allclose(ref.tanh(x), np.tanh(x))


# --- identities ----------------------------------------------------------------------------------

def test_1x1_conv_is_a_matmul():
    x, w = RNG.standard_normal((2, 5, 6, 7)), RNG.standard_normal((1, 1, 7, 3))
    np.testing.assert_allclose(ref.conv2d(x, w), x @ w[0, 0], rtol=1e-13)


def test_avg_pool_is_a_box_filter_on_interior_cells():
    x = RNG.standard_normal((1, 9, 9, 2))
    box = np.zeros((3, 3, 2, 2))
    box[:, :, 0, 0] = box[:, :, 1, 1] = 1 / 9
    np.testing.assert_allclose(ref.avg_pool2d(x, 3, 1, "VALID"), ref.conv2d(x, box), rtol=1e-13)
    np.testing.assert_allclose(ref.avg_pool2d(x, 3, 1, "SAME")[:, 1:-1, 1:-1], ref.conv2d(x, box), rtol=1e-13)


def test_depthwise_with_multiplier_1_is_per_channel_conv():
    x, w = RNG.standard_normal((2, 7, 8, 3)), RNG.standard_normal((3, 2, 3, 1))
    out = ref.depthwise_conv2d(x, w, 2, "SAME")
    for c in range(3):
        np.testing.assert_allclose(out[..., c:c + 1], ref.conv2d(x[..., c:c + 1], w[:, :, c:c + 1, :], 2, "SAME"),
                                   rtol=1e-13)


@pytest.mark.parametrize("strides, padding, shape", [(1, "VALID", (1, 7, 7, 3)), (2, "SAME", (2, 9, 8, 3)),
                                                     (3, "VALID", (1, 10, 11, 3)), (2, "SAME", (1, 1, 1, 3))])
def test_transpose_conv_is_the_adjoint_of_conv(strides, padding, shape):
    w = RNG.standard_normal((3, 2, 3, 4))  # HWIO for conv2d: 3 in, 4 out
    x = RNG.standard_normal(shape)
    y = RNG.standard_normal(ref.conv2d(x, w, strides, padding).shape)
    lhs = np.vdot(ref.conv2d(x, w, strides, padding), y)
    rhs = np.vdot(x, ref.conv2d_transpose(y, w, shape, strides, padding))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_softmax_sums_to_one_and_ignores_shifts():
    x = RNG.standard_normal((3, 4, 5)) * 10
    for axis in (0, 1, -1):
        s = ref.softmax(x, axis=axis)
        np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-14)
        np.testing.assert_allclose(ref.softmax(x + 123.0, axis=axis), s, rtol=1e-12)


# --- agreement with TF in float64 ----------------------------------------------------------------

def _grid(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        s = int(rng.integers(1, 4))
        d = 1 if s > 1 else int(rng.integers(1, 4))
        k = int(rng.integers(1, 6))
        h, w = (int(v) for v in rng.integers(max(1, (k - 1) * d + 1), 14, 2))
        pad = ["SAME", "VALID", [[0, 0], [int(rng.integers(0, 3)), int(rng.integers(0, 3))],
                                 [int(rng.integers(0, 3)), int(rng.integers(0, 3))], [0, 0]]][int(rng.integers(3))]
        yield dict(shape=(int(rng.integers(1, 3)), h, w, int(rng.integers(1, 5))), k=(k, int(rng.integers(1, 6))),
                   s=s, d=d, pad=pad, m=int(rng.integers(1, 3)), out=int(rng.integers(1, 5)))


def _close(actual, expected, scale):
    assert actual.shape == expected.shape
    assert np.all(np.abs(actual - expected) <= 1e-13 * scale)


@pytest.fixture(scope="module")
def tf():
    tensorflow = pytest.importorskip("tensorflow")
    return tensorflow


@pytest.mark.parametrize("p", list(_grid(40, 5)), ids=str)
def test_conv_and_depthwise_match_tf_float64(tf, p):
    kh, kw = p["k"]
    if p["pad"] == "VALID" and ((kh - 1) * p["d"] + 1 > p["shape"][1] or (kw - 1) * p["d"] + 1 > p["shape"][2]):
        pytest.skip("window larger than input")
    x = RNG.standard_normal(p["shape"])
    w = RNG.standard_normal((kh, kw, p["shape"][3], p["out"]))
    got = ref.conv2d(x, w, p["s"], p["pad"], p["d"])
    want = tf.nn.conv2d(x, w, p["s"], p["pad"], dilations=p["d"]).numpy()
    _close(got, want, ref.conv2d(abs(x), abs(w), p["s"], p["pad"], p["d"]))
    wd = w[..., : p["m"]]
    got = ref.depthwise_conv2d(x, wd, p["s"], p["pad"], p["d"])
    want = tf.nn.depthwise_conv2d(x, wd, [1, p["s"], p["s"], 1], p["pad"], dilations=[p["d"], p["d"]]).numpy()
    _close(got, want, ref.depthwise_conv2d(abs(x), abs(wd), p["s"], p["pad"], p["d"]))


@pytest.mark.parametrize("p", [p for p in _grid(40, 6) if isinstance(p["pad"], str)], ids=str)
def test_transpose_and_pools_match_tf_float64(tf, p):
    kh, kw = p["k"]
    out_shape = (p["shape"][0], p["shape"][1], p["shape"][2], p["out"])
    w = RNG.standard_normal((kh, kw, p["out"], p["shape"][3]))
    if p["pad"] == "VALID" and (kh > out_shape[1] or kw > out_shape[2]):
        pytest.skip("window larger than output")
    x = RNG.standard_normal(ref.conv2d(np.zeros(out_shape), np.zeros((kh, kw, p["out"], 1)), p["s"], p["pad"])
                            .shape[:3] + (p["shape"][3],))
    got = ref.conv2d_transpose(x, w, out_shape, p["s"], p["pad"])
    want = tf.nn.conv2d_transpose(x, w, out_shape, p["s"], p["pad"]).numpy()
    _close(got, want, ref.conv2d_transpose(abs(x), abs(w), out_shape, p["s"], p["pad"]))
    # float32 data: TF's CPU MaxPool on float64 tensors returns float32-rounded values (TF 2.21);
    # the max of float32 values is exact in either precision.
    x = RNG.standard_normal(p["shape"]).astype(np.float32)
    if p["pad"] == "VALID" and kh > min(p["shape"][1:3]):
        pytest.skip("window larger than input")
    np.testing.assert_array_equal(ref.max_pool2d(x, kh, p["s"], p["pad"]),
                                  tf.nn.max_pool2d(x, kh, p["s"], p["pad"]).numpy())
    x = x.astype(np.float64)
    _close(ref.avg_pool2d(x, kh, p["s"], p["pad"]), tf.nn.avg_pool2d(x, kh, p["s"], p["pad"]).numpy(),
           ref.avg_pool2d(abs(x), kh, p["s"], p["pad"]))


def test_softmax_and_activations_match_tf_float64(tf):
    x = RNG.standard_normal((3, 4, 5)) * 20
    for axis in (0, 1, 2):
        np.testing.assert_allclose(ref.softmax(x, axis), tf.nn.softmax(x, axis=axis).numpy(), rtol=1e-13, atol=1e-300)
    for name, fn in (("relu", tf.nn.relu), ("relu6", tf.nn.relu6), ("sigmoid", tf.sigmoid), ("tanh", tf.tanh)):
        np.testing.assert_allclose(getattr(ref, name)(x), fn(x).numpy(), rtol=1e-14, atol=1e-300, err_msg=name)


# --- bad arguments -------------------------------------------------------------------------------

def test_bad_arguments_are_value_errors():
    x = np.zeros((1, 5, 5, 3))
    with pytest.raises(ValueError, match="channels"):
        ref.conv2d(x, np.zeros((3, 3, 4, 2)))
    with pytest.raises(ValueError, match="padding"):
        ref.conv2d(x, np.zeros((3, 3, 3, 2)), padding="FULL")
    with pytest.raises(ValueError, match="does not fit"):
        ref.max_pool2d(x, 7, 1, "VALID")
    with pytest.raises(ValueError, match="positive"):
        ref.conv2d(x, np.zeros((3, 3, 3, 2)), strides=0)
    with pytest.raises(ValueError, match="rank 4"):
        ref.avg_pool2d(np.zeros((5, 5)), 2, 2, "VALID")
