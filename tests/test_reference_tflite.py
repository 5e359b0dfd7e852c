"""reference.tflite against LiteRT's reference kernels (BUILTIN_REF): int8 bit for bit, float within
float32 rounding. Models are built here with TF's converter from seeded weights."""

import numpy as np
import pytest

import reference.tflite as rt

tf = pytest.importorskip("tensorflow")
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

RNG = np.random.default_rng(2024)


def _convert(fn, shape, int8: bool, seed: int = 0, per_tensor_dense: bool = False, int16: bool = False):
    f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
    if int16:
        rng = np.random.default_rng(seed)
        samples = [[(rng.standard_normal(shape) * 2).astype(np.float32)] for _ in range(8)]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    elif int8:
        rng = np.random.default_rng(seed)
        samples = [[(rng.standard_normal(shape) * 2).astype(np.float32)] for _ in range(8)]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        converter._experimental_disable_per_channel_quantization_for_dense_layers = per_tensor_dense
    return converter.convert()


def _litert(model, x):
    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _weights(*shape):
    return tf.constant(RNG.standard_normal(shape).astype(np.float32))


def _input(shape, int8):
    if int8:
        return RNG.integers(-128, 128, shape).astype(np.int8)
    return (RNG.standard_normal(shape) * 2).astype(np.float32)


def _agree(model, x, int8):
    got, want = rt.run(model, [x])[0], _litert(model, x)
    assert got.dtype == want.dtype and got.shape == want.shape
    if int8:
        np.testing.assert_array_equal(got, want)
    else:  # float32 kernels vs our float64-then-rounded evaluation: a few ulp of the output range
        assert np.abs(got.astype(np.float64) - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


w4 = _weights(3, 3, 3, 4)
w_big = _weights(5, 5, 3, 8)
dw1, dw2 = _weights(3, 3, 3, 1), _weights(3, 3, 3, 2)
fc = _weights(48, 10)
bias = tf.constant(RNG.standard_normal(4).astype(np.float32))

PRELU = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(
    RNG.uniform(0.05, 0.5, (4, 4, 3)).astype(np.float32)))
PRELU.build((1, 4, 4, 3))

MODELS = {
    "conv_same": (lambda x: tf.nn.conv2d(x, w4, 1, "SAME"), (1, 8, 8, 3)),
    "conv_valid_stride2": (lambda x: tf.nn.conv2d(x, w_big, 2, "VALID"), (2, 13, 11, 3)),
    "conv_dilated": (lambda x: tf.nn.conv2d(x, w4, 1, "SAME", dilations=2), (1, 9, 9, 3)),
    "conv_explicit_pad": (lambda x: tf.nn.conv2d(x, w4, 1, [[0, 0], [2, 1], [0, 1], [0, 0]]), (1, 7, 7, 3)),
    "conv_bias_relu": (lambda x: tf.nn.relu(tf.nn.conv2d(x, w4, 1, "SAME") + bias), (1, 8, 8, 3)),
    "conv_bias_relu6": (lambda x: tf.nn.relu6(tf.nn.conv2d(x, w4, 1, "SAME") + bias), (1, 8, 8, 3)),
    "depthwise_m1": (lambda x: tf.nn.depthwise_conv2d(x, dw1, [1, 1, 1, 1], "SAME"), (1, 9, 9, 3)),
    "depthwise_m2_stride2": (lambda x: tf.nn.depthwise_conv2d(x, dw2, [1, 2, 2, 1], "VALID"), (2, 9, 10, 3)),
    "transpose_conv_same_s2": (lambda x: tf.nn.conv2d_transpose(x, _weights(3, 3, 5, 3), (1, 10, 12, 5), 2,
                                                                 "SAME"), (1, 5, 6, 3)),
    "transpose_conv_valid": (lambda x: tf.nn.conv2d_transpose(x, _weights(4, 4, 2, 3), (2, 10, 9, 2), 2, "VALID"),
                             (2, 4, 3, 3)),
    "resize_bilinear_half": (lambda x: tf.image.resize(x, (13, 7), "bilinear"), (1, 6, 9, 3)),
    "resize_bilinear_align": (lambda x: tf.compat.v1.image.resize_bilinear(x, (11, 17), align_corners=True),
                              (2, 5, 6, 2)),
    "resize_bilinear_legacy": (lambda x: tf.compat.v1.image.resize_bilinear(x, (4, 7)), (1, 9, 10, 1)),
    "resize_nearest_half": (lambda x: tf.image.resize(x, (13, 7), "nearest"), (1, 6, 9, 3)),
    "resize_nearest_align": (lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, (11, 4), align_corners=True),
                             (1, 5, 6, 2)),
    "add_const": (lambda x: x + tf.constant(RNG.standard_normal(3).astype(np.float32)), (1, 5, 5, 3)),
    "add_residual": (lambda x: tf.nn.relu(x) + x, (2, 4, 4, 3)),
    "sub_const": (lambda x: x - tf.constant(RNG.standard_normal(3).astype(np.float32)), (1, 5, 5, 3)),
    "mul_const": (lambda x: x * tf.constant(RNG.standard_normal(3).astype(np.float32)), (1, 5, 5, 3)),
    "mul_self": (lambda x: tf.nn.relu(x) * x, (2, 4, 4, 3)),
    "concat": (lambda x: tf.concat([tf.nn.relu(x), x * 0.5 + 1.0, x], axis=3), (1, 4, 4, 3)),
    "prelu": (PRELU, (1, 4, 4, 3)),
    "pad_constant": (lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 0], [0, 0]], constant_values=0.75), (1, 4, 4, 3)),
    "mean_hw_keepdims": (lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), (2, 5, 7, 3)),
    "mean_hw": (lambda x: tf.reduce_mean(x, axis=[1, 2]), (1, 4, 4, 8)),
    "max_pool_same": (lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), (1, 9, 9, 4)),
    "avg_pool_same": (lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), (1, 9, 9, 4)),
    "avg_pool_valid": (lambda x: tf.nn.avg_pool2d(x, 2, 2, "VALID"), (2, 8, 8, 3)),
    "softmax": (tf.nn.softmax, (4, 50)),
    "softmax_axis1_transpose": (lambda x: tf.nn.softmax(x, axis=1), (2, 6, 5)),
    "relu": (tf.nn.relu, (2, 33)),
    "sigmoid": (tf.sigmoid, (2, 40)),
    "tanh": (tf.tanh, (3, 21)),
    "relu6": (tf.nn.relu6, (2, 33)),
    "fully_connected": (lambda x: tf.matmul(tf.reshape(x, (-1, 48)), fc), (2, 4, 4, 3)),
    "conv_pool_fc_softmax": (lambda x: tf.nn.softmax(tf.matmul(tf.reshape(
        tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, w4, 1, "SAME") + bias), 2, 2, "VALID"), (-1, 64)),
        _weights(64, 10))), (1, 8, 8, 3)),
}


