"""reference.tflite on legacy uint8 models against LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``).

The models come from the product's own converter (``tfparity.convert.convert(case, "uint8")``, the TF v1 converter
with ``inference_type=tf.uint8``: calibrated ranges, and ``"uint8-dummy"``: dummy (-1, 1) ranges), so asymmetric
per-tensor uint8 activations and weights with int32 biases; calibrated variants keep float ops (NEG; with older
converters also CONV_2D and ADD, see the float test below) between DEQUANTIZE / QUANTIZE pairs. Every tensor an
op computes (outputs included) must equal LiteRT's bit for bit, on the case's real inputs quantized with the
model's input quantization and on one seeded uniform uint8 draw. Runtime: MTCNN's three nets, the three-net
graph, its NEG variant, the inception block (CONCATENATION of differently quantized inputs) and vgg_block (its
dummy model on the seed-0 draw tells the uint8 conv multiplier's float32 product of scales from a double one);
digits_cnn (SOFTMAX over 10 classes, MEAN) and residual_block are left out here for time (they pass too, see
docs/SEMANTICS.md, "Legacy uint8 kernels").
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import reference.tflite as rt
from reference.tflite import fixedpoint as fx

tf = pytest.importorskip("tensorflow")

from tests.test_reference_exported_ops import litert_tensors  # noqa: E402
from tfparity.cases import Arrays  # noqa: E402
from tfparity.convert import convert  # noqa: E402
from tfparity.lanes.base import Quantization  # noqa: E402
from tfparity.models import MODELS  # noqa: E402
from tfparity.models.spec import ModelSpec  # noqa: E402
from tfparity.models.tasks import fidelity  # noqa: E402

NAMES = ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "mtcnn_pb", "mtcnn_pb_neg", "inception_block", "vgg_block")
MODES = ("uint8", "uint8-dummy")


@cache
def _case(name):
    return MODELS.specs[name].cases("quick", 0)[0]


@cache
def _model(name, mode):
    return convert(_case(name), mode)


def _inputs(graph, case, draw):
    """The case's real inputs quantized with each input tensor's (scale, zero point); or a seeded uniform draw."""
    tensors = [graph.tensors[i] for i in graph.inputs]
    if draw == "real":
        return [Quantization(float(t.scale[0]), int(t.zero_point[0]), t.dtype).quantize(x)
                for t, x in zip(tensors, case.arrays.inputs)]
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, t.shape, dtype=np.uint8) for t in tensors]


@pytest.mark.parametrize("draw", ["real", "random"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_every_tensor_matches_litert_reference_kernels(name, mode, draw):
    model = _model(name, mode)
    graph = rt.load(model)
    uint8_weights = [op.name for op in graph.operators if op.name in ("CONV_2D", "FULLY_CONNECTED")
                     and graph.tensors[op.inputs[1]].dtype == np.uint8]
    assert uint8_weights, "the converter gave no legacy uint8 CONV_2D / FULLY_CONNECTED"
    assert all(graph.tensors[i].dtype == np.uint8 for i in graph.inputs + graph.outputs)
    _assert_every_tensor_equal(model, graph, _inputs(graph, _case(name), draw))


def _assert_every_tensor_equal(model, graph, inputs):
    """Each tensor an op computes, in execution order (the first mismatch is where an error starts), equals LiteRT's
    reference kernels' bit for bit."""
    it = litert_tensors(model, inputs)
    _, tensors = rt.run_indexed(graph, inputs)
    for op in graph.operators:
        tensor = graph.tensors[op.outputs[0]]
        want, got = it.get_tensor(op.outputs[0]), tensors[op.outputs[0]]
        assert got.dtype == want.dtype, f"{op.name} {tensor.name!r}"
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        assert np.array_equal(got, want), (f"{op.name} {tensor.name!r} ({tensor.dtype.__name__}): "
                                           f"{np.count_nonzero(diff)} of {diff.size} differ, max {diff.max()}")


def _gated(params):
    """A hard-swish conv gated by a sigmoid over its channel means (squeeze-and-excite, as in MobileNetV3Small and
    EfficientNetB0), and a tanh branch after a depthwise conv of multiplier 2: legacy uint8 LOGISTIC, TANH,
    DEPTHWISE_CONV_2D and (dummy ranges) HARD_SWISH."""
    import keras

    keras.utils.set_random_seed(0)
    layers, x = keras.layers, keras.Input((8, 8, 3), batch_size=2)
    y = layers.Conv2D(8, 3, padding="same", activation="hard_swish")(x)
    gate = layers.Conv2D(8, 1, activation="sigmoid")(layers.GlobalAveragePooling2D(keepdims=True)(y))
    depthwise = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(y)
    return keras.Model(x, [layers.Multiply()([y, gate]), layers.Conv2D(4, 1, activation="tanh")(depthwise)])


GATED = ModelSpec(name="gated_uint8_probe", samples={"quick": lambda: [{}]}, build=_gated,
                  make_arrays=lambda params, rng: Arrays([2 * rng.standard_normal((2, 8, 8, 3), np.float32)], {}),
                  task=fidelity, budget=("rel_rmse", 0.05))


