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


def _int8_model(keras_model, calibration: np.ndarray) -> bytes:
    """Full-integer int8 conversion (float input and output), calibrated on ``calibration``'s rows."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[None]] for row in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def _softmax_run(lane: str, model: bytes, logits: np.ndarray):
    runnable = lanes.LANES[lane].isolated().load(model, 1)
    runnable.set_inputs([logits])
    runnable.invoke()
    return runnable.output()


def test_the_reference_int8_softmax_aborts_once_its_sum_of_exponentials_reaches_512():
    """LiteRT 2.3's reference int8 SOFTMAX (``BUILTIN_REF``) shifts each ``exp`` by ``num_bits_over_unit + 31 - 8``
    bits, ``num_bits_over_unit = floor(log2(sum of exp(beta * s * (q_i - q_max))))``, and gemmlowp's
    ``RoundingDivideByPOT`` asserts a shift of at most 31: at a sum of 512 or more the process aborts. k of 1000
    logits at the maximum, the rest 8 (in float) below it: k = 480 runs, k = 540 aborts; the optimized kernels run
    both. Nearly equal logits over 512 or more classes (an untrained classifier's) are enough."""
    import tensorflow as tf

    from tfparity.lanes.remote import WorkerCrashed

    keras_model = tf.keras.Sequential([tf.keras.Input((1000,)), tf.keras.layers.Softmax()])
    model = _int8_model(keras_model, np.linspace(-8, 8, 4 * 1000, dtype=np.float32).reshape(4, 1000))

    def logits(k):
        x = np.full((1, 1000), -8.0, np.float32)
        x[0, :k] = 0.0
        return x

    def within_a_step(lane, x):  # the output's step is 1/256
        expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        return np.abs(_softmax_run(lane, model, x) - expected).max() <= 1 / 256

    below, above = logits(480), logits(540)  # sums of exp: 480 + 520 e^-8 = 480.2 and 540.2
    assert within_a_step("tflite-int8-builtin", above)
    assert within_a_step("tflite-int8-ref", below)
    with pytest.raises(WorkerCrashed, match="SIGABRT"):
        _softmax_run("tflite-int8-ref", model, above)


def collapsed_classifier() -> tuple[bytes, np.ndarray]:
    """The issue's case in small: an int8 classifier (float input and output) whose 1000 logits are nearly equal
    (tiny last-layer weights, as an untrained net's), and its calibration images."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    keras_model = tf.keras.Sequential([
        tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(4, 3), tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(1000, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1e-4)),
        tf.keras.layers.Softmax()])
    images = np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 3)).astype(np.float32)
    return _int8_model(keras_model, images), images


def test_the_bisection_names_the_softmax_that_aborts_the_reference_kernels_on_collapsed_logits():
    """The collapsed classifier aborts ``BUILTIN_REF``; the bisection, running prefixes in a worker, names its
    SOFTMAX."""
    from tfparity.models import bisect

    model, images = collapsed_classifier()
    found = bisect.culprit(lanes.LANES["tflite-int8-ref"], model, [images[:1]], 1, "collapsed logits")
    assert found["found"] and found["op"] == "SOFTMAX" and found["how"] == "crash" and found["alone"], found


@pytest.mark.parametrize("scale, aborts", [(1.3e-8, True), (1.7e-8, False)])
def test_the_reference_int8_softmax_aborts_at_load_below_an_input_scale_of_2_to_the_minus_26(scale, aborts):
    """Preparing it, the reference SOFTMAX makes ``beta * s_in * 2**26`` an integer multiplier and checks it exceeds 1
    (``QuantizeMultiplierGreaterThanOne``): an input scale under 2^-26 = 1.49e-8 aborts ``allocate_tensors``. The
    issue's untrained classifiers calibrate their logits to about 7.9e-9."""
    import tensorflow as tf

    from tfparity.lanes.remote import WorkerCrashed

    keras_model = tf.keras.Sequential([tf.keras.Input((1000,)), tf.keras.layers.Softmax()])
    model = _int8_model(keras_model, np.linspace(-127.5, 127.5, 1000, dtype=np.float32)[None] * scale)
    lane = lanes.LANES["tflite-int8-ref"].isolated()
    if aborts:
        with pytest.raises(WorkerCrashed, match="SIGABRT during 'load'"):
            lane.load(model, 1)
    else:
        lane.load(model, 1)
