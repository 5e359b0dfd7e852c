"""Quantization-parameter lint of an integer model: scales the kernels cannot use, or that waste resolution.

TFLite's quantization spec (ai.google.dev/edge/litert/models/quantization_spec): ``real = s * (q - zp)``; int8
weights are symmetric (``zp = 0``), per channel on the output-channel axis for conv / depthwise / fully connected;
int8 and legacy uint8 activations are asymmetric per tensor, their range nudged to hold 0; int16x8 activations
are symmetric (``zp = 0``). Each finding is ``{"kind", "tensor", "ops", "value", "bound", "detail"}``, ``ops`` the
``#index OP`` of every op producing or using the tensor. Rules:

- ``zero_scale``: a quantized tensor with a scale (any channel's) that is not a positive finite number (``s <= 0``,
  NaN, Inf); ``real = s * (q - zp)`` then holds nothing, and the kernels divide by ``s``. value: the offending scale.
  Not reported (nor ``tiny_scale`` (a)) for a constant whose quantized values all equal its zero point: it holds
  only 0.0, which any scale represents (the int16x8 converter emits such scalars, ``arith.constant``, at scale 0).
- ``tiny_scale``: (a) a scale below float32's smallest normal ``2^-126`` (kernels keep scales as float32; a
  subnormal one loses precision and ``1/s`` overflows); (b) an effective multiplier ``e = s_in * s_w[c] / s_out``
  of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV / BATCH_MATMUL (the product of the scales of
  its 8/16-bit inputs over the output's, as PopulateConvolutionQuantizationParams computes it) that
  ``QuantizeMultiplier`` flushes to 0: ``frexp`` exponent below -31, i.e. ``e < 2^-32`` (no int32 accumulator
  times ``e`` reaches half an LSB, so the channel outputs only the zero point). Reported on the op's output;
  value: the smallest flushed ``e``.
- ``channel_spread``: a per-channel tensor whose scales span ``max(s) / min(s) > 1e3`` (three decimal orders; a
  channel that far below its neighbours is effectively zeroed: its bias, quantized at ``s_in * s_w[c]``, and its
  output share the neighbours' output scale). Channels whose quantized weights are all zero are ignored (the
  converter gives them an arbitrary scale), as are scales already reported as ``zero_scale``.
- ``unused_range``: an 8/16-bit activation tensor (no constant data) whose representable range
  ``[(qmin - zp) * s, (qmax - zp) * s]`` is mostly unused by the float reference's same-named tensor ``v``
  (``float_tensors``, e.g. ``reference.tflite.run_all(float_model, inputs, float64=True)[1]``): the used span,
  the best the spec allows (asymmetric: ``[min(v, 0), max(v, 0)]``, 0 must be representable; symmetric ``zp = 0``
  int16: ``[-max|v|, max|v|]``), below ``1/8`` of the representable span, i.e. more than 3 bits of resolution
  lost. value: the fraction used; the detail gives ``log2(1 / fraction)`` bits lost (capped at the type's bits).
  Skipped: tensors without a same-named, same-shaped float tensor (the float conversion named or shaped them
  otherwise), and outputs of ops whose output scale the spec fixes (LOGISTIC, TANH, SOFTMAX, LOG_SOFTMAX,
  L2_NORMALIZATION), which calibration does not choose.
"""

from __future__ import annotations

import numpy as np

from reference.tflite.fixedpoint import quantize_multiplier

FLOAT32_MIN_NORMAL = 2.0**-126
MULTIPLIER_FLUSH = 2.0**-32  # QuantizeMultiplier: shift < -31 -> multiplier 0
CHANNEL_SPREAD = 1e3
USED_FRACTION = 1 / 8
_MULTIPLIER_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}
_FIXED_SCALE_OPS = {"LOGISTIC", "TANH", "SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION"}
_NARROW = (np.int8, np.uint8, np.int16)


