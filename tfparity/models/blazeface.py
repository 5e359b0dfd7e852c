"""A BlazeFace-style face detector (random weights): the front model of Bazarevsky et al. 2019, "BlazeFace:
Sub-millisecond Neural Face Detection on Mobile GPUs", plus a small feature-pyramid path that is ours.

Backbone (the paper's table): 128x128x3 input, a 5x5 stride-2 conv to 24 channels, five single BlazeBlocks
(24, 24, 48/2, 48, 48 channels; /2 marks stride 2) to 32x32, six double BlazeBlocks (96/2, 96, 96, 96/2, 96, 96,
projecting to 24 in between) to 16x16 and 8x8. A BlazeBlock is a 5x5 depthwise conv and a 1x1 conv on a residual
path; a stride-2 block takes a 2x2 max pool on the shortcut, which is zero-padded to the wider channel count.
Heads per feature map: a 1x1 sigmoid classifier and a 3x3 box regressor (16 values per anchor), 2 anchors per
16x16 cell and 6 per 8x8 cell. Ours, after the later BlazeFace FPN variants: the 8x8 map is brought to 16x16 once
by ``UpSampling2D(interpolation="bilinear")`` and once by a ``Conv2DTranspose(k=2, s=2)``, both added to the
16x16 map before its heads. Only the structure and shapes matter; the weights are seeded (0) noise.
"""

from __future__ import annotations

from functools import cache

SIZE = 128
SINGLE = ((24, 1), (24, 1), (48, 2), (48, 1), (48, 1))  # (channels, stride) of the single blocks
DOUBLE = ((96, 2), (96, 1), (96, 1))  # the double blocks down to 16x16, then again to 8x8


def _blaze_block(x, name: str, channels: int, stride: int, mid: int | None = None):
    """A single BlazeBlock (``mid`` None) or a double one (projecting to ``mid`` channels in between)."""
    from keras import layers, ops

    y = layers.DepthwiseConv2D(5, stride, padding="same", name=f"{name}_depthwise")(x)
    if mid is not None:
        y = layers.Conv2D(mid, 1, activation="relu", name=f"{name}_project")(y)
        y = layers.DepthwiseConv2D(5, padding="same", name=f"{name}_depthwise2")(y)
    y = layers.Conv2D(channels, 1, name=f"{name}_expand")(y)
    shortcut = layers.MaxPooling2D(2, name=f"{name}_pool")(x) if stride == 2 else x
    extra = channels - x.shape[-1]
    if extra:
        shortcut = layers.Lambda(lambda t: ops.pad(t, [[0, 0], [0, 0], [0, 0], [0, extra]]),
                                 name=f"{name}_channel_pad")(shortcut)
    return layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([y, shortcut]))


def _heads(x, anchors: int, name: str):
    from keras import layers

    scores = layers.Conv2D(anchors, 1, activation="sigmoid", name=f"classifier_{name}")(x)
    boxes = layers.Conv2D(anchors * 16, 3, padding="same", name=f"regressor_{name}")(x)
    return [scores, boxes]


@cache
def network():
    """The Keras model: 128x128x3 in; scores and boxes at 16x16 (2 anchors) and 8x8 (6 anchors) out."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(24, 5, 2, padding="same", activation="relu", name="conv")(inputs)
    for i, (channels, stride) in enumerate(SINGLE):
        x = _blaze_block(x, f"single{i}", channels, stride)
    maps = []
    for size in (16, 8):
        for i, (channels, stride) in enumerate(DOUBLE):
            x = _blaze_block(x, f"double{size}_{i}", channels, stride, mid=24)
        maps.append(x)
    f16, f8 = maps
    upsampled = layers.UpSampling2D(interpolation="bilinear", name="fpn_upsample")(f8)
    transposed = layers.Conv2DTranspose(96, 2, 2, name="fpn_transpose")(f8)
    f16 = layers.Add(name="fpn_add")([f16, upsampled, transposed])
    return keras.Model(inputs, _heads(f16, 2, "16") + _heads(f8, 6, "8"), name="blazeface")
