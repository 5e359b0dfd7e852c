"""conv2d, depthwise_conv2d and conv2d_transpose entries.

FLOPs count a multiply and an add per tap: ``2 * out_elements * kh * kw * in_per_out``. conv2d's ``special``
variants plant NaN or ±Inf in the input, or scale it past the calibrated range (tfparity/ops/common.py).
"""

from __future__ import annotations

import math

import numpy as np

import reference
from reference.windows import effective_size, same_total
from reference.windows import pads as padding_amounts
from tfparity.cases import Arrays, Deviation, OpSpec
from tfparity.lanes import CONVERTED_LANES, GPU_LANES
from tfparity.ops.common import (
    CHANNELS,
    MAX_ELEMENTS,
    SPATIAL,
    clamps_infinity,
    dims,
    normal,
    pad_label,
    pick,
    sample,
    special_label,
    special_values,
    with_layers,
    with_specials,
)


def _arrays(params, rng) -> Arrays:
    x, filters = normal(rng, params["input_shape"]), normal(rng, params["filter_shape"])
    return Arrays([special_values(x, params, rng)], {"filters": filters})


def _label(params) -> str:
    s, d = params["strides"], params.get("dilations", 1)
    return (f"in={dims(params['input_shape'])},k={dims(params['filter_shape'])},s={s},"
            f"pad={pad_label(params['padding'])},d={d}" + special_label(params))


def _fits(params) -> bool:
    """The window fits the padded input (TF rejects the case otherwise)."""
    n, h, w, _ = params["input_shape"]
    kh, kw = params["filter_shape"][:2]
    d = params.get("dilations", 1)
    (t, b), (l, r) = padding_amounts(params["padding"], (h, w), (kh, kw), params["strides"], d)
    return effective_size(kh, d) <= h + t + b and effective_size(kw, d) <= w + l + r


def _draw_padding(rng, k: int, explicit: bool):
    choice = pick(rng, ("SAME", "VALID", "EXPLICIT") if explicit else ("SAME", "VALID"))
    if choice != "EXPLICIT":
        return choice
    t, b, l, r = (int(v) for v in rng.integers(0, k, 4))
    return [[0, 0], [t, b], [l, r], [0, 0]]


def _draw(rng, max_flops: float, kind: str, sizes=SPATIAL, channels=CHANNELS) -> dict | None:
    """One random valid parameter set of ``kind`` (conv2d / depthwise / transpose)."""
    h = pick(rng, sizes)
    w = h if rng.random() < 0.7 else pick(rng, sizes)
    c = pick(rng, channels)
    k = int(rng.integers(1, 8))
    kw = k if rng.random() < 0.8 else int(rng.integers(1, 8))
    s = int(rng.integers(1, 4))
    d = 1 if s > 1 or kind == "transpose" else int(rng.integers(1, 4))
    batch = pick(rng, (1, 1, 1, 2, 4))
    if kind == "conv2d":
        params = dict(input_shape=[batch, h, w, c], filter_shape=[k, kw, c, pick(rng, channels)],
                      strides=s, padding=_draw_padding(rng, min(k, kw), True), dilations=d)
    elif kind == "depthwise":
        params = dict(input_shape=[batch, h, w, c], filter_shape=[k, kw, c, int(rng.integers(1, 3))],
                      strides=s, padding=_draw_padding(rng, min(k, kw), True), dilations=d)
    else:
        params = _transpose_params([batch, h, w, c], [k, kw, pick(rng, channels), c], s, pick(rng, ("SAME", "VALID")))
    if not _fits(params) and kind != "transpose":
        return None
    flops = {"conv2d": _conv_flops, "depthwise": _depthwise_flops, "transpose": _transpose_flops}[kind](params)
    largest = max(int(np.prod(params["input_shape"])), _output_elements(params, kind))
    return params if flops <= max_flops and largest <= MAX_ELEMENTS else None


def _output_elements(params, kind) -> int:
    if kind == "transpose":
        return int(np.prod(params["output_shape"]))
    oh, ow = _out_shape(params)
    channels = params["filter_shape"][3] * (params["filter_shape"][2] if kind == "depthwise" else 1)
    return params["input_shape"][0] * oh * ow * channels


