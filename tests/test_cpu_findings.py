"""What LiteRT's CPU kernels compute where a whole model deviates, shown from their own output: the strict deviations
rest on these mechanisms, not on error sizes alone."""

import numpy as np
import pytest

from tfparity import lanes


def _mean_model(shape) -> bytes:
    """A float32 model of one MEAN over the spatial axes (keep_dims), as a squeeze-excite block has it."""
    import tensorflow as tf

    fn = tf.function(lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True),
                     input_signature=[tf.TensorSpec(shape, tf.float32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn).convert()


@pytest.mark.parametrize("lane", ["tflite-xnnpack", "tflite-builtin", "tflite-ref"])
def test_a_float_mean_sums_its_window_in_float32_in_order(lane):
    """EfficientNetB0's squeeze-excite MEAN over 112x112 (the op its bisection names on LiteRT's CPU kernels): the sum
    runs position after position in float32 (``cumsum``; a pairwise sum differs), then the builtin and
    reference kernels divide by ``n``, XNNPACK multiplies by ``float32(1 / n)``; bit for bit. Its error grows with the
    window, so at 112x112 it is a multiple of the float64 mean's float32 rounding."""
    shape = (1, 112, 112, 16)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = x / (1 + np.exp(-x))  # swish's output, as the mean's input in the network
    n = np.float32(shape[1] * shape[2])
    total = np.cumsum(x.reshape(-1, shape[3]), axis=0, dtype=np.float32)[-1].reshape(1, 1, 1, -1)
    expected = total * (np.float32(1) / n) if lane == "tflite-xnnpack" else total / n
    runnable = lanes.LANES[lane].load(_mean_model(shape), 1)
    runnable.set_inputs([x])
    runnable.invoke()
    y = runnable.output()
    assert y.dtype == np.float32 and np.array_equal(y, expected)
    exact = x.astype(np.float64).mean(axis=(1, 2), keepdims=True)
    rounding = np.abs(exact.astype(np.float32) - exact).max()
    assert np.abs(y - exact).max() > 8 * rounding
