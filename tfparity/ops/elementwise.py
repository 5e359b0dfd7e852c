"""softmax and the activations relu, relu6, sigmoid, tanh.

Inputs are scaled so that saturation regions are exercised (``scale`` in the params); ``special`` variants plant
NaN, ±Inf, -0.0, subnormals or huge values, or scale the input past the calibrated range (tfparity/ops/common.py).
FLOPs: softmax ~5 per element (max, sub, exp, sum, div); activations 1 per element.
"""

from __future__ import annotations

import re

import numpy as np

import reference
from tfparity import machine
from tfparity.cases import Arrays, Deviation, OpSpec
from tfparity.lanes import GPU_LANES, XNNPACK_FLOAT_LANES
from tfparity.ops.common import (
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

_SHAPES = ([1, 10], [4, 1000], [1, 1], [2, 7, 7, 16], [1, 3, 5, 8], [8, 64], [1, 112, 112, 32])


def _arrays(params, rng) -> Arrays:
    return Arrays([special_values(normal(rng, params["input_shape"], params["scale"]), params, rng)], {})


def _draw_shape(rng, rank_max: int):
    rank = int(rng.integers(1, rank_max + 1))
    return [int(v) for v in rng.choice((1, 2, 3, 5, 7, 8, 16, 33, 100, 256), rank)]


def _softmax_label(params) -> str:
    return f"in={dims(params['input_shape'])},axis={params['axis']},scale={params['scale']:g}" + special_label(params)


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
    *with_specials(dict(input_shape=[2, 7, 7, 16], axis=-1, scale=1.0), ("nan", "inf", "huge", "saturate")),
]
def _softmax_flops(params) -> int:
    return 5 * int(np.prod(params["input_shape"]))


_SOFTMAX_FULL = with_specials(dict(input_shape=[3, 33], axis=0, scale=4.0), ("nan", "inf", "huge", "saturate"))

SOFTMAX = OpSpec(
    name="softmax", family="softmax",
    samples=with_layers("softmax", {"quick": lambda: _SOFTMAX_QUICK,
                                    "full": lambda: _SOFTMAX_QUICK + sample(40, 80, _softmax_draw) + _SOFTMAX_FULL},
                        _softmax_flops),
    make_arrays=_arrays,
    tf=lambda params, consts: _softmax_tf(params["axis"]),
    reference=lambda params, inputs, consts: reference.softmax(inputs[0], axis=params["axis"]),
    flops=_softmax_flops,
    label=_softmax_label, tflite_ops=frozenset({"SOFTMAX"}),
    known=(Deviation(
        frozenset({"tf-cpu"}),
        "TensorFlow's oneDNN softmax (TF's CPU kernels with oneDNN on: the default on CPUs with AVX-512 VNNI / BF16 "
        "or AMX) gives 0 for every other element of a row holding a NaN or +inf (NaN only at that element), where "
        "exp(x - max) / sum is NaN across the row; TF's own kernel (oneDNN off) and XLA give NaN",
        when=lambda p: p.get("special") in ("nan", "inf"), symptom=special_symptom("0", "nan"),
        where=machine.tf_onednn),
        Deviation(
            frozenset({"tflite-int8-ref"}),
            "reference.tflite's int8 SOFTMAX (LiteRT's float-table kernel, emulated in float32) misses BUILTIN_REF "
            "by 1 LSB on 15 of the 1,228,800 elements of this case, each at a rounding tie (t * (1 / (sum * s_out)) "
            "within 1.2e-4 of k + 0.5) that LiteRT's evaluation puts on the other side; other summation orders, "
            "glibc's expf for the table and a division for the reciprocal miss them too: a finding about the "
            "executor's emulation, not the lane (every smaller softmax case is exact)",
            when=lambda p: p["input_shape"] == [256, 16, 100, 3] and p["axis"] == 1,
            symptom=lambda r: bool(re.fullmatch(r"\d+ of \d+ output elements are more than 0 LSB from "
                                                r"reference\.tflite \(must be exact\) \(max 1 LSB vs reference"
                                                r"\.tflite, .*", r["reason"])))),
)


