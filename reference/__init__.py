"""Pure-numpy references (never import TensorFlow): float64 ``tf.nn`` ops, TF-exact resize, and a
numpy executor of ``.tflite`` models (``reference.tflite.run``). NHWC, TF argument conventions."""

from reference.nn import (
    avg_pool2d,
    conv2d,
    conv2d_transpose,
    depthwise_conv2d,
    max_pool2d,
    relu,
    relu6,
    sigmoid,
    softmax,
    tanh,
)
from reference.resize import resize, resize_v1

__all__ = ["avg_pool2d", "conv2d", "conv2d_transpose", "depthwise_conv2d", "max_pool2d", "relu", "relu6", "resize",
           "resize_v1", "sigmoid", "softmax", "tanh"]