def lint(graph, float_tensors: dict[str, np.ndarray]) -> list[dict]:
    """The findings of ``graph`` (a :func:`reference.tflite.load` Graph), in tensor order then op order."""
    users: dict[int, list[str]] = {}
    for position, op in enumerate(graph.operators):
        for i in {*op.inputs, *op.outputs} - {-1}:
            users.setdefault(i, []).append(f"#{position} {op.name}")
    findings = []

    def add(kind, index, value, bound, detail):
        findings.append({"kind": kind, "tensor": graph.tensors[index].name, "ops": users.get(index, []),
                         "value": float(value), "bound": float(bound), "detail": detail})

    fixed = {o for op in graph.operators if op.name in _FIXED_SCALE_OPS for o in op.outputs}
    for index, t in enumerate(graph.tensors):
        if not t.quantized:
            continue
        scale = t.scale.astype(np.float64)
        bad = ~(np.isfinite(scale) & (scale > 0))
        if bad.any() and not _only_zeros(t):
            c = int(np.argmax(bad))
            add("zero_scale", index, scale[c], 0.0, f"scale {scale[c]:g} (channel {c} of {scale.size}): holds no value")
        tiny = ~bad & (scale < FLOAT32_MIN_NORMAL)
        if tiny.any() and not _only_zeros(t):
            add("tiny_scale", index, scale[tiny].min(), FLOAT32_MIN_NORMAL,
                f"{int(tiny.sum())} scale(s) below float32's smallest normal 2^-126")
        if scale.size > 1 and t.data is not None and t.dtype in _NARROW:  # weights; biases follow s_in * s_w
            nonzero = np.moveaxis(np.asarray(t.data) != 0, t.axis, 0).reshape(scale.size, -1).any(axis=1)
            kept = scale[nonzero & ~bad]
            if kept.size > 1 and kept.max() / kept.min() > CHANNEL_SPREAD:
                add("channel_spread", index, kept.max() / kept.min(), CHANNEL_SPREAD,
                    f"per-channel scales {kept.min():.3g}..{kept.max():.3g} over {kept.size} non-zero channels")
        reference = float_tensors.get(t.name)
        if (t.data is None and t.dtype in _NARROW and index not in fixed and reference is not None
                and np.shape(reference) == t.shape and not bad.any()):
            info, s, zp = np.iinfo(t.dtype), scale[0], int(t.zero_point[0])
            values = np.asarray(reference, np.float64)
            values = values[np.isfinite(values)]
            if t.dtype == np.int16 and zp == 0:
                used = 2 * np.abs(values).max(initial=0.0)
            else:
                used = max(values.max(initial=0.0), 0.0) - min(values.min(initial=0.0), 0.0)
            fraction = used / ((info.max - info.min) * s)
            if fraction < USED_FRACTION:
                lost = min(-np.log2(fraction), info.bits) if fraction > 0 else info.bits
                add("unused_range", index, fraction, USED_FRACTION,
                    f"float values span {used:.3g} of {(info.max - info.min) * s:.3g} representable "
                    f"({(info.min - zp) * s:.3g}..{(info.max - zp) * s:.3g}): {lost:.1f} bits lost")
    for position, op in enumerate(graph.operators):
        out = graph.tensors[op.outputs[0]]
        ins = [graph.tensors[i] for i in op.inputs if i >= 0 and graph.tensors[i].dtype in _NARROW]
        if (op.name not in _MULTIPLIER_OPS or not out.quantized or not out.scale[0] > 0
                or not all(t.quantized for t in ins)):
            continue
        product = np.ones(1)
        for t in ins:
            product = product * t.scale.astype(np.float64)
        effective = product / np.float64(out.scale[0])
        flushed = (effective > 0) & (quantize_multiplier(effective)[0] == 0)
        if flushed.any():
            add("tiny_scale", op.outputs[0], effective[flushed].min(), MULTIPLIER_FLUSH,
                f"#{position} {op.name}: effective multiplier s_in*s_w/s_out below 2^-32 in {int(flushed.sum())} of "
                f"{effective.size} channel(s); QuantizeMultiplier flushes it to 0 (output = zero point)")
    return findings


def _only_zeros(t) -> bool:
    """A constant whose every quantized value is its (per-channel) zero point: 0.0 whatever its scale."""
    if t.data is None:
        return False
    q = np.asarray(t.data, np.int64)
    zp = t.zero_point if t.zero_point.size == 1 else t.zero_point.reshape([-1 if d == t.axis else 1
                                                                           for d in range(q.ndim)])
    return bool(np.all(q == zp))
