"""reference.tflite against LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``).

Each case is a tiny TF function converted here (float32, full-integer int8, and int16x8: 16-bit activations,
8-bit weights) from seeded weights and calibration data; the converted model must hold the op under test.
Integer models must agree bit for bit. Float models agree within ``1e-5 * max(1, max|y|)``: LiteRT sums in
float32 in its own order while the executor rounds an exact float64 result once per op, so they differ by
float32 accumulation error, observed at most 1.7e-6 on this scale (a clipped conv; unclipped ones <= 7.5e-7),
while a wrong tap, padding or rounding rule errs by O(1). Element-wise and data-movement ops, and float
RESIZE_BILINEAR (emulated in float32 operation by operation), must match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

import reference
import reference.tflite as rt
from reference.tflite import fixedpoint as fx
from reference.tflite.conv import exact_matmul

tf = pytest.importorskip("tensorflow")
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

RNG = np.random.default_rng(2024)
MODES = ("float", "int8", "int16")


def _constant(*shape):
    return tf.constant(RNG.standard_normal(shape).astype(np.float32))


@dataclass(frozen=True)
class Case:
    fn: object
    shapes: tuple  # one input shape, or a tuple of them
    op: str  # the builtin op the converted model must contain
    modes: tuple = MODES
    exact_float: bool = False
    elementwise: bool = False  # integer modes also run every value of the input type (shape (256, 256))
    calibration_bound: float | None = None  # calibrate on uniform [-b, b] hitting both ends (default: N(0, 2))

    @property
    def input_shapes(self):
        return self.shapes if isinstance(self.shapes[0], tuple) else (self.shapes,)


W3 = _constant(3, 3, 3, 4)
B4 = _constant(4)
PRELU = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(
    RNG.uniform(0.05, 0.5, (4, 4, 3)).astype(np.float32)))
PRELU.build((1, 4, 4, 3))
INT8_AND_FLOAT = ("float", "int8")  # the int16x8 converter refuses these ops
ALL = (256, 256)  # room for every int16 value


def _small_keras_network():
    """conv/2 → batch norm → hard swish → depthwise → ReLU6 → 1x1 conv → residual add → average pool → transpose
    conv → bilinear upsampling → concat → global mean → dense + sigmoid → dense → softmax, seeded."""
    layers, seeds = tf.keras.layers, iter(range(100))

    def init():
        return tf.keras.initializers.GlorotUniform(seed=next(seeds))

    inputs = tf.keras.Input((32, 32, 3), batch_size=2)
    x = layers.Conv2D(16, 3, 2, "same", kernel_initializer=init())(inputs)
    x = layers.Activation("hard_swish")(layers.BatchNormalization()(x))
    y = layers.ReLU(6.0)(layers.DepthwiseConv2D(3, padding="same", depthwise_initializer=init())(x))
    x = layers.Add()([x, layers.Conv2D(16, 1, kernel_initializer=init())(y)])
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", kernel_initializer=init())(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = layers.GlobalAveragePooling2D()(layers.Concatenate()([x, x * 0.5]))
    x = layers.Dense(10, activation="sigmoid", kernel_initializer=init())(x)
    x = layers.Dense(5, kernel_initializer=init())(x)
    return tf.keras.Model(inputs, layers.Softmax()(x))


def _conv(x, w, strides=1, padding="SAME", dilations=1):
    return tf.nn.conv2d(x, w, strides, padding, dilations=dilations)


CASES = {
    # convolutions: strides, padding (SAME, VALID, explicit), dilation, fused activations, wide channels
    "conv_same": Case(lambda x: _conv(x, W3), (1, 8, 8, 3), "CONV_2D"),
    "conv_valid_stride2_5x5": Case(lambda x: _conv(x, _constant(5, 5, 3, 8), 2, "VALID"), (2, 13, 11, 3), "CONV_2D"),
    "conv_stride_2x1": Case(lambda x: _conv(x, W3, (2, 1)), (1, 9, 8, 3), "CONV_2D"),
    "conv_dilated": Case(lambda x: _conv(x, W3, dilations=2), (1, 9, 9, 3), "CONV_2D"),
    "conv_dilated_2x3_valid": Case(lambda x: _conv(x, W3, 1, "VALID", (2, 3)), (1, 11, 12, 3), "CONV_2D"),
    "conv_explicit_padding": Case(lambda x: _conv(x, W3, 1, [[0, 0], [2, 1], [0, 1], [0, 0]]), (1, 7, 7, 3),
                                  "CONV_2D"),
    "conv_bias_relu": Case(lambda x: tf.nn.relu(_conv(x, W3) + B4), (1, 8, 8, 3), "CONV_2D"),
    "conv_bias_relu6": Case(lambda x: tf.nn.relu6(_conv(x, W3) + B4), (1, 8, 8, 3), "CONV_2D"),
    "conv_relu_n1_to_1": Case(lambda x: tf.clip_by_value(_conv(x, W3) + B4, -1.0, 1.0), (1, 8, 8, 3), "CONV_2D"),
    "conv_32_to_64_channels": Case(lambda x: tf.nn.relu(_conv(x, _constant(3, 3, 32, 64))), (1, 12, 12, 32),
                                   "CONV_2D"),
    "depthwise": Case(lambda x: tf.nn.depthwise_conv2d(x, _constant(3, 3, 3, 1), [1, 1, 1, 1], "SAME"),
                      (1, 9, 9, 3), "DEPTHWISE_CONV_2D"),
    "depthwise_multiplier2_stride2": Case(
        lambda x: tf.nn.depthwise_conv2d(x, _constant(3, 3, 3, 2), [1, 2, 2, 1], "VALID"), (2, 9, 10, 3),
        "DEPTHWISE_CONV_2D"),
    "depthwise_dilated_relu6": Case(
        lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(x, _constant(3, 3, 3, 2), [1, 1, 1, 1], "SAME",
                                                     dilations=(2, 2))), (1, 10, 10, 3), "DEPTHWISE_CONV_2D"),
    "transpose_conv_same_stride2": Case(
        lambda x: tf.nn.conv2d_transpose(x, _constant(3, 3, 5, 3), (1, 10, 12, 5), 2, "SAME"), (1, 5, 6, 3),
        "TRANSPOSE_CONV"),
    "transpose_conv_valid": Case(
        lambda x: tf.nn.conv2d_transpose(x, _constant(4, 4, 2, 3), (2, 10, 9, 2), 2, "VALID"), (2, 4, 3, 3),
        "TRANSPOSE_CONV"),
    "fully_connected": Case(lambda x: tf.matmul(tf.reshape(x, (-1, 48)), _constant(48, 10)), (2, 4, 4, 3),
                            "FULLY_CONNECTED"),
    "fully_connected_bias_relu": Case(lambda x: tf.nn.relu(tf.matmul(x, _constant(40, 16)) + _constant(16)),
                                      (3, 40), "FULLY_CONNECTED"),
    # pooling and reductions
    "max_pool_same": Case(lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), (1, 9, 9, 4), "MAX_POOL_2D", exact_float=True),
    "avg_pool_same": Case(lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), (1, 9, 9, 4), "AVERAGE_POOL_2D"),
    "avg_pool_valid_2x3": Case(lambda x: tf.nn.avg_pool2d(x, (2, 3), (2, 1), "VALID"), (2, 8, 8, 3),
                               "AVERAGE_POOL_2D"),
    "mean_hw_keepdims": Case(lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), (2, 5, 7, 3), "MEAN"),
    "mean_last_axis_of_15": Case(lambda x: tf.reduce_mean(x, axis=2), (64, 64, 15), "MEAN"),
    "mean_axis1_3d": Case(lambda x: tf.reduce_mean(x, axis=1), (2, 6, 4), "MEAN"),
    # activations
    "relu": Case(tf.nn.relu, ALL, "RELU", exact_float=True, elementwise=True),
    "relu6": Case(tf.nn.relu6, ALL, "RELU6", exact_float=True, elementwise=True),
    "relu_n1_to_1": Case(lambda x: tf.clip_by_value(x, -1.0, 1.0), ALL, "RELU_N1_TO_1", INT8_AND_FLOAT, True, True),
    "logistic": Case(tf.sigmoid, ALL, "LOGISTIC", elementwise=True),
    "tanh": Case(tf.tanh, ALL, "TANH", elementwise=True),
    # int16 input scales 2^-12 and 2^-11 (bound 32767 * scale): LiteRT's power-of-two shortcut
    "logistic_input_scale_2^-12": Case(tf.sigmoid, ALL, "LOGISTIC", ("int16",), elementwise=True,
                                       calibration_bound=32767 / 4096),
    "tanh_input_scale_2^-11": Case(tf.tanh, ALL, "TANH", ("int16",), elementwise=True, calibration_bound=32767 / 2048),
    "hard_swish": Case(lambda x: x * tf.nn.relu6(x + 3) / 6, ALL, "HARD_SWISH", INT8_AND_FLOAT, True, True),
    "prelu": Case(PRELU, (1, 4, 4, 3), "PRELU", INT8_AND_FLOAT, True),
    "softmax": Case(tf.nn.softmax, (4, 50), "SOFTMAX"),
    "softmax_beta": Case(lambda x: tf.nn.softmax(x * 0.3), (3, 20), "SOFTMAX"),
    "softmax_axis1_transposed": Case(lambda x: tf.nn.softmax(x, axis=1), (2, 6, 5), "SOFTMAX"),
    # arithmetic
    "add_constant": Case(lambda x: x + _constant(3), (1, 5, 5, 3), "ADD", exact_float=True),
    "add_residual": Case(lambda x: tf.nn.relu(x) + x, (2, 4, 4, 3), "ADD", exact_float=True),
    "add_two_inputs_broadcast": Case(lambda x, y: x + y, ((2, 4, 4, 3), (1, 1, 4, 3)), "ADD", exact_float=True),
    "sub_constant": Case(lambda x: x - _constant(3), (1, 5, 5, 3), "SUB", exact_float=True),
    "mul_constant": Case(lambda x: x * _constant(3), (1, 5, 5, 3), "MUL", exact_float=True),
    "mul_residual": Case(lambda x: tf.nn.relu(x) * x, (4, 32, 32, 3), "MUL", exact_float=True),
    # resize (float bilinear: TFLite's four-product form, bit-exact)
    "resize_bilinear_half_pixel": Case(lambda x: tf.image.resize(x, (13, 7), "bilinear"), (1, 6, 9, 3),
                                       "RESIZE_BILINEAR", exact_float=True),
    "resize_bilinear_align_corners": Case(
        lambda x: tf.compat.v1.image.resize_bilinear(x, (11, 17), align_corners=True), (2, 5, 6, 2),
        "RESIZE_BILINEAR", exact_float=True),
    "resize_bilinear_legacy_downscale": Case(lambda x: tf.compat.v1.image.resize_bilinear(x, (4, 7)),
                                             (1, 9, 10, 1), "RESIZE_BILINEAR", exact_float=True),
    "resize_nearest_half_pixel": Case(lambda x: tf.image.resize(x, (13, 7), "nearest"), (1, 6, 9, 3),
                                      "RESIZE_NEAREST_NEIGHBOR", exact_float=True),
    "resize_nearest_align_corners": Case(
        lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, (11, 4), align_corners=True), (1, 5, 6, 2),
        "RESIZE_NEAREST_NEIGHBOR", exact_float=True),
    # data movement (int16 CONCATENATION: inputs requantized by int16 QUANTIZE ops)
    "concatenation": Case(lambda x: tf.concat([tf.nn.relu(x), x * 0.5 + 1.0, x], axis=3), (1, 4, 4, 3),
                          "CONCATENATION", exact_float=True),
    "pad": Case(lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 0], [0, 0]]), (1, 4, 4, 3), "PAD", exact_float=True),
    "padv2_constant": Case(lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 0], [0, 0]], constant_values=0.75),
                           (1, 4, 4, 3), "PADV2", INT8_AND_FLOAT, True),  # int16: LiteRT rejects the float fill
    # small networks
    "conv_relu_pool_fc_softmax": Case(lambda x: tf.nn.softmax(tf.matmul(tf.reshape(
        tf.nn.max_pool2d(tf.nn.relu(_conv(x, W3) + B4), 2, 2, "VALID"), (-1, 64)), _constant(64, 10))),
        (1, 8, 8, 3), "FULLY_CONNECTED"),
    "small_keras_network": Case(_small_keras_network(), (2, 32, 32, 3), "HARD_SWISH", INT8_AND_FLOAT),
}


def _calibration_sample(rng, shape, bound):
    if bound is None:
        return (rng.standard_normal(shape) * 2).astype(np.float32)
    sample = rng.uniform(-bound, bound, shape).astype(np.float32)
    sample.flat[:2] = bound, -bound
    return sample


@cache
def convert(case: Case, mode: str, per_tensor_dense: bool = False) -> bytes:
    fn = tf.function(case.fn, input_signature=[tf.TensorSpec(s, tf.float32) for s in case.input_shapes])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    if mode != "float":
        rng = np.random.default_rng(0)
        samples = [[_calibration_sample(rng, s, case.calibration_bound) for s in case.input_shapes] for _ in range(8)]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
                                               tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8 if mode == "int8" else tf.int16
        converter._experimental_disable_per_channel_quantization_for_dense_layers = per_tensor_dense
    return converter.convert()


def litert(model: bytes, inputs) -> list[np.ndarray]:
    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for detail, x in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def random_inputs(graph, seed: int) -> list[np.ndarray]:
    """float: N(0, 2). Integer: even seeds quantize N(0, 2) with the input's own scale and zero point (the
    calibrated range), odd seeds draw uniformly over the whole type range (saturation, extremes)."""
    rng, inputs = np.random.default_rng(seed), []
    for index in graph.inputs:
        t = graph.tensors[index]
        real = rng.standard_normal(t.shape) * 2
        if not t.quantized:
            inputs.append(real.astype(np.float32))
            continue
        info = np.iinfo(t.dtype)
        q = (np.round(real / t.scale[0]) + t.zero_point[0]) if seed % 2 == 0 else rng.integers(info.min, info.max + 1,
                                                                                                 t.shape)
        inputs.append(np.clip(q, info.min, info.max).astype(t.dtype))
    return inputs


def assert_agrees(model: bytes, graph, inputs, exact: bool):
    (got,), (want,) = rt.run(graph, inputs), litert(model, inputs)
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("name, mode", [(n, m) for n, c in CASES.items() for m in c.modes])
def test_executor_matches_litert_reference_kernels(name, mode):
    case = CASES[name]
    model = convert(case, mode)
    graph = rt.load(model)
    assert case.op in graph.op_names
    for seed in range(4):
        assert_agrees(model, graph, random_inputs(graph, seed), exact=mode != "float" or case.exact_float)
    if case.elementwise and mode != "float":
        dtype = graph.tensors[graph.inputs[0]].dtype
        every = np.resize(np.arange(np.iinfo(dtype).min, np.iinfo(dtype).max + 1), ALL).astype(dtype)
        assert_agrees(model, graph, [every], exact=True)


def test_per_tensor_fully_connected_is_exact_too():
    model = convert(CASES["fully_connected"], "int8", per_tensor_dense=True)
    graph = rt.load(model)
    assert max(t.scale.size for t in graph.tensors) == 1
    for seed in range(10):
        assert_agrees(model, graph, random_inputs(graph, seed), exact=True)


@pytest.mark.parametrize("name, scale_log2", [("logistic_input_scale_2^-12", -12), ("tanh_input_scale_2^-11", -11)])
def test_power_of_two_int16_input_scales_are_reached(name, scale_log2):
    graph = rt.load(convert(CASES[name], "int16"))
    assert graph.tensors[graph.inputs[0]].scale[0] == 2.0**scale_log2


def test_sigmoid_table_is_sigmoid_in_unsigned_0_16():
    from reference.tflite.tables import SIGMOID_U16

    exact = 65536 / (1 + np.exp(-np.arange(256) / 24))
    assert SIGMOID_U16.shape == (256,) and np.all(np.diff(SIGMOID_U16) >= 0)
    assert np.abs(SIGMOID_U16 - exact).max() < 1.2  # hand-rounded entries, none off by more than ~1 unit


def test_unknown_op_is_named():
    model = convert(Case(lambda x: tf.math.abs(x) + 1.0, (2, 3), "ABS"), "float")
    with pytest.raises(NotImplementedError, match="no kernel for builtin op ABS"):
        rt.run(model, [np.zeros((2, 3), np.float32)])


def test_unsupported_tensor_types_are_refused_not_miscomputed():
    fn = tf.function(lambda x: x + 1, input_signature=[tf.TensorSpec((2, 3), tf.int32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    with pytest.raises(NotImplementedError, match="no kernel for ADD with these tensor types"):
        rt.run(model, [np.zeros((2, 3), np.int32)])


def test_float64_mode_is_the_float64_reference():
    x = (RNG.standard_normal((1, 8, 8, 3)) * 2).astype(np.float32)
    (got,) = rt.run(convert(CASES["conv_same"], "float"), [x], float64=True)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference.conv2d(x, W3.numpy(), 1, "SAME"), rtol=1e-12, atol=1e-12)


def test_intermediates_are_exposed_by_name():
    graph = rt.load(convert(CASES["conv_relu_pool_fc_softmax"], "int8"))
    outputs, tensors = rt.run_all(graph, random_inputs(graph, 0))
    assert {graph.tensors[op.outputs[0]].name for op in graph.operators} <= set(tensors)
    assert any(v.shape == (1, 4, 4, 4) for v in tensors.values())  # the pooled activations
    np.testing.assert_array_equal(outputs[0], tensors[graph.tensors[graph.outputs[0]].name])


def test_inputs_by_name_and_bad_inputs():
    graph = rt.load(convert(CASES["add_two_inputs_broadcast"], "float"))
    x, y = random_inputs(graph, 0)
    names = [graph.tensors[i].name for i in graph.inputs]
    np.testing.assert_array_equal(rt.run(graph, {names[1]: y, names[0]: x})[0], rt.run(graph, [x, y])[0])
    with pytest.raises(ValueError, match="takes 2 inputs"):
        rt.run(graph, [x])
    with pytest.raises(ValueError, match="shape"):
        rt.run(graph, [y, x])
    with pytest.raises(ValueError, match="model inputs are"):
        rt.run(graph, {"nope": x})


def test_fixed_point_primitives():
    assert fx.srdhm(-(2**31), -(2**31)) == 2**31 - 1 and fx.srdhm(-(2**15), -(2**15), bits=16) == 2**15 - 1
    assert fx.srdhm(2**30, 2**30) == 2**29
    assert fx.srdhm(3, 2**30) == 2 and fx.srdhm(-3, 2**30) == -1  # ±1.5: ties go up
    np.testing.assert_array_equal(fx.rdbpot([5, -5, 6, -6, 7], 2), [1, -1, 2, -2, 2])  # ±1.25, ±1.5, 1.75
    np.testing.assert_array_equal(fx.trunc_shift([7, -7, -8, -9], 2), [1, -1, -2, -2])
    m, shift = fx.quantize_multiplier([0.5, 0.75, 1 - 2**-40, 2**-40])
    np.testing.assert_array_equal(m, [2**30, 3 * 2**29, 2**30, 0])
    np.testing.assert_array_equal(shift, [0, 0, 1, 0])


@pytest.mark.parametrize("scale", [1, 2**10])  # float32 BLAS below 2^24, float64 above
def test_exact_matmul_is_exact(scale):
    rng = np.random.default_rng(scale)
    x = rng.integers(-255 * scale, 255 * scale + 1, (64, 600))
    w = rng.integers(-127, 128, (600, 32))
    np.testing.assert_array_equal(exact_matmul(x, w), x @ w)