def _out_shape(params) -> tuple[int, int]:
    n, h, w, _ = params["input_shape"]
    kh, kw = params["filter_shape"][:2]
    s, d = params["strides"], params.get("dilations", 1)
    (t, b), (l, r) = padding_amounts(params["padding"], (h, w), (kh, kw), s, d)
    return ((h + t + b - effective_size(kh, d)) // s + 1, (w + l + r - effective_size(kw, d)) // s + 1)


def _conv_flops(params) -> int:
    oh, ow = _out_shape(params)
    kh, kw, c, o = params["filter_shape"]
    return 2 * params["input_shape"][0] * oh * ow * o * kh * kw * c


def _depthwise_flops(params) -> int:
    oh, ow = _out_shape(params)
    kh, kw, c, m = params["filter_shape"]
    return 2 * params["input_shape"][0] * oh * ow * c * m * kh * kw


def _transpose_params(input_shape, filter_shape, s, padding) -> dict:
    """``output_shape`` is the canonical one TF's Keras layer produces:
    SAME ``in * s``, VALID ``(in - 1) * s + k``."""
    n, h, w, _ = input_shape
    kh, kw, o, _ = filter_shape
    size = (lambda i, k: i * s) if padding == "SAME" else (lambda i, k: (i - 1) * s + k)
    return dict(input_shape=input_shape, filter_shape=filter_shape, strides=s, padding=padding,
                output_shape=[n, size(h, kh), size(w, kw), o])


def _transpose_flops(params) -> int:
    kh, kw, o, c = params["filter_shape"]
    return 2 * int(np.prod(params["input_shape"])) * kh * kw * o


def _transpose_label(params) -> str:
    return (f"in={dims(params['input_shape'])},k={dims(params['filter_shape'])},s={params['strides']},"
            f"pad={params['padding']},out={dims(params['output_shape'])}")


def _abs_consts(consts) -> dict:
    return {k: np.abs(v) for k, v in consts.items()}


def _conv_ref(params, inputs, consts):
    return reference.conv2d(inputs[0], consts["filters"], params["strides"], params["padding"], params["dilations"])


def _depthwise_ref(params, inputs, consts):
    return reference.depthwise_conv2d(inputs[0], consts["filters"], params["strides"], params["padding"],
                                      params["dilations"])


def _transpose_ref(params, inputs, consts):
    return reference.conv2d_transpose(inputs[0], consts["filters"], params["output_shape"], params["strides"],
                                      params["padding"])


def _magnitude(ref):
    """``Σ|x||w|`` per output element: the same op applied to the absolute values."""
    return lambda params, inputs, consts: ref(params, [np.abs(x) for x in inputs], _abs_consts(consts))


def _conv_tf(params, consts):
    import tensorflow as tf

    w = tf.constant(consts["filters"])
    return lambda x: tf.nn.conv2d(x, w, params["strides"], params["padding"], dilations=params["dilations"])


def _depthwise_tf(params, consts):
    import tensorflow as tf

    w = tf.constant(consts["filters"])
    s, d = params["strides"], params["dilations"]
    return lambda x: tf.nn.depthwise_conv2d(x, w, [1, s, s, 1], params["padding"], dilations=[d, d])


def _transpose_tf(params, consts):
    import tensorflow as tf

    w = tf.constant(consts["filters"])
    return lambda x: tf.nn.conv2d_transpose(x, w, params["output_shape"], params["strides"], params["padding"])


_CONV_CORNERS = [
    dict(input_shape=[1, 8, 8, 3], filter_shape=[3, 3, 3, 4], strides=1, padding="SAME", dilations=1),
    dict(input_shape=[1, 21, 21, 8], filter_shape=[4, 4, 8, 16], strides=2, padding="SAME", dilations=1),
    dict(input_shape=[1, 9, 9, 4], filter_shape=[3, 3, 4, 8], strides=1, padding="VALID", dilations=1),
    dict(input_shape=[2, 10, 11, 4], filter_shape=[3, 2, 4, 5], strides=3, padding="SAME", dilations=1),
    dict(input_shape=[1, 12, 12, 3], filter_shape=[3, 3, 3, 4], strides=1, padding="SAME", dilations=2),
    dict(input_shape=[1, 13, 13, 2], filter_shape=[3, 3, 2, 3], strides=1, padding="VALID", dilations=3),
    dict(input_shape=[1, 7, 7, 3], filter_shape=[3, 3, 3, 4], strides=1,
         padding=[[0, 0], [1, 2], [0, 1], [0, 0]], dilations=1),
    dict(input_shape=[1, 1, 1, 16], filter_shape=[1, 1, 16, 8], strides=1, padding="VALID", dilations=1),
    dict(input_shape=[1, 16, 16, 32], filter_shape=[1, 1, 32, 64], strides=1, padding="SAME", dilations=1),
    dict(input_shape=[1, 14, 14, 3], filter_shape=[7, 7, 3, 8], strides=2, padding="SAME", dilations=1),
    dict(input_shape=[4, 5, 5, 1], filter_shape=[5, 5, 1, 1], strides=1, padding="SAME", dilations=1),
    dict(input_shape=[1, 2, 2, 4], filter_shape=[3, 3, 4, 2], strides=1, padding="SAME", dilations=1),
]

_DEPTHWISE_CORNERS = [
    dict(input_shape=[1, 8, 8, 4], filter_shape=[3, 3, 4, 1], strides=1, padding="SAME", dilations=1),
    dict(input_shape=[1, 15, 15, 8], filter_shape=[3, 3, 8, 2], strides=2, padding="SAME", dilations=1),
    dict(input_shape=[1, 10, 10, 3], filter_shape=[5, 5, 3, 1], strides=1, padding="VALID", dilations=1),
    dict(input_shape=[2, 12, 12, 4], filter_shape=[3, 3, 4, 2], strides=1, padding="SAME", dilations=2),
    dict(input_shape=[1, 9, 9, 6], filter_shape=[3, 3, 6, 1], strides=3, padding="SAME", dilations=1),
    dict(input_shape=[1, 7, 7, 2], filter_shape=[3, 3, 2, 1], strides=1,
         padding=[[0, 0], [2, 0], [1, 1], [0, 0]], dilations=1),
    dict(input_shape=[1, 1, 1, 16], filter_shape=[1, 1, 16, 1], strides=1, padding="SAME", dilations=1),
    dict(input_shape=[1, 28, 28, 32], filter_shape=[3, 3, 32, 1], strides=1, padding="SAME", dilations=1),
]

_TRANSPOSE_CORNERS = [
    _transpose_params([1, 4, 4, 8], [3, 3, 4, 8], 2, "SAME"),
    _transpose_params([1, 5, 5, 3], [3, 3, 6, 3], 1, "VALID"),
    _transpose_params([1, 7, 7, 4], [4, 4, 2, 4], 2, "VALID"),
    _transpose_params([2, 3, 5, 2], [2, 3, 3, 2], 3, "SAME"),
    _transpose_params([1, 8, 8, 16], [3, 3, 16, 16], 1, "SAME"),
    _transpose_params([1, 1, 1, 4], [2, 2, 4, 4], 2, "VALID"),
]


def _grid(corners, kind, quick_count, full_count, seed, specials=()):
    """The corners, then sampled cases, then ``specials`` (variants with special values)."""
    small = dict(sizes=SPATIAL[:9], channels=CHANNELS[:6])
    return {
        "quick": lambda: [*corners, *sample(seed, quick_count, lambda rng: _draw(rng, 2e6, kind, **small)), *specials],
        "full": lambda: [*corners, *sample(seed + 1, full_count, lambda rng: _draw(rng, 1e9, kind)), *specials],
    }


def _wrong_values_within(record: dict, bound: float) -> bool:
    """The GPU deviations' symptom: the output has the right shape, and the values are off by at most ``bound``
    (max_norm): the largest error measured times about 1.5, or ``math.inf`` where the values come from misplaced
    weights or pixels, so their error has no size of its own."""
    return record["reason"].startswith("outside tolerance") and record["metrics"]["max_norm"] <= bound


def _same_skips_input(params) -> bool:
    """SAME padding whose windows stop short of the input's end along an axis (:func:`reference.windows.same_total`
    negative: TF clamps it to 0 and never reads the last rows), with a kernel larger than 1x1."""
    if params["padding"] != "SAME" or params["filter_shape"][:2] == [1, 1]:
        return False
    s, d = params["strides"], params.get("dilations", 1)
    return any(same_total(n, k, s, d) < 0 for n, k in zip(params["input_shape"][1:3], params["filter_shape"][:2]))


def _xnnpack_214_same(op: str) -> Deviation:
    """tflite-runtime 2.14's XNNPACK on SAME padding that skips input rows (:func:`_same_skips_input`)."""
    return Deviation(
        frozenset({"tflite-runtime"}),
        f"XNNPACK in tflite-runtime 2.14 (and ai-edge-litert 2.1.6; fixed by 2.3) computes a strided {op} with SAME "
        "padding wrongly where the windows stop short of the input's end along an axis (TF's total padding there is "
        "negative, clamped to 0): max_norm 0.13-1 (in=4x9x9x2, k=2x1, s=3: 575 of 576 outputs off); 1x1 kernels, "
        "VALID, and the builtin and reference kernels of the same release are right",
        when=_same_skips_input, symptom=lambda r: _wrong_values_within(r, 1.5))


RESNET_FLOAT16_TAILS = frozenset({"conv2_block1_2_conv", "conv3_block1_2_conv"})


def _transpose_crop_differs(params) -> bool:
    """SAME transposed conv whose crop TF puts at ``max(k - s, 0) // 2`` and the GPU accelerator at the top / left
    padding of a SAME forward conv over the input (``padding_amounts``), differing along some axis."""
    if params["padding"] != "SAME":
        return False
    n, h, w, _ = params["input_shape"]
    kh, kw = params["filter_shape"][:2]
    s = params["strides"]
    gpu = [before for before, _ in padding_amounts("SAME", (h, w), (kh, kw), s)]
    return gpu != [max(k - s, 0) // 2 for k in (kh, kw)]


CONV2D = OpSpec(
    name="conv2d", family="conv",
    samples=with_layers("conv2d", _grid(_CONV_CORNERS, "conv2d", 12, 330, 20,
                                         with_specials(_CONV_CORNERS[0], ("nan", "inf", "saturate"))), _conv_flops),
    make_arrays=_arrays, tf=_conv_tf, reference=_conv_ref, magnitude=_magnitude(_conv_ref),
    flops=_conv_flops, label=_label, tflite_ops=frozenset({"CONV_2D"}),
    known=(
        _xnnpack_214_same("conv2d"),
        Deviation(
            frozenset({"litert-gpu"}),
            "LiteRT 2.3 GPU accelerator at float16 (WebGPU; measured on llvmpipe, seed 0): on ResNet50's 3x3 convs "
            "of 576 and 1,152 taps with 200,704 and 100,352 outputs, 3 and 5 elements exceed the 8H float16 bound: "
            "max_norm 5.2e-3 and 4.8e-3 (10.7H, 9.9H); every other conv, up to 3,136 taps, stays within 0.81 of it",
            when=lambda p: p.get("network") == "resnet50" and p.get("layer") in RESNET_FLOAT16_TAILS,
            symptom=lambda r: _wrong_values_within(r, 16 * 2.0**-11)),
        clamps_infinity("conv2d")),
)

DEPTHWISE_CONV2D = OpSpec(
    name="depthwise_conv2d", family="conv",
    samples=with_layers("depthwise_conv2d", _grid(_DEPTHWISE_CORNERS, "depthwise", 12, 260, 21), _depthwise_flops),
    make_arrays=_arrays, tf=_depthwise_tf, reference=_depthwise_ref, magnitude=_magnitude(_depthwise_ref),
    flops=_depthwise_flops, label=_label, tflite_ops=frozenset({"DEPTHWISE_CONV_2D"}),
    known=(_xnnpack_214_same("depthwise conv"), Deviation(
        CONVERTED_LANES,
        "TFLite converter (TF 2.21) drops the explicit padding of depthwise_conv2d when dilations > 1: the model "
        "has no PAD op and DEPTHWISE_CONV_2D runs with SAME padding, so the output shape is wrong "
        "(conv2d and dilations == 1 keep their PAD op; all-zero explicit padding converts correctly, as VALID)",
        when=lambda p: not isinstance(p["padding"], str) and p["dilations"] > 1 and any(map(any, p["padding"])),
        symptom=lambda r: r["reason"].startswith("output shape")),
        Deviation(
            GPU_LANES,
            "LiteRT 2.3 GPU accelerator (WebGPU; measured on llvmpipe): a 1x1 depthwise conv with more than one input "
            "channel and depth multiplier > 1 gives wrong values in both precisions: output channel c*M + m takes its "
            "weight from flat index m*C + c (the filter read as [1, 1, M, C]; max_norm up to 3.8e3; one input "
            "channel, multiplier 1 or larger kernels are right)",
            when=lambda p: p["filter_shape"][:2] == [1, 1] and p["filter_shape"][2] > 1 and p["filter_shape"][3] > 1,
            symptom=lambda r: _wrong_values_within(r, math.inf))),
)

CONV2D_TRANSPOSE = OpSpec(
    name="conv2d_transpose", family="conv",
    samples=with_layers("conv2d_transpose", _grid(_TRANSPOSE_CORNERS, "transpose", 10, 160, 22), _transpose_flops),
    make_arrays=_arrays, tf=_transpose_tf, reference=_transpose_ref, magnitude=_magnitude(_transpose_ref),
    flops=_transpose_flops, label=_transpose_label, tflite_ops=frozenset({"TRANSPOSE_CONV"}),
    known=(Deviation(
        GPU_LANES,
        "LiteRT 2.3 GPU accelerator (WebGPU; measured on llvmpipe): a transposed conv with SAME padding crops the "
        "full (in-1)*s+k output at a SAME forward conv's padding over its input size, not at TF's (k-s)//2, so "
        "where the two differ every output is shifted (both precisions; max_norm up to 556; VALID and SAME where "
        "they agree are right)",
        when=_transpose_crop_differs, symptom=lambda r: _wrong_values_within(r, math.inf)),),
)

SPECS = (CONV2D, DEPTHWISE_CONV2D, CONV2D_TRANSPOSE)
