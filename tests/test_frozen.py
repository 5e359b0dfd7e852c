"""Frozen TF1 graphs: the MTCNN .pb the project builds, ``--model graph.pb`` and its one-line errors, the shape a
conversion loses, and the legacy uint8 conversion (calibrated and dummy ranges)."""

from __future__ import annotations

import numpy as np
import pytest

from tfparity.frozen import DUMMY_INPUT_STATS, lost_shapes
from tfparity.models import MODELS, byo, mtcnn_graph
from tfparity.models.mtcnn_nets import network

ARRAYS = {"input_arrays": ",".join(mtcnn_graph.INPUTS.values()), "output_arrays": ",".join(mtcnn_graph.OUTPUTS),
          "input_shapes": "pnet/input=1x40x52x3"}


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    return mtcnn_graph.write(tmp_path_factory.mktemp("pb") / "mtcnn.pb", "maxmin")


@pytest.mark.parametrize("prelu", mtcnn_graph.PRELU_FORMS)
def test_the_frozen_graph_computes_the_keras_nets(prelu):
    """Both PReLU forms give the mtcnn package's Keras nets' outputs (float32 rounding apart)."""
    from tfparity.frozen import FrozenGraph

    graph = FrozenGraph(lambda: mtcnn_graph.graph_def(prelu).SerializeToString(), tuple(mtcnn_graph.INPUTS.values()),
                        mtcnn_graph.OUTPUTS)
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, shape).astype(np.float32) for shape in ((1, 30, 41, 3), (3, 24, 24, 3),
                                                                         (2, 48, 48, 3))]
    import tensorflow as tf

    want = [np.asarray(y) for net, x in zip(("pnet", "rnet", "onet"), inputs) for y in network(net)(x)]
    for fn in (graph.function(), tf.function(graph.function())):  # eager, and traced as the TF lanes run it
        got = [np.asarray(y) for y in fn(*inputs)]
        assert [g.shape for g in got] == [w.shape for w in want]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-5 * max(1.0, float(np.abs(w).max())))


def test_a_frozen_graph_without_arrays_lists_its_placeholders(pb):
    with pytest.raises(ValueError, match=r"give --input-arrays and --output-arrays; its placeholders: pnet/input "
                                         r"\[-1, -1, -1, 3\] float32.*nodes nothing consumes: .*onet/prob1"):
        byo.given_model(str(pb))


def test_unknown_dimensions_need_input_shapes_and_unknown_names_are_listed(pb):
    with pytest.raises(ValueError, match=r"pnet/input is \[-1, -1, -1, 3\] in the graph; give --input-shapes"):
        byo.given_model(str(pb), arrays={**ARRAYS, "input_shapes": None})
    with pytest.raises(ValueError, match=r"no placeholder or node pnet/nope"):
        byo.given_model(str(pb), arrays={**ARRAYS, "output_arrays": "pnet/nope"})
    with pytest.raises(ValueError, match="not NAME=DxDxD"):
        byo.given_model(str(pb), arrays={**ARRAYS, "input_shapes": "pnet/input=1xAx3"})


def test_float64_inputs_get_a_one_line_reason(pb, tmp_path):
    spec = byo.given_model(str(pb), arrays=ARRAYS)
    assert spec.frozen.inputs == tuple(mtcnn_graph.INPUTS.values())
    shapes = [x.shape for x in spec.make_arrays({}, np.random.default_rng(0)).inputs]
    assert shapes == [(1, 40, 52, 3), (1, 24, 24, 3), (1, 48, 48, 3)]
    path = tmp_path / "inputs.npz"
    np.savez(path, *[np.zeros(s) for s in shapes])  # float64, as numpy makes them
    with pytest.raises(ValueError, match="input 0 is float64; the model's inputs are float32"):
        byo.given_model(str(pb), str(path), ARRAYS).make_arrays({}, np.random.default_rng(0))


def test_a_shape_lost_in_conversion_is_named(pb):
    """Converted without ``input_shapes``, P-Net's unknown height and width become 1: the loss names the input."""
    import reference.tflite
    from tfparity.frozen import FrozenGraph

    graph = FrozenGraph(lambda: pb.read_bytes(), tuple(mtcnn_graph.INPUTS.values()), mtcnn_graph.OUTPUTS)
    model = reference.tflite.load(graph.converter(None).convert())
    converted = [model.tensors[i].shape for i in model.inputs]
    lost = lost_shapes([(1, 40, 52, 3), (1, 24, 24, 3), (1, 48, 48, 3)], graph.inputs, converted)
    assert lost == ["pnet/input: converted to [1, 1, 1, 3], asked for [1, 40, 52, 3]"]


def test_uint8_conversion_calibrated_and_dummy():
    """Calibrated: the input's range comes from the draws; dummy: (mean, std) = (128, 128), scale 1/128. The Neg
    form converts too, its NEG left in float between DEQUANTIZE and QUANTIZE."""
    import reference.tflite
    from tfparity.convert import calibration_data, convert

    case = MODELS.specs["mtcnn_pb"].cases("quick", 0)[0]
    calibrated, dummy = (reference.tflite.load(convert(case, mode)) for mode in ("uint8", "uint8-dummy"))
    for graph in (calibrated, dummy):
        assert all(graph.tensors[i].dtype == np.uint8 for i in graph.inputs)
        assert "NEG" not in graph.op_names
    pnet = dummy.tensors[dummy.inputs[0]]
    assert (float(pnet.scale[0]), int(pnet.zero_point[0])) == (1 / DUMMY_INPUT_STATS[1], DUMMY_INPUT_STATS[0])
    draws = calibration_data(case)
    lo, hi = min(float(d[0].min()) for d in draws), max(float(d[0].max()) for d in draws)
    pnet = calibrated.tensors[calibrated.inputs[0]]
    assert float(pnet.scale[0]) == pytest.approx((hi - min(lo, 0)) / 255, rel=1e-6)
    neg = reference.tflite.load(convert(MODELS.specs["mtcnn_pb_neg"].cases("quick", 0)[0], "uint8"))
    at = neg.op_names.index("NEG")
    assert neg.op_names[at - 1: at + 2] == ["DEQUANTIZE", "NEG", "QUANTIZE"]
