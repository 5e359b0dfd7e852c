"""reference.tflite on the ops a dynamic-batch export adds (SHAPE, STRIDED_SLICE, PACK), against LiteRT, live.

``TFLiteConverter.from_keras_model`` keeps the batch dimension unknown, so keras.applications' MobileNetV3Small
and EfficientNetB0 (squeeze-and-excite reshapes) come out with SHAPE → STRIDED_SLICE → PACK → RESHAPE chains
that the suite's own fixed-shape conversions fold away. Small models built here (float32, full-integer int8,
int16x8) must agree with LiteRT's reference kernels (``BUILTIN_REF``) on every tensor the executor computes:
integer models and the data-movement ops bit for bit, float arithmetic within float32 rounding. A one-op int8
HARD_SWISH with activations ~1e-6 (as deep in random-weight MobileNetV3Small) checks the int16 rounding quirk
found there. Then the int8 MobileNetV3Small export (96 px, batch 1) must equal the reference kernels on every
tensor, and LiteRT's optimized kernels (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``) op by op on their own inputs (bit
for bit, but for the 1-LSB rounding of their int8 CONV_2D, DEPTHWISE_CONV_2D and MEAN).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import reference.tflite as rt
from reference.tflite.executor import KERNELS, Context

tf = pytest.importorskip("tensorflow")
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

MODES = ("float", "int8", "int16")


def _batch_reshape(x):
    """SHAPE → STRIDED_SLICE (shrink) → PACK → RESHAPE, as keras' Reshape lowers with an unknown batch."""
    y = tf.nn.relu(x)
    return tf.reshape(y, tf.stack([tf.shape(y)[0], 2, -1]))


CASES = {  # name: (function, input shape (None: unknown batch), ops the converted model must hold[, calibration sd])
    "batch_reshape": (_batch_reshape, (None, 4, 4, 3), {"SHAPE", "STRIDED_SLICE", "PACK"}),
    "pack_axis1": (lambda x: tf.stack([x[:, 0], x[:, 2], x[:, 1]], axis=1) * 1.0, (2, 3, 5), {"PACK"}),
    "pack_last": (lambda x: tf.stack([x, x], axis=-1), (2, 3, 5), {"PACK"}),
    "reverse_and_step": (lambda x: x[:, ::-1, 1:5:2, :], (2, 6, 5, 3), {"STRIDED_SLICE"}),
    "negative_bounds": (lambda x: x[:, -2:0:-2, :-1], (2, 7, 5), {"STRIDED_SLICE"}),
    "shrink_and_ellipsis": (lambda x: x[1, ..., ::2], (3, 4, 5, 6), {"STRIDED_SLICE"}),
    "new_axis": (lambda x: x[:, tf.newaxis, 1::3], (2, 7, 3), {"STRIDED_SLICE"}),
    "out_of_range_bounds": (lambda x: x[-9:9, 3:100:2], (3, 8), {"STRIDED_SLICE"}),
    # activations ~1e-6, as deep in the random-weight MobileNetV3Small: the reluish exponent drops below -15
    "tiny_hard_swish": (lambda x: tf.concat([tf.keras.activations.hard_swish(x), x], 0), (256,), {"HARD_SWISH"},
                        1e-6),
}
INT8_AND_FLOAT = {"tiny_hard_swish"}  # the int16x8 quantizer refuses HARD_SWISH


def _converter(fn, shape, mode, calibration_shape, sd=2.0):
    concrete = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if mode != "float":
        rng = np.random.default_rng(0)
        samples = [[(rng.standard_normal(calibration_shape) * sd).astype(np.float32)] for _ in range(4)]
        _integer(converter, mode, samples)
    return converter


def _integer(converter, mode, samples):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
                                           tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8 if mode == "int8" else tf.int16


@cache
def convert(name, mode) -> bytes:
    fn, shape, _, *sd = CASES[name]
    return _converter(fn, shape, mode, tuple(1 if d is None else d for d in shape), *sd).convert()


def litert_tensors(model: bytes, inputs, resolver=OpResolverType.BUILTIN_REF) -> Interpreter:
    it = Interpreter(model_content=model, experimental_op_resolver_type=resolver,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    for detail, x in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], x)
    it.invoke()
    return it


def random_inputs(graph, seed):
    """float: N(0, 2); integer: uniform over the whole type (data movement: every value is as good; the int8
    HARD_SWISH case: shape (256,), so a permutation of every int8 value)."""
    rng, out = np.random.default_rng(seed), []
    for index in graph.inputs:
        t = graph.tensors[index]
        if t.quantized:
            info = np.iinfo(t.dtype)
            if t.dtype == np.int8 and t.shape == (256,):
                out.append(rng.permutation(np.arange(-128, 128)).astype(np.int8))
            else:
                out.append(rng.integers(info.min, info.max + 1, t.shape).astype(t.dtype))
        else:
            out.append((rng.standard_normal(t.shape) * 2).astype(np.float32))
    return out


