"""Real-network layer shapes (tfparity/ops/layer_shapes.py): what the networks contain, that each conv mapping
reproduces its Keras layer's output shape through the op's own TF function, and the shipped table."""

import numpy as np
import pytest

from tfparity.ops import REGISTRY, layer_shapes
from tfparity.ops.layer_shapes import NETWORKS, OPS


@pytest.fixture(scope="module")
def shapes():
    """The shapes as the definitions give them now."""
    return layer_shapes.build()


def test_the_shipped_shapes_are_what_the_definitions_give(shapes):
    assert layer_shapes.layer_shapes() == shapes  # else: python -m tfparity.ops.layer_shapes


def _of(shapes, op, net):
    return [p for p in shapes[op] if p["network"] == net]


def test_every_op_has_distinct_real_shapes(shapes):
    assert set(shapes) == set(OPS) and all(shapes.values())
    for params in shapes.values():
        keys = [tuple(sorted((k, str(v)) for k, v in p.items() if k not in ("network", "layer"))) for p in params]
        assert len(set(keys)) == len(keys)
    nets = {net for net, _, _ in NETWORKS}
    assert {p["network"] for p in shapes["conv2d"]} == nets


def test_mobilenet_v2_folds_zero_padding_into_strided_depthwise_convs(shapes):
    depthwise = _of(shapes, "depthwise_conv2d", "mobilenet_v2")
    strided = [p for p in depthwise if p["strides"] == 2]
    assert strided and all(p["padding"] == [[0, 0], [0, 1], [0, 1], [0, 0]] for p in strided)
    assert strided[0]["input_shape"] == [1, 112, 112, 96]  # the unpadded input
    assert _of(shapes, "softmax", "mobilenet_v2") == [
        dict(input_shape=[1, 1000], axis=-1, scale=1.0, network="mobilenet_v2", layer="predictions")]


def test_resnet50_stem(shapes):
    conv = _of(shapes, "conv2d", "resnet50")[0]
    assert conv == dict(input_shape=[1, 224, 224, 3], filter_shape=[7, 7, 3, 64], strides=2,
                        padding=[[0, 0], [3, 3], [3, 3], [0, 0]], dilations=1, network="resnet50", layer="conv1_conv")
    assert _of(shapes, "max_pool2d", "resnet50") == [
        dict(input_shape=[1, 114, 114, 64], ksize=3, strides=2, padding="VALID", network="resnet50",
             layer="pool1_pool")]
    assert _of(shapes, "avg_pool2d", "resnet50") == [
        dict(input_shape=[1, 7, 7, 2048], ksize=7, strides=7, padding="VALID", network="resnet50", layer="avg_pool")]


def test_mtcnn_and_blazeface(shapes):
    pnet = [p["input_shape"] for p in _of(shapes, "softmax", "mtcnn_pnet")]
    assert pnet == [[1, 1, 1, 2], [1, 70, 70, 2]]  # P-Net's prob map at 12 px and at 149 px
    assert [p["input_shape"] for p in _of(shapes, "softmax", "mtcnn_rnet")] == [[1, 2]]
    assert {p["filter_shape"][0] for p in _of(shapes, "depthwise_conv2d", "blazeface")} == {5}
    assert shapes["resize"] == [dict(input_shape=[1, 8, 8, 96], size=[16, 16], dtype="float32", method="bilinear",
                                     antialias=False, network="blazeface", layer="fpn_upsample")]
    assert [p["layer"] for p in shapes["conv2d_transpose"]] == ["fpn_transpose"]


@pytest.fixture(scope="module")
def keras_outputs(shapes):
    """(net, layer name) -> the output shapes of that Keras layer's calls (P-Net runs at two sizes)."""
    outputs = {}
    for net, key, size in NETWORKS:
        for layer, _, out in layer_shapes._trace(layer_shapes._model(key), size):
            outputs.setdefault((net, layer.name), set()).add(tuple(out.shape))
    return outputs


@pytest.mark.parametrize("op", ["conv2d", "depthwise_conv2d", "conv2d_transpose"])
def test_op_reproduces_the_keras_layer_output_shape(shapes, keras_outputs, op):
    """The op's own TF function on the recorded params gives the recorded Keras layer's output shape (for the
    first and last five shapes (the last are BlazeFace's) and every one with padding folded from a ZeroPadding2D)."""
    spec, rng, count = REGISTRY.specs[op], np.random.default_rng(0), len(shapes[op])
    sample = [p for i, p in enumerate(shapes[op]) if min(i, count - 1 - i) < 5 or not isinstance(p["padding"], str)]
    for params in sample:
        case = {k: v for k, v in params.items() if k not in ("network", "layer")}
        fn = spec.tf(case, spec.make_arrays(case, rng).consts)
        got = tuple(fn(np.zeros(case["input_shape"], np.float32)).shape)
        assert got in keras_outputs[params["network"], params["layer"]], params
