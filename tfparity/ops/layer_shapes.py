"""The distinct layer shapes of real networks, per op, as parameter dicts in the op's own case format.

``layer_shapes()`` maps an op name (conv2d, depthwise_conv2d, conv2d_transpose, max_pool2d, avg_pool2d, resize,
softmax) to its distinct parameter dicts, each carrying ``network`` and ``layer``: the first network and Keras layer
(in ``NETWORKS`` order, then execution order) with those op params. The shapes are read off the networks' own Keras
definitions, run once at batch 1 on zeros while each mapped layer records the shapes it sees:
``keras.applications`` MobileNetV2 and ResNet50 (224 px, softmax classifier), MTCNN's P-Net (12 px and a 149 px
pyramid scale), R-Net (24) and O-Net (48) as tfparity/models/mtcnn_nets.py builds them, and the BlazeFace-style
detector of tfparity/models/blazeface.py.

Mapping (channels-last layers only; layers with unequal strides, dilations or pool windows are skipped):
Conv2D (groups 1) -> conv2d, DepthwiseConv2D -> depthwise_conv2d, Conv2DTranspose (no output padding) ->
conv2d_transpose, MaxPooling2D / AveragePooling2D -> max_pool2d / avg_pool2d, GlobalAveragePooling2D on a square
map -> avg_pool2d with a single window (``ksize = strides = h``, VALID), UpSampling2D (bilinear / nearest) ->
resize, Softmax / Activation("softmax") -> softmax; a layer with a softmax activation (Dense, Conv2D) adds a
softmax on its output. A ZeroPadding2D feeding a VALID conv2d / depthwise_conv2d is folded into it as explicit
padding ``[[0, 0], [t, b], [l, r], [0, 0]]`` on the unpadded input, as TF sees it; any other layer sees the padded
input. The result is shipped as ``layer_shapes.json`` beside this module, so selecting cases builds no network;
``python -m tfparity.ops.layer_shapes`` regenerates it, and tests/test_layer_shapes.py checks that it is exactly
what the definitions give.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfparity.models import blazeface

SHIPPED = Path(__file__).with_name("layer_shapes.json")
OPS = ("conv2d", "depthwise_conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "resize", "softmax")
NETWORKS = (  # (net, builder key, input size), in the order that decides which layer a shape is credited to
    ("mobilenet_v2", "MobileNetV2", 224), ("resnet50", "ResNet50", 224), ("mtcnn_pnet", "pnet", 12),
    ("mtcnn_pnet", "pnet", 149), ("mtcnn_rnet", "rnet", 24), ("mtcnn_onet", "onet", 48),
    ("blazeface", "blazeface", blazeface.SIZE),
)


def _model(key: str):
    if key == "blazeface":
        return blazeface.network()
    if key in ("pnet", "rnet", "onet"):
        from tfparity.models import mtcnn_nets

        return mtcnn_nets.network(key)
    import keras

    keras.backend.clear_session()  # layers Keras names itself (MobileNetV2's pooling) get no process-dependent suffix
    return getattr(keras.applications, key)(weights=None, input_shape=(224, 224, 3))


def _leaves(layer):
    """The non-model layers inside ``layer``, depth first."""
    import keras

    if not isinstance(layer, keras.Model):
        return [layer]
    return [leaf for child in layer.layers for leaf in _leaves(child)]


def _trace(model, size: int) -> list[tuple]:
    """``(layer, input, output)`` for every leaf layer call of ``model`` on a zero ``[1, size, size, 3]`` input, in
    execution order (each leaf's ``call`` wrapped on the instance while the model runs)."""
    import numpy as np

    calls = []

    def recording(layer):
        call = layer.call

        def record(*args, **kwargs):
            out = call(*args, **kwargs)
            calls.append((layer, args[0], out))
            return out

        return record

    leaves = _leaves(model)
    for layer in leaves:
        layer.call = recording(layer)
    try:
        model(np.zeros((1, size, size, 3), np.float32))
    finally:
        for layer in leaves:
            del layer.call
    return calls


def _shape(tensor) -> list[int]:
    return [int(d) for d in tensor.shape]


def _square(pair) -> int | None:
    """The value of an equal pair (strides, window, dilation), else None."""
    a, b = (pair, pair) if isinstance(pair, int) else pair
    return int(a) if a == b else None


def _conv_params(layer, x, pads) -> dict | None:
    """conv2d / depthwise_conv2d params of a Conv2D / DepthwiseConv2D layer on input ``x``; ``pads`` maps a
    ZeroPadding2D output (by id) to that layer's ``(input, padding)``."""
    s, d = _square(layer.strides), _square(layer.dilation_rate)
    if s is None or d is None or layer.padding not in ("same", "valid"):
        return None
    padding = layer.padding.upper()
    if padding == "VALID" and id(x) in pads:
        x, ((t, b), (l, r)) = pads[id(x)]
        padding = [[0, 0], [int(t), int(b)], [int(l), int(r)], [0, 0]]
    return dict(input_shape=_shape(x), filter_shape=[int(v) for v in layer.kernel.shape], strides=s,
                padding=padding, dilations=d)


def _pool_params(layer, x) -> dict | None:
    k, s = _square(layer.pool_size), _square(layer.strides)
    if k is None or s is None:
        return None
    return dict(input_shape=_shape(x), ksize=k, strides=s, padding=layer.padding.upper())


def _mapped(layer, x, out, pads) -> list[tuple[str, dict]]:
    """``(op, params)`` for one layer call (none for a layer that maps to no op)."""
    from keras import activations, layers

    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return []
    found = []
    if isinstance(layer, layers.Conv2DTranspose):
        s = _square(layer.strides)
        if s is not None and _square(layer.dilation_rate) == 1 and layer.output_padding is None:
            found.append(("conv2d_transpose", dict(
                input_shape=_shape(x), filter_shape=[int(v) for v in layer.kernel.shape], strides=s,
                padding=layer.padding.upper(), output_shape=_shape(out))))
    elif isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):
        op = "depthwise_conv2d" if isinstance(layer, layers.DepthwiseConv2D) else "conv2d"
        params = _conv_params(layer, x, pads) if getattr(layer, "groups", 1) == 1 else None
        found += [(op, params)] if params else []
    elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
        params = _pool_params(layer, x)
        op = "max_pool2d" if isinstance(layer, layers.MaxPooling2D) else "avg_pool2d"
        found += [(op, params)] if params else []
    elif isinstance(layer, layers.GlobalAveragePooling2D) and x.shape[1] == x.shape[2]:
        h = int(x.shape[1])
        found.append(("avg_pool2d", dict(input_shape=_shape(x), ksize=h, strides=h, padding="VALID")))
    elif isinstance(layer, layers.UpSampling2D) and layer.interpolation in ("bilinear", "nearest"):
        found.append(("resize", dict(input_shape=_shape(x), size=_shape(out)[1:3], dtype="float32",
                                     method=layer.interpolation, antialias=False)))
    elif isinstance(layer, layers.Softmax) and isinstance(layer.axis, int):
        found.append(("softmax", dict(input_shape=_shape(x), axis=layer.axis, scale=1.0)))
    if getattr(layer, "activation", None) is activations.softmax:
        found.append(("softmax", dict(input_shape=_shape(out), axis=-1, scale=1.0)))
    return found


