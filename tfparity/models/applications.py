"""MobileNetV2, ResNet50, MobileNetV3Small and EfficientNetB0 from ``keras.applications`` (``weights=None``, seed 0)
at 96 and 224 px, on crops of the scikit-image photographs (full profile): realistic speed. With random weights
top-1 labels mean nothing (even tf-cpu and XNNPACK agree on none of MobileNetV2's), so the nets end in logits
(``classifier_activation=None``) and the task metric is ``rel_rmse`` of the logits against the float reference.

Input scaling: MobileNetV2 and ResNet50 take the crops scaled to [-1, 1]; MobileNetV3Small is built with
``include_preprocessing=False`` so it takes [-1, 1] too; EfficientNetB0's graph begins with its own
``Rescaling(1/255)`` and an unadapted ``Normalization`` (mean 0, variance 1 without ImageNet weights), so it is
fed the raw [0, 255] pixels (:data:`RAW_PIXELS`) and sees [0, 1]. No weights are downloaded.

Untrained BatchNormalization statistics (mean 0, variance 1) let a random-weight MobileNetV3Small shrink its signal
to logits of ~5e-11 (MobileNetV2: ~3e-11, EfficientNetB0: ~2e-6), and int8 quantization then collapses the late
activations to a few levels and the logits to one constant (MobileNetV2's int8 logits were all 0: rel_rmse 1.0);
so for :data:`RENORMALIZED` architectures each BatchNormalization's moving mean and variance are set, in graph
order, to the statistics of its input on seeded photo crops (logits std ~0.1 to 0.2 then). ResNet50 (logits
~0.1 as built) is left as it was."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from tfparity.cases import Arrays, Deviation
from tfparity.models import photos
from tfparity.models.spec import ModelSpec, dummy_ranges, task_loss
from tfparity.models.tasks import fidelity

BATCH = 4
ARCHITECTURES = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50", "mobilenet_v3_small": "MobileNetV3Small",
                 "efficientnet_b0": "EfficientNetB0"}
RAW_PIXELS = {"efficientnet_b0"}  # architectures whose graph rescales [0, 255] pixels itself
_EXTRA = {"mobilenet_v3_small": {"include_preprocessing": False}}
RENORMALIZED = {"mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"}


@lru_cache(maxsize=1)  # the case in hand's network: its lanes run one after another; ResNet50 holds 100 MB
def network(arch: str, size: int):
    import keras

    keras.utils.set_random_seed(0)
    build = getattr(keras.applications, ARCHITECTURES[arch])
    net = build(weights=None, input_shape=(size, size, 3), classes=1000, classifier_activation=None,
                **_EXTRA.get(arch, {}))
    if arch in RENORMALIZED:
        _renormalize(net, _scaled(photos.random_crops(np.random.default_rng(2**16), BATCH, size), arch))
    return net


def _renormalize(net, x):
    """Each BatchNormalization's moving statistics := the mean and variance (per channel) of its input on ``x``,
    in graph order, so that each sees the inputs its predecessors' new statistics give it."""
    import keras

    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            h = np.asarray(keras.Model(net.input, layer.input)(x), np.float64)
            axes = tuple(range(h.ndim - 1))
            layer.moving_mean.assign(h.mean(axis=axes).astype(np.float32))
            layer.moving_variance.assign(h.var(axis=axes).astype(np.float32))


def _scaled(crops, arch: str) -> np.ndarray:
    return (crops if arch in RAW_PIXELS else crops / 127.5 - 1).astype(np.float32)


def _arrays(params, rng, arch: str = "mobilenet_v2"):
    return Arrays([_scaled(photos.random_crops(rng, BATCH, params["size"]), arch)], {})


INT8 = {"tflite-int8", "tflite-int8-builtin", "tflite-int8-ref"}
FLOAT32 = {"tf-cpu", "tf-xla", "tflite-xnnpack", "tflite-builtin", "tflite-ref", "tflite-fp16", "litert-gpu-f32",
           "tflite-runtime"}
LITERT_CPU = {"tflite-xnnpack", "tflite-builtin", "tflite-ref", "tflite-fp16", "tflite-runtime"}


def _at(size: int, deviation: Deviation) -> Deviation:
    """``deviation`` for the ``size`` px case only: findings are measured per size (full profile, 2026-12)."""
    return replace(deviation, reason=f"{deviation.reason} (measured at {size} px)",
                   when=lambda params: params["size"] == size)


def _quantization_loss(lanes: set[str], measured: str, limit: float, why: str = "") -> Deviation:
    """Post-training quantization of the random-weight net loses its logits, while every op stays within
    ``quant.PATH_LSB`` of the exact kernel on its own inputs (the per-layer table; exact lanes: every tensor equal):
    the quantized model's loss, not a kernel's."""
    return task_loss(lanes, "rel_rmse", limit, f"post-training quantization loses the logits: rel_rmse {measured} "
                     f"(measured), with every op within its bound of the exact kernel on its own inputs{why}")


