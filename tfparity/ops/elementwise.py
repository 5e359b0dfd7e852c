"""softmax and the activations relu, relu6, sigmoid, tanh.

Inputs are scaled so that saturation regions are exercised (``scale`` in the params).
FLOPs: softmax ~5 per element (max, sub, exp, sum, div); activations 1 per element.
"""

from __future__ import annotations

import numpy as np

import reference
from tfparity.cases import Arrays, OpSpec
from tfparity.ops.common import dims, normal, pick, sample

_SHAPES = ([1, 10], [4, 1000], [1, 1], [2, 7, 7, 16], [1, 3, 5, 8], [8, 64], [1, 112, 112, 32])


def _arrays(params, rng) -> Arrays:
    return Arrays([normal(rng, params["input_shape"], params["scale"])], {})


def _draw_shape(rng, rank_max: int):
    rank = int(rng.integers(1, rank_max + 1))
    return [int(v) for v in rng.choice((1, 2, 3, 5, 7, 8, 16, 33, 100, 256), rank)]


def _softmax_label(params) -> str:
    return f"in={dims(params['input_shape'])},axis={params['axis']},scale={params['scale']:g}"


def _softmax_draw(rng) -> dict:
    shape = _draw_shape(rng, 4)
    if len(shape) == 1:
        shape = [1] + shape
    return dict(input_shape=shape, axis=int(rng.integers(-len(shape), len(shape))),
                scale=pick(rng, (0.1, 1.0, 10.0, 100.0)))


def _softmax_tf(axis: int):
    import tensorflow as tf

    return lambda x: tf.nn.softmax(x, axis=axis)


_SOFTMAX_QUICK = [
    dict(input_shape=[1, 10], axis=-1, scale=1.0),
    dict(input_shape=[4, 1000], axis=-1, scale=10.0),
    dict(input_shape=[2, 7, 7, 16], axis=-1, scale=1.0),
    dict(input_shape=[1, 1], axis=-1, scale=1.0),
    dict(input_shape=[3, 5], axis=0, scale=1.0),
    dict(input_shape=[1, 4, 4, 8], axis=1, scale=4.0),
    dict(input_shape=[8, 64], axis=-1, scale=100.0),
]

SOFTMAX = OpSpec(
    name="softmax", family="softmax",
    samples={"quick": lambda: _SOFTMAX_QUICK, "full": lambda: _SOFTMAX_QUICK + sample(40, 80, _softmax_draw)},
    make_arrays=_arrays,
    tf=lambda params, consts: _softmax_tf(params["axis"]),
    reference=lambda params, inputs, consts: reference.softmax(inputs[0], axis=params["axis"]),
    flops=lambda params: 5 * int(np.prod(params["input_shape"])),
    label=_softmax_label, tflite_ops=frozenset({"SOFTMAX"}),
)


def _activation(name: str, tflite_op: str, scale: float) -> OpSpec:
    quick = [dict(input_shape=list(s), scale=scale) for s in _SHAPES[:5]]

    def draw(rng):
        return dict(input_shape=_draw_shape(rng, 4), scale=pick(rng, (scale / 4, scale, scale * 4)))

    def build_tf(params, consts):
        import tensorflow as tf

        return {"relu": tf.nn.relu, "relu6": tf.nn.relu6, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[name]

    return OpSpec(
        name=name, family="activation",
        samples={"quick": lambda: quick, "full": lambda: quick + [dict(input_shape=list(s), scale=scale)
                                                                    for s in _SHAPES[5:]] + sample(50, 30, draw)},
        make_arrays=_arrays, tf=build_tf,
        reference=lambda params, inputs, consts: getattr(reference, name)(inputs[0]),
        flops=lambda params: int(np.prod(params["input_shape"])),
        label=lambda params: f"in={dims(params['input_shape'])},scale={params['scale']:g}",
        tflite_ops=frozenset({tflite_op}),
    )


SPECS = (
    SOFTMAX,
    _activation("relu", "RELU", 2.0),
    _activation("relu6", "RELU6", 5.0),
    _activation("sigmoid", "LOGISTIC", 6.0),
    _activation("tanh", "TANH", 3.0),
)