@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
@pytest.mark.parametrize("name", list(MODELS))
def test_executor_matches_litert_reference_kernels(name, int8):
    fn, shape = MODELS[name]
    model = _convert(fn, shape, int8)
    for _ in range(10):
        _agree(model, _input(shape, int8), int8)


INT16_MODELS = ["conv_same", "conv_valid_stride2", "conv_bias_relu", "depthwise_m2_stride2", "transpose_conv_same_s2",
                "fully_connected", "max_pool_same", "avg_pool_same", "resize_bilinear_half", "resize_nearest_half"]


@pytest.mark.parametrize("name", INT16_MODELS)
def test_int16x8_matches_litert_reference_kernels(name):
    fn, shape = MODELS[name]
    model = _convert(fn, shape, int8=False, int16=True)
    for _ in range(5):
        x = RNG.integers(-32768, 32768, shape).astype(np.int16)
        np.testing.assert_array_equal(rt.run(model, [x])[0], _litert(model, x))


@pytest.mark.parametrize("name", ["softmax", "sigmoid", "tanh", "relu6"])
def test_int16_ops_without_a_kernel_say_so(name):
    fn, shape = MODELS[name]
    model = _convert(fn, shape, int8=False, int16=True)
    with pytest.raises(NotImplementedError, match="no int16 kernel"):
        rt.run(model, [np.zeros(shape, np.int16)])


def test_per_tensor_fully_connected_is_exact_too():
    fn, shape = MODELS["fully_connected"]
    model = _convert(fn, shape, int8=True, per_tensor_dense=True)
    assert max(t.scale.size for t in rt.load(model).tensors) == 1
    for _ in range(20):
        _agree(model, _input(shape, True), True)


@pytest.mark.parametrize("axis, shape", [(3, (1, 3, 3, 10)), (1, (2, 6, 4))])
def test_mean_over_other_axes_float_and_refused_in_int8(axis, shape):
    fn = lambda x: tf.reduce_mean(x, axis=axis)  # noqa: E731
    _agree(_convert(fn, shape, int8=False), _input(shape, False), False)
    with pytest.raises(NotImplementedError, match="no int8 kernel for MEAN"):
        rt.run(_convert(fn, shape, int8=True), [_input(shape, True)])


def test_prelu_model_holds_a_prelu_op():
    assert "PRELU" in rt.load(_convert(*MODELS["prelu"], int8=True)).op_names


def test_float64_mode_is_the_float64_reference():
    import reference

    model = _convert(MODELS["conv_same"][0], (1, 8, 8, 3), int8=False)
    x = _input((1, 8, 8, 3), False)
    (got,) = rt.run(model, [x], float64=True)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference.conv2d(x, w4.numpy(), 1, "SAME"), rtol=1e-12, atol=1e-12)


def test_intermediates_are_exposed_by_name():
    model = _convert(MODELS["conv_pool_fc_softmax"][0], (1, 8, 8, 3), int8=True)
    outputs, tensors = rt.run_all(model, [_input((1, 8, 8, 3), True)])
    graph = rt.load(model)
    assert {graph.tensors[op.outputs[0]].name for op in graph.operators} <= set(tensors)
    assert any(v.shape == (1, 4, 4, 4) for v in tensors.values())  # the pooled activations
    np.testing.assert_array_equal(outputs[0], tensors[graph.tensors[graph.outputs[0]].name])


def test_unknown_op_is_named():
    model = _convert(lambda x: tf.math.abs(x) + 1.0, (2, 3), int8=False)
    with pytest.raises(NotImplementedError, match="no kernel for builtin op ABS"):
        rt.run(model, [_input((2, 3), False)])


def test_bad_inputs_are_value_errors():
    model = _convert(MODELS["relu"][0], (2, 33), int8=False)
    with pytest.raises(ValueError, match="takes 1 inputs"):
        rt.run(model, [])
    with pytest.raises(ValueError, match="shape"):
        rt.run(model, [np.zeros((3, 3), np.float32)])
