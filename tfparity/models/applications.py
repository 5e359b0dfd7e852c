"""MobileNetV2, ResNet50, MobileNetV3Small and EfficientNetB0 from ``keras.applications`` (``weights=None``, seed 0)
at 96 and 224 px, on crops of the scikit-image photographs (full profile): realistic speed. With random weights
top-1 labels mean nothing (even tf-cpu and XNNPACK agree on none of MobileNetV2's), so the nets end in logits
(``classifier_activation=None``) and the task metric is ``rel_rmse`` of the logits against the float reference.

Input scaling: MobileNetV2 and ResNet50 take the crops scaled to [-1, 1]; MobileNetV3Small is built with
``include_preprocessing=False`` so it takes [-1, 1] too; EfficientNetB0's graph begins with its own
``Rescaling(1/255)`` and an unadapted ``Normalization`` (mean 0, variance 1 without ImageNet weights), so it is
fed the raw [0, 255] pixels (:data:`RAW_PIXELS`) and sees [0, 1]. No weights are downloaded.

Untrained BatchNormalization statistics (mean 0, variance 1) let a random-weight MobileNetV3Small shrink its signal
to logits of ~5e-11 (EfficientNetB0: ~2e-6), and int8 quantization then collapses the late activations to a few
levels and the logits to one constant; so for :data:`RENORMALIZED` architectures each BatchNormalization's moving
mean and variance are set, in graph order, to the statistics of its input on seeded photo crops (logits std
~0.1 to 0.2 then). MobileNetV2 and ResNet50 are left as they were."""

from __future__ import annotations

from functools import cache

import numpy as np

from tfparity.cases import Arrays
from tfparity.models import photos
from tfparity.models.spec import ModelSpec
from tfparity.models.tasks import fidelity

BATCH = 4
ARCHITECTURES = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50", "mobilenet_v3_small": "MobileNetV3Small",
                 "efficientnet_b0": "EfficientNetB0"}
RAW_PIXELS = {"efficientnet_b0"}  # architectures whose graph rescales [0, 255] pixels itself
_EXTRA = {"mobilenet_v3_small": {"include_preprocessing": False}}
RENORMALIZED = {"mobilenet_v3_small", "efficientnet_b0"}


@cache
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


SPECS = tuple(ModelSpec(
    name=arch,
    samples={"quick": lambda: [], "full": lambda: [{"size": 96}, {"size": 224}]},
    build=lambda p, arch=arch: network(arch, p["size"]),
    make_arrays=lambda p, rng, arch=arch: _arrays(p, rng, arch),
    task=fidelity,
    budget=("rel_rmse", 0.05),
    source="keras.applications, weights=None, seed 0",
) for arch in ARCHITECTURES)
