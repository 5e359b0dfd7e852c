"""Quantization-parameter lint (tfparity/models/quant_lint.py) on small int8 models converted here: each rule
passes on a clean model and fails on a planted fault; expected values are computed from the graph and the
float inputs, not copied from the lint."""

from __future__ import annotations

import numpy as np
import pytest

import reference.tflite as rt
from tfparity.models.quant_lint import CHANNEL_SPREAD, MULTIPLIER_FLUSH, USED_FRACTION, lint

SHAPE = (1, 8, 8, 3)


def _inputs(seed, scale=1.0):
    return [scale * np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)]


def _weights(outlier=1.0):
    """Conv weights (HWIO, 4 output channels): channel 1 multiplied by ``outlier``, channel 3 all zero."""
    rng = np.random.default_rng(7)
    w = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
    w[..., 1] *= outlier
    w[..., 3] = 0.0
    return w, rng.normal(0, 0.1, 4).astype(np.float32)


def _convert(w, b, calibration_scale=None) -> bytes:
    """conv + bias + relu; float, or full-integer int8 calibrated on 8 draws × ``calibration_scale``."""
    import tensorflow as tf

    def fn(x):
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + b)

    concrete = tf.function(fn, input_signature=[tf.TensorSpec(SHAPE, tf.float32)]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if calibration_scale is not None:
        samples = [_inputs(100 + i, calibration_scale) for i in range(8)]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


@pytest.fixture(scope="module")
def models():
    w, b = _weights()
    _, float_tensors = rt.run_all(_convert(w, b), _inputs(1), float64=True)
    return {"clean": _convert(w, b, 1.0), "wide": _convert(w, b, 100.0), "float_tensors": float_tensors,
            "spread": _convert(*_weights(outlier=1e-5), 1.0)}


def _weight(graph):
    return next(i for i, t in enumerate(graph.tensors) if t.data is not None and t.dtype == np.int8)


def _conv(graph):
    return next(op for op in graph.operators if op.name == "CONV_2D")


def test_a_clean_model_has_no_findings(models):
    graph = rt.load(models["clean"])
    assert set(models["float_tensors"]) >= {graph.tensors[i].name for i in (*graph.inputs, *graph.outputs)}
    scales = graph.tensors[_weight(graph)].scale
    assert scales.max() / scales.min() > CHANNEL_SPREAD  # only through the all-zero channel, which is ignored
    assert lint(graph, models["float_tensors"]) == []


def test_a_channel_far_below_its_neighbours_is_a_channel_spread(models):
    graph = rt.load(models["spread"])
    weight = graph.tensors[_weight(graph)]
    findings = lint(graph, {})
    assert [f["kind"] for f in findings] == ["channel_spread"] and findings[0]["tensor"] == weight.name
    w, _ = _weights(outlier=1e-5)
    peak = np.abs(w[..., :3]).max(axis=(0, 1, 2))  # per-channel scale = max|w| / 127; channel 3 (zero) ignored
    assert findings[0]["value"] == pytest.approx(peak.max() / peak.min(), rel=1e-3)
    assert findings[0]["bound"] == CHANNEL_SPREAD and findings[0]["ops"] == ["#0 CONV_2D"]


def test_calibration_on_inputs_100x_larger_leaves_the_range_unused(models):
    graph = rt.load(models["wide"])
    findings = lint(graph, models["float_tensors"])
    names = {graph.tensors[i].name for i in (*graph.inputs, *graph.outputs)}
    assert {f["kind"] for f in findings} == {"unused_range"} and {f["tensor"] for f in findings} == names
    x, t = _inputs(1)[0].astype(np.float64), graph.tensors[graph.inputs[0]]
    fraction = (max(x.max(), 0) - min(x.min(), 0)) / (255 * float(t.scale[0]))
    found = next(f for f in findings if f["tensor"] == t.name)
    assert found["value"] == pytest.approx(fraction, rel=1e-9) and fraction < 2 / 100  # ≈ 1/100
    assert found["bound"] == USED_FRACTION
    assert f"{-np.log2(fraction):.1f} bits lost" in found["detail"]


def test_zero_and_tiny_scales_are_reported(models):
    graph = rt.load(models["clean"])
    conv = _conv(graph)
    x, w, out = (graph.tensors[i] for i in conv.inputs[:2] + conv.outputs)
    w.scale[2] = 0.0
    assert [(f["kind"], f["tensor"]) for f in lint(graph, {})] == [("zero_scale", w.name)]

    graph = rt.load(models["clean"])
    bias = graph.tensors[conv.inputs[2]]
    bias.data, bias.scale[:] = np.zeros_like(bias.data), 0.0  # a constant of zeros: any scale holds it
    assert lint(graph, {}) == []

    graph = rt.load(models["clean"])
    graph.tensors[graph.outputs[0]].scale[0] = 1e-40  # float32 subnormal
    assert [(f["kind"], f["tensor"]) for f in lint(graph, {})] == [("tiny_scale", out.name)]


@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_an_effective_multiplier_below_2_to_minus_32_is_flushed(models, factor):
    """Plant the conv input's scale so that ``s_in * min(s_w) / s_out`` is ``factor * 2^-32``."""
    graph = rt.load(models["clean"])
    conv = _conv(graph)
    x, w, out = (graph.tensors[i] for i in conv.inputs[:2] + conv.outputs)
    x.scale[0] = factor * MULTIPLIER_FLUSH * float(out.scale[0]) / float(w.scale.min())
    findings = lint(graph, {})
    effective = float(x.scale[0]) * w.scale.astype(np.float64).min() / float(out.scale[0])
    if factor < 1:
        assert [(f["kind"], f["tensor"]) for f in findings] == [("tiny_scale", out.name)]
        assert findings[0]["value"] == pytest.approx(effective) and findings[0]["bound"] == 2.0**-32
    else:
        assert findings == []