def _activation(name: str, tflite_op: str, scale: float, specials: tuple[str, ...], more: tuple[str, ...],
                known: tuple[Deviation, ...] = ()) -> OpSpec:
    """``specials``: the special variants of the quick profile; the full profile adds ``more``."""
    special = dict(input_shape=list(_SHAPES[3]), scale=scale)
    quick = [dict(input_shape=list(s), scale=scale) for s in _SHAPES[:5]] + with_specials(special, specials)
    full = quick + [dict(input_shape=list(s), scale=scale) for s in _SHAPES[5:]]

    def draw(rng):
        return dict(input_shape=_draw_shape(rng, 4), scale=pick(rng, (scale / 4, scale, scale * 4)))

    def build_tf(params, consts):
        import tensorflow as tf

        return {"relu": tf.nn.relu, "relu6": tf.nn.relu6, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[name]

    return OpSpec(
        name=name, family="activation",
        samples={"quick": lambda: quick, "full": lambda: full + sample(50, 30, draw) + with_specials(special, more)},
        make_arrays=_arrays, tf=build_tf,
        reference=lambda params, inputs, consts: getattr(reference, name)(inputs[0]),
        flops=lambda params: int(np.prod(params["input_shape"])),
        label=lambda params: f"in={dims(params['input_shape'])},scale={params['scale']:g}" + special_label(params),
        tflite_ops=frozenset({tflite_op}), known=known,
    )


def _gpu_loses_nan(op: str, becomes: str) -> Deviation:
    """LiteRT's GPU accelerator computes ``op`` of a NaN as the number ``becomes`` (both precisions)."""
    return Deviation(
        GPU_LANES,
        f"LiteRT 2.3 GPU accelerator (WebGPU; measured on llvmpipe), both precisions: {op}(NaN) gives {becomes} for "
        f"each of the 3 planted NaN, where IEEE 754 arithmetic (and the op's formula) gives NaN",
        when=lambda p: p.get("special") == "nan", symptom=special_symptom(becomes, "nan"))


SPECS = (
    SOFTMAX,
    _activation("relu", "RELU", 2.0, ("nan", "inf", "saturate"), ("subnormal", "huge"),
                known=(_gpu_loses_nan("relu", "0"), *flushes_subnormals("relu"))),
    _activation("relu6", "RELU6", 5.0, ("nan", "inf", "saturate"), ("huge",), known=(_gpu_loses_nan("relu6", "0"),)),
    _activation("sigmoid", "LOGISTIC", 6.0, ("nan", "inf", "saturate"), ("huge",), known=(
        Deviation(XNNPACK_FLOAT_LANES,
                  "XNNPACK's sigmoid on a CPU with AVX-512 (LiteRT 2.3 and tflite-runtime 2.14 alike; measured on an "
                  "AVX-512 / AMX Xeon, while the AVX2 machine of the earlier full-profile runs gave 0 and 1) is NaN "
                  "for some inputs of magnitude from about 4.3e26 up (the planted ±1e30: 6 of 1568 elements), where "
                  "sigmoid is 0 or 1; the builtin and reference kernels give 0 and 1",
                  when=lambda p: p.get("special") == "huge", symptom=special_symptom("nan", "(?:0|1)"),
                  where=machine.avx512_skx),)),
    _activation("tanh", "TANH", 3.0, ("nan", "negzero", "saturate"), ("inf", "subnormal", "huge"), known=(
        _gpu_loses_nan("tanh", "-1"),
        Deviation(frozenset({"tflite-runtime"}),
                  "XNNPACK in tflite-runtime 2.14, on a CPU without AVX-512 (its AVX2 / FMA3 tanh microkernel), "
                  "computes tanh(-0.0) as +0.0 (each of the 3 planted -0.0), where IEEE 754 / C tanh(±0) is ±0; its "
                  "AVX-512 kernel, LiteRT 2.3's XNNPACK and the other lanes keep the sign",
                  when=lambda p: p.get("special") == "negzero", symptom=special_symptom("0", "-0"),
                  where=lambda: not machine.avx512_skx()),
        Deviation(frozenset({"tflite-runtime"}),
                  "XNNPACK in tflite-runtime 2.14, on a CPU with AVX-512 (its avx512skx tanh microkernel), computes "
                  "tanh(NaN) as 1 (each of the 3 planted NaN), where IEEE 754 / C tanh(NaN) is NaN; its AVX2 kernel, "
                  "LiteRT 2.3's XNNPACK and the other CPU lanes give NaN",
                  when=lambda p: p.get("special") == "nan", symptom=special_symptom("1", "nan"),
                  where=machine.avx512_skx))),
)
