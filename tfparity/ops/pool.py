"""max_pool2d and avg_pool2d entries. FLOPs: one op per window tap per output element. ``special`` variants plant
NaN, ±Inf, -0.0, subnormals or huge values, or scale the input past the calibrated range (tfparity/ops/common.py)."""

from __future__ import annotations

import numpy as np

import reference
from reference.windows import output_size
from reference.windows import pads as padding_amounts
from tfparity.cases import Arrays, Deviation, OpSpec
from tfparity.lanes import GPU_LANES, XNNPACK_FLOAT_LANES
from tfparity.ops.common import (
    CHANNELS,
    MAX_ELEMENTS,
    SPATIAL,
    clamps_infinity,
    dims,
    flushes_subnormals,
    normal,
    pick,
    sample,
    special_label,
    special_symptom,
    special_values,
    with_layers,
    with_specials,
)


def _arrays(params, rng) -> Arrays:
    return Arrays([special_values(normal(rng, params["input_shape"]), params, rng)], {})


def _label(params) -> str:
    return (f"in={dims(params['input_shape'])},k={params['ksize']},s={params['strides']},"
            f"pad={params['padding']}" + special_label(params))


def _out_hw(params) -> tuple[int, int]:
    n, h, w, _ = params["input_shape"]
    k, s = params["ksize"], params["strides"]
    (t, b), (l, r) = padding_amounts(params["padding"], (h, w), (k, k), s)
    return output_size(h, k, s, 1, t, b), output_size(w, k, s, 1, l, r)


def _flops(params) -> int:
    oh, ow = _out_hw(params)
    n, _, _, c = params["input_shape"]
    return n * oh * ow * c * params["ksize"] ** 2


def _draw(rng, max_flops, sizes=SPATIAL, channels=CHANNELS) -> dict | None:
    h = pick(rng, sizes)
    w = h if rng.random() < 0.7 else pick(rng, sizes)
    k = int(rng.integers(1, 8))
    params = dict(input_shape=[pick(rng, (1, 1, 2, 4)), h, w, pick(rng, channels)], ksize=k,
                  strides=int(rng.integers(1, 4)), padding=pick(rng, ("SAME", "VALID")))
    if params["padding"] == "VALID" and k > min(h, w):
        return None
    small = int(np.prod(params["input_shape"])) <= MAX_ELEMENTS
    return params if small and _flops(params) <= max_flops else None


_CORNERS = [
    dict(input_shape=[1, 8, 8, 3], ksize=2, strides=2, padding="VALID"),
    dict(input_shape=[1, 9, 9, 4], ksize=3, strides=2, padding="SAME"),
    dict(input_shape=[1, 7, 7, 2], ksize=3, strides=1, padding="SAME"),
    dict(input_shape=[2, 10, 11, 3], ksize=4, strides=3, padding="SAME"),
    dict(input_shape=[1, 5, 5, 1], ksize=5, strides=1, padding="VALID"),
    dict(input_shape=[1, 3, 3, 8], ksize=7, strides=1, padding="SAME"),
    dict(input_shape=[1, 1, 1, 16], ksize=1, strides=1, padding="VALID"),
    dict(input_shape=[1, 14, 14, 32], ksize=2, strides=2, padding="SAME"),
]


# Special variants: 6 channels, so SIMD kernels also take their remainder path; SAME padding at the border.
_SPECIAL = dict(input_shape=[1, 9, 9, 6], ksize=3, strides=2, padding="SAME")


def _grid(seed, more):
    """Quick: the corners, sampled cases and the nan / inf / saturate variants; full adds the ``more`` variants."""
    small = dict(sizes=SPATIAL[:9], channels=CHANNELS[:6])
    specials = with_specials(_SPECIAL, ("nan", "inf", "saturate"))
    return {
        "quick": lambda: _CORNERS + sample(seed, 10, lambda rng: _draw(rng, 1e6, **small)) + specials,
        "full": lambda: (_CORNERS + sample(seed + 1, 160, lambda rng: _draw(rng, 2e8)) + specials
                         + with_specials(_SPECIAL, more)),
    }


def _pool_tf(name):
    def build(params, consts):
        import tensorflow as tf

        fn = getattr(tf.nn, name)
        return lambda x: fn(x, params["ksize"], params["strides"], params["padding"])

    return build


def _ref(name):
    return lambda params, inputs, consts: getattr(reference, name)(
        inputs[0], params["ksize"], params["strides"], params["padding"])


MAX_POOL2D = OpSpec(
    name="max_pool2d", family="pool", make_arrays=_arrays,
    samples=with_layers("max_pool2d", _grid(30, ("negzero", "subnormal", "huge")), _flops),
    tf=_pool_tf("max_pool2d"), reference=_ref("max_pool2d"),
    flops=_flops, label=_label, tflite_ops=frozenset({"MAX_POOL_2D"}),
    known=(Deviation(
        frozenset({"tf-cpu", "tf-xla", "tflite-builtin", "tflite-ref"}) | XNNPACK_FLOAT_LANES | GPU_LANES,
        "every float lane measured drops NaN from max pooling: each window holding a NaN (7 of 7) gives the largest "
        "of its other values, or ±Inf (XNNPACK: -Inf at 2 windows in LiteRT 2.3, +Inf in tflite-runtime 2.14), where "
        "the IEEE 754-2019 maximum (np.max) is NaN; TF documents no NaN rule for max_pool",
        when=lambda p: p.get("special") == "nan",
        symptom=lambda r: special_symptom("NUMBER", "nan")(r) and r["metrics"]["max_abs"] == 0),
        clamps_infinity("max pool"), *flushes_subnormals("max_pool2d", onednn_keeps=True)),
)

AVG_POOL2D = OpSpec(
    name="avg_pool2d", family="pool", make_arrays=_arrays,
    samples=with_layers("avg_pool2d", _grid(31, ("subnormal", "huge")), _flops),
    tf=_pool_tf("avg_pool2d"), reference=_ref("avg_pool2d"),
    magnitude=lambda params, inputs, consts: _ref("avg_pool2d")(params, [np.abs(inputs[0])], consts),
    scale_name="avg|x|",
    flops=_flops, label=_label, tflite_ops=frozenset({"AVERAGE_POOL_2D"}),
    known=(Deviation(
        XNNPACK_FLOAT_LANES,
        "XNNPACK's average pooling (LiteRT 2.3 and tflite-runtime 2.14) gives -Inf for every window holding a NaN "
        "(7 of 7), where the mean of values including a NaN is NaN (IEEE 754)",
        when=lambda p: p.get("special") == "nan", symptom=special_symptom("-inf", "nan")),
        clamps_infinity("average pool")),
)

SPECS = (MAX_POOL2D, AVG_POOL2D)
