"""A small CNN trained in code on scikit-learn's bundled 8x8 handwritten digits (``load_digits``).

Fixed stratified split (``random_state=0``, 25 % held out); seeded, deterministic training of a few
seconds; the trained model is cached in the conversion cache as ``digits_cnn-<key>.keras``. Task accuracy:
top-1 on the held-out digits, which form the case's one input batch.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

import numpy as np

from tfparity.cases import Arrays
from tfparity.models.spec import ModelSpec, dummy_ranges
from tfparity.models.tasks import classification

TRAINING = {"epochs": 30, "batch": 32, "seed": 0, "test_size": 0.25, "lr": 3e-3}


@cache
def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): images scaled to [0, 1], NHWC float32."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    return tuple(train_test_split(x, digits.target.astype(np.int64), test_size=TRAINING["test_size"],
                                  random_state=0, stratify=digits.target)[i] for i in (0, 2, 1, 3))


def _train():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(TRAINING["seed"])
    tf.config.experimental.enable_op_determinism()
    L = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D(2, name="pool"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv3"),
        L.GlobalAveragePooling2D(name="gap"),
        L.Dense(10, activation="softmax", name="logits"),
    ], name="digits_cnn")
    x_train, y_train, _, _ = split()
    model.compile(optimizer=keras.optimizers.Adam(TRAINING["lr"]), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=TRAINING["epochs"], batch_size=TRAINING["batch"], shuffle=True, verbose=0)
    return model


@cache
def trained(_params=None):
    """The trained model, from the cache when an identical training already ran."""
    import keras

    from tfparity.convert import cache_dir

    key = hashlib.sha256(json.dumps({**TRAINING, "keras": keras.__version__}, sort_keys=True).encode()).hexdigest()
    path = cache_dir() / f"digits_cnn-{key[:16]}.keras"
    if path.exists():
        return keras.saving.load_model(path)
    model = _train()
    tmp = path.with_suffix(".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
    return model


def _arrays(params, rng):
    _, _, x_test, y_test = split()
    return Arrays([x_test], {"labels": y_test})


def _calibration(params, rng):
    x_train = split()[0]
    return Arrays([x_train[rng.choice(len(x_train), len(split()[2]), replace=False)]], {})


SPEC = ModelSpec(
    name="digits_cnn",
    samples={"quick": lambda: [{"batch": len(split()[2])}], "full": lambda: [{"batch": len(split()[2])}]},
    build=lambda params: trained(),
    make_arrays=_arrays,
    task=classification,
    budget=("top1_drop", 0.02),
    source="trained here on sklearn.datasets.load_digits (seeded, cached)",
    calibration=_calibration,
    known=(dummy_ranges("top1_drop", 0.7, 0.589),),
)