def _float32_depth(lanes: set[str], measured: str, limit: float, ops: int) -> Deviation:
    """float32 rounding through a deep net outgrows the whole-model bound (64U of max|ref|, sized on the quick
    models' at most 23U); ``limit``: the excused multiple of that bound."""
    reason = (f"float32 rounding through {ops} ops exceeds the whole-model bound 64U x max|ref| (sized on the quick "
              f"models, <= 23U measured): {measured} (measured); excused up to {limit:g}x")
    return Deviation(frozenset(lanes), reason, symptom=lambda r: r["reason"].startswith(
        "an output is outside tolerance") and r["metrics"]["tol_used"] <= limit)


UINT8 = {"tflite-uint8", "tflite-uint8-ref"}
ALIKE = "; every float32 lane alike (relative RMS <= 1.6e-5)"
KNOWN = {
    "mobilenet_v2": (
        _at(96, _float32_depth(FLOAT32, "2.1x (tflite-ref) to 2.6x (tf-cpu) of it" + ALIKE, 4.0, 64)),
        _at(224, _float32_depth(FLOAT32, "3.1x (tflite-fp16) to 5.3x (tflite-ref) of it" + ALIKE, 7.0, 64)),
        _at(96, _quantization_loss(INT8, "0.37-0.38", 0.5)),
        _at(224, _quantization_loss(INT8, "0.28-0.29", 0.4)),
        _at(96, _quantization_loss({"tflite-int16x8"}, "0.21", 0.3, "; int16 activations halve it")),
        _at(224, _quantization_loss({"tflite-int16x8"}, "0.17", 0.25, "; int16 activations halve it")),
        _at(96, _quantization_loss(UINT8, "0.47-0.49", 0.6, " (legacy uint8, calibrated)")),
        _at(224, _quantization_loss(UINT8, "0.32-0.34", 0.45, " (legacy uint8, calibrated)")),
        dummy_ranges("rel_rmse", 1.2, "0.94 at 96 px, 0.75 at 224")),
    "resnet50": (dummy_ranges("rel_rmse", 0.2, "0.13 at 96 px, 0.11 at 224"),),
    "mobilenet_v3_small": (
        _at(96, _quantization_loss(INT8 | UINT8, "1.63-1.78", 2.2, "; the quantization lint finds its late "
                                   "activations (squeeze-excite, hard-swish, the logits) using 1/60 to 1/10 of their "
                                   "calibrated range")),
        _at(224, _quantization_loss(INT8 | UINT8, "0.17-0.20", 0.3)),
        dummy_ranges("rel_rmse", 1.3, "0.91 at 96 px, 1.01 at 224")),
    "efficientnet_b0": (
        _at(96, _float32_depth(FLOAT32, "1.06x (tflite-ref) to 3.9x (tf-xla) of it" + ALIKE, 5.0, 238)),
        _at(224, _float32_depth(LITERT_CPU, "on LiteRT's CPU kernels 11.4-11.9x of it (XNNPACK, builtin, reference "
                                "alike; fp16 weights 8.1x, tflite-runtime 2.14 3.8x), relative RMS 3.5e-5 against "
                                "6e-6 on tf-cpu; it grows from 96 px as the squeeze-excite means' window does "
                                "(48x48 to 112x112): LiteRT's float MEAN sums its window in order in float32 "
                                "(verified bit for bit), and the bisection names the first such MEAN (112x112) as the "
                                "first op off its one-op bound, alone: 1.9e-5 against 1.0e-5", 15.0, 238)),
        _at(224, _float32_depth({"tf-cpu", "tf-xla", "litert-gpu-f32"}, "1.2x (tf-xla) to 1.8x (tf-cpu) of it",
                                2.5, 238)),
        _at(96, _quantization_loss(INT8, "0.55-0.68", 0.9)),
        _at(224, _quantization_loss(INT8, "0.28-0.32", 0.45)),
        _at(96, _quantization_loss({"tflite-int16x8"}, "0.32", 0.45, "; int16 activations halve it")),
        _at(224, _quantization_loss({"tflite-int16x8"}, "0.16", 0.25, "; int16 activations halve it")),
        _at(96, _quantization_loss(UINT8, "0.62-0.63", 0.8, " (legacy uint8, calibrated)")),
        _at(224, _quantization_loss(UINT8, "0.41-0.45", 0.6, " (legacy uint8, calibrated)")),
        dummy_ranges("rel_rmse", 1.3, "1.00 at 96 and 224 px: the logits carry nothing")),
}

SPECS = tuple(ModelSpec(
    name=arch,
    samples={"quick": lambda: [], "full": lambda: [{"size": 96}, {"size": 224}]},
    build=lambda p, arch=arch: network(arch, p["size"]),
    make_arrays=lambda p, rng, arch=arch: _arrays(p, rng, arch),
    task=fidelity,
    budget=("rel_rmse", 0.05),
    source="keras.applications, weights=None, seed 0",
    known=KNOWN.get(arch, ()),
) for arch in ARCHITECTURES)
