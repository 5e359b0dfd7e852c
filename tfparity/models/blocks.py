"""Small nets built from classic blocks, one block type each, so each block's behaviour shows on its own:
a VGG stack of 3x3 convs, an Inception block with 1xn / nx1 factorization, a residual block. Weights are
Keras's initializers under a fixed seed; inputs are seeded crops of the scikit-image photographs, scaled to
[-1, 1]. Task metric: ``rel_rmse`` (RMSE over the reference's RMS) of the feature output.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from tfparity.cases import Arrays
from tfparity.models import photos
from tfparity.models.spec import ModelSpec
from tfparity.models.tasks import fidelity

SIZE, BATCH = 32, 4


def _vgg(L, x):
    for i, filters in enumerate((16, 16, 32)):
        x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
    return L.MaxPooling2D(2, name="pool")(x)


def _inception(L, x, n=7):
    b1 = L.Conv2D(16, 1, activation="relu", name="b1_1x1")(x)
    b2 = L.Conv2D(12, 1, activation="relu", name="b2_1x1")(x)
    b2 = L.Conv2D(16, (1, n), padding="same", activation="relu", name=f"b2_1x{n}")(b2)
    b2 = L.Conv2D(16, (n, 1), padding="same", activation="relu", name=f"b2_{n}x1")(b2)
    b3 = L.AveragePooling2D(3, strides=1, padding="same", name="b3_pool")(x)
    b3 = L.Conv2D(16, 1, activation="relu", name="b3_1x1")(b3)
    return L.Concatenate(name="concat")([b1, b2, b3])


def _residual(L, x):
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(x)
    y = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x)
    y = L.Conv2D(16, 3, padding="same", name="conv2")(y)
    return L.ReLU(name="out")(L.Add(name="add")([x, y]))


BLOCKS = {"vgg": _vgg, "inception": _inception, "residual": _residual}


@cache
def network(block: str):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3), batch_size=BATCH)
    return keras.Model(inputs, BLOCKS[block](keras.layers, inputs), name=f"{block}_block")


def _arrays(params, rng):
    return Arrays([(photos.random_crops(rng, BATCH, SIZE) / 127.5 - 1).astype(np.float32)], {})


SPECS = tuple(ModelSpec(
    name=f"{block}_block",
    samples={"quick": lambda block=block: [{"block": block}], "full": lambda block=block: [{"block": block}]},
    build=lambda p: network(p["block"]),
    make_arrays=_arrays,
    task=fidelity,
    budget=("rel_rmse", 0.05),
    source="keras initializers, seed 0",
) for block in BLOCKS)
