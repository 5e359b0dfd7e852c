"""MTCNN as its users ship it: one frozen TF1 ``GraphDef`` (``mtcnn.pb``) holding P-Net, R-Net and O-Net under
``pnet/``, ``rnet/``, ``onet/``, built here from the ``mtcnn`` package's Keras nets and weights.

Inputs ``pnet/input`` ``[-1, -1, -1, 3]``, ``rnet/input`` ``[-1, 24, 24, 3]``, ``onet/input`` ``[-1, 48, 48, 3]``;
outputs (:data:`OUTPUTS`) the box regressions, O-Net's landmarks and the face probabilities (``prob1``). Weights
are constants (a graph frozen with ``convert_variables_to_constants``). PReLU comes in the two forms the
workflow meets: ``neg``, ``relu(x) + alpha * -relu(-x)`` (as the original TF1 port writes it; its ``Neg`` has no
quantized kernel, so uint8 conversion refuses it), and ``maxmin``, ``max(x, 0) + alpha * min(x, 0)``.
``python -m tfparity export-mtcnn OUT.pb [--prelu neg|maxmin]`` writes it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tfparity.cases import Arrays
from tfparity.frozen import FrozenGraph
from tfparity.models import mtcnn_nets
from tfparity.models.mtcnn_nets import NETS, network
from tfparity.models.spec import ModelSpec, dummy_ranges, task_loss
from tfparity.models.tasks import face_detection

PRELU_FORMS = ("neg", "maxmin")
INPUTS = {"pnet": "pnet/input", "rnet": "rnet/input", "onet": "onet/input"}
# each net's heads, in the Keras net's output order: (TF1 scope, output node)
HEADS = {"pnet": (("conv4-2", "pnet/conv4-2/BiasAdd"), ("prob1", "pnet/prob1")),
         "rnet": (("conv5-2", "rnet/conv5-2/conv5-2"), ("prob1", "rnet/prob1")),
         "onet": (("conv6-2", "onet/conv6-2/conv6-2"), ("conv6-3", "onet/conv6-3/conv6-3"), ("prob1", "onet/prob1"))}
OUTPUTS = tuple(node for net in NETS for _, node in HEADS[net])


def graph_def(prelu: str = "maxmin"):
    """The three nets in one frozen ``tf.compat.v1.GraphDef``."""
    import tensorflow as tf

    if prelu not in PRELU_FORMS:
        raise ValueError(f"PReLU form {prelu!r}: one of {', '.join(PRELU_FORMS)}")
    layers = {net: [(layer, layer.get_weights()) for layer in network(net).layers] for net in NETS}
    graph = tf.Graph()
    with graph.as_default():
        for net, (_, side) in NETS.items():
            with tf.compat.v1.name_scope(net):
                x = tf.compat.v1.placeholder(tf.float32, [None, side, side, 3], name="input")
                _net(tf, layers[net], x, HEADS[net], prelu)
    return graph.as_graph_def()


def _net(tf, layers, x, heads, prelu):
    """``layers``: (Keras layer, its weights as numpy) in call order, the heads last."""
    trunk, head_layers = layers[: -len(heads)], layers[-len(heads):]
    for layer, weights in trunk:
        with tf.compat.v1.name_scope(layer.name):
            x = _layer(tf, layer, weights, x, prelu)
    for (layer, weights), (scope, node) in zip(head_layers, heads):
        name = node.rsplit("/", 1)[1]
        softmax = layer.activation.__name__ == "softmax"
        with tf.compat.v1.name_scope(layer.name if softmax else scope):
            y = _affine(tf, layer, weights, x, name=None if softmax else name)
        if softmax:
            tf.nn.softmax(y, name=name)


def _affine(tf, layer, weights, x, name=None):
    kernel, bias = (tf.constant(w) for w in weights)
    if weights[0].ndim == 4:
        y = tf.nn.conv2d(x, kernel, list(layer.strides), layer.padding.upper())
    else:
        y = tf.matmul(x, kernel)
    return tf.nn.bias_add(y, bias, name=name or "BiasAdd")


def _layer(tf, layer, weights, x, prelu):
    kind = type(layer).__name__
    if kind in ("Conv2D", "Dense"):
        return _affine(tf, layer, weights, x)
    if kind == "PReLU":
        alpha = tf.constant(weights[0].reshape(-1))
        if prelu == "neg":
            return tf.add(tf.nn.relu(x), tf.multiply(alpha, -tf.nn.relu(-x)), name="prelu")
        return tf.add(tf.maximum(x, 0.0), tf.multiply(alpha, tf.minimum(x, 0.0)), name="prelu")
    if kind == "MaxPooling2D":
        return tf.nn.max_pool2d(x, layer.pool_size, layer.strides, layer.padding.upper())
    if kind == "Permute":
        return tf.transpose(x, [0, *layer.dims])
    if kind == "Flatten":
        return tf.reshape(x, [-1, int(x.shape[1]) * int(x.shape[2]) * int(x.shape[3])])
    raise NotImplementedError(f"MTCNN layer {kind} has no TF1 form here")


def write(path: str | Path, prelu: str = "maxmin") -> Path:
    """Write the frozen graph to ``path`` (binary GraphDef)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph_def(prelu).SerializeToString())
    return path