@pytest.mark.parametrize("mode", MODES)
def test_uint8_tables_and_depthwise_match_litert_reference_kernels(mode):
    """LOGISTIC and TANH (LUTPopulate over the 256 uint8 inputs), HARD_SWISH (hard_swish.h's 16-bit fixed point) and
    DEPTHWISE_CONV_2D (the uint8 conv multiplier) in uint8, on the real inputs and a uniform draw. The calibrated
    converter expands hard-swish into ADD / MUL."""
    case = GATED.cases("quick", 0)[0]
    model = convert(case, mode)
    graph = rt.load(model)
    depthwise = next(op for op in graph.operators if op.name == "DEPTHWISE_CONV_2D")
    assert graph.tensors[depthwise.inputs[1]].dtype == np.uint8
    assert {"LOGISTIC", "TANH"} | ({"HARD_SWISH"} if mode == "uint8-dummy" else set()) <= set(graph.op_names)
    for draw in ("real", "random"):
        _assert_every_tensor_equal(model, graph, _inputs(graph, case, draw))


def test_float_conv_and_fully_connected_sum_in_float32_in_kernel_order():
    """The float islands of calibrated uint8 models (CONV_2D between DEQUANTIZE and QUANTIZE, as older converters
    leave them): reference_ops::Conv / FullyConnected sum ``x * w`` in float32 tap by tap, and so does the executor
    outside float64 mode, bit for bit (SAME stride 2 with bias and RELU, dilated VALID, and a dense layer)."""
    rng = np.random.default_rng(3)
    w, w_dilated = (tf.constant(rng.standard_normal(s).astype(np.float32)) for s in ((3, 3, 5, 7), (3, 3, 5, 6)))
    bias, dense, dense_bias = (tf.constant(rng.standard_normal(s).astype(np.float32)) for s in (7, (175, 9), 9))

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w, 2, "SAME") + bias)
        return tf.matmul(tf.reshape(y, (2, -1)), dense) + dense_bias, tf.nn.conv2d(x, w_dilated, 1, "VALID",
                                                                                  dilations=2)

    concrete = tf.function(fn, input_signature=[tf.TensorSpec((2, 9, 10, 5), tf.float32)]).get_concrete_function()
    model = tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()
    graph = rt.load(model)
    assert sorted(graph.op_names) == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "RESHAPE"]
    inputs = [(rng.standard_normal((2, 9, 10, 5)) * 3).astype(np.float32)]
    it, (_, tensors) = litert_tensors(model, inputs), rt.run_all(graph, inputs)
    for op in graph.operators:
        np.testing.assert_array_equal(tensors[graph.tensors[op.outputs[0]].name], it.get_tensor(op.outputs[0]),
                                      err_msg=op.name)


def test_uint8_conv_multiplier_takes_the_float32_product_of_scales():
    """GetQuantizedConvolutionMultipler: ``double(float32(s_in * s_w)) / double(s_out)``; int8 per channel keeps
    the double product. These scales (from vgg_block's dummy uint8 model) tell the two apart."""
    from reference.tflite.conv import output_multiplier
    from reference.tflite.model import Tensor

    def tensor(scale, dtype):
        return Tensor("t", (1,), dtype, None, np.array([scale], np.float32), np.zeros(1, np.int64), 0)

    x, w, out = 0.007843138, 0.0011347845, 0.007843138
    float32_product = np.float64(np.float32(x) * np.float32(w)) / np.float64(np.float32(out))
    double_product = np.float64(np.float32(x)) * np.float64(np.float32(w)) / np.float64(np.float32(out))
    assert float32_product != double_product
    assert output_multiplier(tensor(x, np.uint8), tensor(w, np.uint8), tensor(out, np.uint8)) == float32_product
    assert output_multiplier(tensor(x, np.int8), tensor(w, np.int8), tensor(out, np.int8)) == double_product


def test_gemmlowp_exp_and_reciprocal_are_close_to_the_real_functions():
    """exp: a 4th-order Taylor expansion at -1/8 on [-1/4, 0], error up to ``e^(-1/8) (1/8)^5 / 5! ~ 2.2e-7``."""
    a = -np.arange(0, 32 << 26, 99991, dtype=np.int64)  # Q5.26 in (-32, 0]
    got = fx.exp_on_negative_values(a, 5) / 2.0**31
    np.testing.assert_allclose(got, np.exp(a / 2.0**26), rtol=0, atol=2.5e-7)
    assert fx.exp_on_negative_values(np.int64(0), 5) == 2**31 - 1
    x = np.arange(0, 2**31, 7919 * 13, dtype=np.int64)  # Q0.31 in [0, 1)
    np.testing.assert_allclose(fx.one_over_one_plus_x(x) / 2.0**31, 1 / (1 + x / 2.0**31), rtol=0, atol=5e-9)


def test_uint8_softmax_is_the_fixed_point_kernel():
    """A row (from digits_cnn) where the float table kernel (the int8 one) gives 231 and LiteRT's uint8 kernel 232."""
    from types import SimpleNamespace

    from reference.tflite.activations import KERNELS
    from reference.tflite.model import Tensor

    tensors = [Tensor("x", (1, 10), np.uint8, None, np.array([0.19240278], np.float32), np.array([150]), 0),
               Tensor("y", (1, 10), np.uint8, None, np.array([1 / 256], np.float32), np.array([0]), 0)]
    row = np.array([[146, 88, 82, 121, 140, 137, 160, 112, 174, 156]], np.uint8)
    ctx = SimpleNamespace(tensor=tensors.__getitem__, value=lambda i: row)
    op = SimpleNamespace(name="SOFTMAX", inputs=[0], outputs=[1], options=SimpleNamespace(Beta=lambda: 1.0))
    np.testing.assert_array_equal(KERNELS["SOFTMAX"](ctx, op), [[1, 0, 0, 0, 0, 0, 16, 0, 232, 7]])