def assert_every_tensor_agrees(model: bytes, inputs, resolver=OpResolverType.BUILTIN_REF, float_rtol=0.0):
    """Each operator's output as the executor computes it against LiteRT's (preserved) tensor of that index."""
    graph, values = rt.run_indexed(model, inputs)
    it = litert_tensors(model, inputs, resolver)
    for op in graph.operators:
        index = op.outputs[0]
        got, want = values[index], it.get_tensor(index)
        assert got.dtype == want.dtype and got.shape == want.shape, (op.name, got.shape, want.shape)
        if float_rtol and np.issubdtype(want.dtype, np.floating):
            scale = max(1e-30, float(np.abs(want).max(initial=0.0)))
            np.testing.assert_allclose(got, want, rtol=0, atol=float_rtol * scale, err_msg=op.name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=op.name)
    return graph


@pytest.mark.parametrize("name, mode", [(n, m) for n in CASES for m in MODES
                                        if n not in INT8_AND_FLOAT or m != "int16"])
def test_exported_ops_match_litert_reference_kernels(name, mode):
    model = convert(name, mode)
    graph = rt.load(model)
    assert CASES[name][2] <= set(graph.op_names), graph.op_names
    if mode != "float":
        assert graph.tensors[graph.inputs[0]].dtype == (np.int8 if mode == "int8" else np.int16)
    for seed in range(2):
        assert_every_tensor_agrees(model, random_inputs(graph, seed), float_rtol=1e-6)


def test_shape_gives_its_output_type():
    fn = tf.function(lambda x: tf.shape(x, out_type=tf.int64),
                     input_signature=[tf.TensorSpec((None, 3, 2), tf.float32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    graph = rt.load(model)
    assert "SHAPE" in graph.op_names and graph.tensors[graph.outputs[0]].dtype == np.int64
    (got,) = rt.run(graph, random_inputs(graph, 0))
    np.testing.assert_array_equal(got, np.array([1, 3, 2]))
    assert_every_tensor_agrees(model, random_inputs(graph, 0))


def test_strided_slice_zero_stride_is_refused():
    model = convert("reverse_and_step", "float")
    graph = rt.load(model)
    op = next(o for o in graph.operators if o.name == "STRIDED_SLICE")
    graph.tensors[op.inputs[3]].data = np.zeros_like(graph.tensors[op.inputs[3]].data)
    with pytest.raises(ValueError, match="zero stride"):
        rt.run(graph, random_inputs(graph, 0))


@cache
def mobilenet_v3_small_int8_export() -> tuple[bytes, np.ndarray]:
    """The keras export of MobileNetV3Small (96 px, unknown batch: the graph's static batch is 1), full-integer
    int8 calibrated on 4 photograph crops; and one more crop, in [-1, 1] like the suite feeds it."""
    from tfparity.models import applications, photos

    net = applications.network("mobilenet_v3_small", 96)
    crops = photos.random_crops(np.random.default_rng(5), 5, 96) / 127.5 - 1
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    _integer(converter, "int8", [[c[None].astype(np.float32)] for c in crops[:4]])
    return converter.convert(), crops[4:].astype(np.float32)


OPTIMIZED_ROUNDING = {"CONV_2D", "DEPTHWISE_CONV_2D", "MEAN"}  # optimized int8 kernels: 1 LSB off the reference


def op_by_op_against(model: bytes, inputs, resolver) -> dict[str, int]:
    """Each executor kernel on the very input tensors LiteRT (``resolver``) gave that op: the largest difference
    from LiteRT's output of the op, per op name."""
    graph = rt.load(model)
    it, ctx, worst = litert_tensors(model, inputs, resolver), Context(graph, False), {}
    for op in graph.operators:
        ctx.values.update({i: it.get_tensor(i) for i in op.inputs if i >= 0 and graph.tensors[i].data is None})
        got, want = KERNELS[op.name](ctx, op), it.get_tensor(op.outputs[0])
        assert got.dtype == want.dtype and got.shape == want.shape, op.name
        gap = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max(initial=0))
        worst[op.name] = max(worst.get(op.name, 0), gap)
    return worst


def test_int8_mobilenet_v3_small_export_equals_litert():
    """Every tensor equals the reference kernels' end to end. Against the optimized kernels, op by op on their own
    inputs: every op bit-exact except int8 CONV_2D, DEPTHWISE_CONV_2D and MEAN, whose optimized kernels round 1 LSB
    off LiteRT's own reference kernels on a few elements (a LiteRT fact; the differences then compound to several
    LSB of the logits, so the end-to-end outputs are not compared with the optimized kernels)."""
    model, crop = mobilenet_v3_small_int8_export()
    graph = rt.load(model)
    assert {"SHAPE", "STRIDED_SLICE", "PACK", "HARD_SWISH", "MEAN"} <= set(graph.op_names)
    t = graph.tensors[graph.inputs[0]]
    assert t.shape == (1, 96, 96, 3) and t.dtype == np.int8
    photo = np.clip(np.round(crop / t.scale[0]) + t.zero_point[0], -128, 127).astype(np.int8)
    for inputs in ([photo], random_inputs(graph, 1)):
        assert_every_tensor_agrees(model, inputs)
        assert len(np.unique(rt.run(graph, inputs)[0])) > 20  # the logits did not collapse to a few levels
        worst = op_by_op_against(model, inputs, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        assert {name: gap for name, gap in worst.items() if gap > (name in OPTIMIZED_ROUNDING)} == {}