@cache
def _graph_bytes(prelu: str) -> bytes:
    return graph_def(prelu).SerializeToString()


def _arrays(draw):
    def arrays(params, rng):
        return Arrays([draw(dict(params, **net), rng).inputs[0] for net in _NET_PARAMS], {})
    return arrays


def _task(params, outputs, expected, arrays) -> dict:
    """:func:`~tfparity.models.tasks.face_detection` of each net; each metric the worst over the three."""
    metrics, start = {}, 0
    for net in NETS:
        count = len(HEADS[net])
        for key, value in face_detection(params, outputs[start: start + count], expected[start: start + count],
                                         arrays).items():
            metrics[key] = max(metrics.get(key, 0.0), value)
        start += count
    return metrics


_NET_PARAMS = ({"net": "pnet", "size": 96}, {"net": "rnet", "batch": 16}, {"net": "onet", "batch": 16})


def _spec(prelu: str) -> ModelSpec:
    label = {"prelu": prelu}
    return ModelSpec(
        name="mtcnn_pb" if prelu == "maxmin" else f"mtcnn_pb_{prelu}",
        samples={"quick": lambda: [label], "full": lambda: [label]},
        build=lambda params: None,
        frozen=FrozenGraph(lambda: _graph_bytes(prelu), tuple(INPUTS.values()), OUTPUTS),
        make_arrays=_arrays(mtcnn_nets._arrays),
        calibration=_arrays(mtcnn_nets._calibration),
        task=_task,
        budget=("face_prob_error", 0.05),
        source=f"frozen TF1 graph (PReLU as {prelu}) of the mtcnn 1.0.0 package weights; skimage.data photographs",
        known=(MAXMIN_INT8 if prelu == "maxmin" else mtcnn_nets.PNET_INT8, mtcnn_nets.PNET_DYNAMIC,
               mtcnn_nets.PNET_UINT8, MAXMIN_INT16,
               dummy_ranges("face_prob_error", 0.95, mtcnn_nets.DUMMY_LOSS["pnet"])),
        page="mtcnn",
    )


MAXMIN_INT8 = task_loss(
    {"tflite-int8", "tflite-int8-builtin", "tflite-int8-ref"}, "face_prob_error", 0.95,
    "with PReLU as max(x,0) + a*min(x,0) (RELU, MINIMUM, MUL, ADD, all int8) R-Net's face probability loses up to "
    "0.87 in full-integer int8, on every kernel path (the exact pipeline included, every layer within its kernel "
    "bound): the quantized model, not a kernel; the Neg form, whose NEG stays float, loses 0.03 there and Keras' "
    "PRELU op 0.03-0.04")
MAXMIN_INT16 = task_loss(
    {"tflite-int16x8"}, "face_prob_error", 0.15,
    "the max/min PReLU form converts to int16x8 (Keras' PRELU op does not) and loses 0.086 of face probability there, "
    "every op within one LSB of the exact kernel: its int8 weights, as in int8")
SPECS = tuple(_spec(prelu) for prelu in PRELU_FORMS)