def _network_shapes(model, size: int) -> list[tuple[str, str, dict]]:
    """``(op, layer name, params)`` for every mapped layer call of ``model`` at ``size`` px, in execution order."""
    from keras import layers

    pads, found = {}, []
    for layer, x, out in _trace(model, size):
        if isinstance(layer, layers.ZeroPadding2D):
            pads[id(out)] = (x, layer.padding)
        found += [(op, layer.name, params) for op, params in _mapped(layer, x, out, pads)]
    return found


def build() -> dict[str, list[dict]]:
    """Every network of :data:`NETWORKS` traced and mapped; the first network and layer of each shape is kept."""
    shapes, seen = {op: [] for op in OPS}, set()
    for net, key, size in NETWORKS:
        for op, layer, params in _network_shapes(_model(key), size):
            identity = (op, json.dumps(params, sort_keys=True))
            if identity not in seen:
                seen.add(identity)
                shapes[op].append(dict(params, network=net, layer=layer))
    return shapes


def layer_shapes() -> dict[str, list[dict]]:
    """Op name -> its distinct real-network layer params (with ``network`` and ``layer``), in network order, as
    shipped in :data:`SHIPPED`."""
    return json.loads(SHIPPED.read_text())


def main() -> None:
    """Rebuild :data:`SHIPPED` from the networks' definitions (TF and Keras; seconds)."""
    ops = [f"{json.dumps(op)}: [\n" + ",\n".join(f"  {json.dumps(p)}" for p in shapes) + "\n]"
           for op, shapes in build().items()]
    SHIPPED.write_text("{\n" + ",\n".join(ops) + "\n}\n")  # one layer shape per line
    print(f"wrote {SHIPPED}")


if __name__ == "__main__":
    main()
