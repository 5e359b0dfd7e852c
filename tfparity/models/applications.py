"""MobileNetV2 and ResNet50 from ``keras.applications`` (``weights=None``, seed 0) at 96 and 224 px, on crops of
the scikit-image photographs (full profile): realistic speed. With random weights top-1 labels mean nothing (even
tf-cpu and XNNPACK agree on none of MobileNetV2's), so the nets end in logits (``classifier_activation=None``)
and the task metric is ``rel_rmse`` of the logits against the float reference."""

from __future__ import annotations

from functools import cache

import numpy as np

from tfparity.cases import Arrays
from tfparity.models import photos
from tfparity.models.spec import ModelSpec
from tfparity.models.tasks import fidelity

BATCH = 4
ARCHITECTURES = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50"}


@cache
def network(arch: str, size: int):
    import keras

    keras.utils.set_random_seed(0)
    build = getattr(keras.applications, ARCHITECTURES[arch])
    return build(weights=None, input_shape=(size, size, 3), classes=1000, classifier_activation=None)


def _arrays(params, rng):
    return Arrays([(photos.random_crops(rng, BATCH, params["size"]) / 127.5 - 1).astype(np.float32)], {})


SPECS = tuple(ModelSpec(
    name=arch,
    samples={"quick": lambda: [], "full": lambda: [{"size": 96}, {"size": 224}]},
    build=lambda p, arch=arch: network(arch, p["size"]),
    make_arrays=_arrays,
    task=fidelity,
    budget=("rel_rmse", 0.05),
    source="keras.applications, weights=None, seed 0",
) for arch in ARCHITECTURES)
