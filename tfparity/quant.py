"""Judging integer (int8, int16x8) lanes in output LSBs, and the error bound of dynamic-range models.

The float reference is the op in float64 on the inputs the model actually saw,
``dequantize(quantize(x))``, so the harness's own input rounding is not charged to the lane.
Against it, in real units of the output scale ``s``: ``max_lsb_vs_float = max|y - r| / s``,
``rmse_over_scale`` (≈0.289 is ideal rounding; above 0.7 is a red flag) and ``snr_db``.
Against ``reference.tflite`` (bit-exact with LiteRT's reference kernels): ``max_lsb_vs_exact`` and
the histogram of integer differences.

Policy, per output element: ``tflite-int8-ref`` must equal the executor exactly (0 LSB; any difference is a bug
in one of them). Every other integer lane must be within ``PATH_LSB`` (1) of the executor at every element: the
one LSB by which a kernel path's requantization may round differently (XNNPACK rounds a float32 product half to
even, the builtin kernels round ties upward, the reference kernels use gemmlowp double rounding; SEMANTICS.md).
Where a path computes an op with other documented arithmetic (:data:`OWN_ARITHMETIC`), each of its elements must
instead be within ``PATH_LSB`` of the float reference. ``elements_outside`` counts the elements that break the rule.

And over the whole output, since paths differ only where they round a tie otherwise: the RMS of the per-element
difference at most ``RMS_LSB`` (0.5: a quarter of the elements one LSB off; measured <= 0.125 on the quick
profile), so a lane off by one LSB everywhere fails; against the float reference, ``rmse_over_scale`` at most
``RMSE_RED_FLAG`` (0.7; ideal rounding gives 0.289). ``rmse_over_scale`` against float is not judged where the
lane follows the executor: there it measures the quantized model (int8 weights, the spec's arithmetic; measured
1.0 on a 7x7x3 conv, 2.0 on resize_v1's Q10 coordinates, on the exact pipeline too), not the lane.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

PATH_LSB = 1
RMS_LSB = 0.5
RMSE_RED_FLAG = 0.7
EXACT_LANES = frozenset({"tflite-int8-ref", "tflite-uint8-ref"})
# (lane, builtin op) computed with arithmetic of its own: judged per element against the float reference.
OWN_ARITHMETIC = {
    ("tflite-int8", "RESIZE_BILINEAR"): "XNNPACK resizes with Q11 weights lrintf(a*2048) and (acc + 2^21) >> 22, not "
                                        "the reference kernels' Q10 coordinates: within 0.54 LSB of float (measured), "
                                        "up to 9 LSB from the reference kernels",
}


def rule(lane: str, case) -> tuple[str, int, float, str]:
    """The rule of an integer lane: (``exact`` or ``float``: what each output element is compared with, the LSBs
    each element may differ by, the RMS over the output it may differ by, a description)."""
    if lane in EXACT_LANES:
        return "exact", 0, 0.0, "reference.tflite (must be exact)"
    own = next((OWN_ARITHMETIC[(lane, op)] for op in case.required_ops if (lane, op) in OWN_ARITHMETIC), None)
    if own is not None:
        return "float", PATH_LSB, RMSE_RED_FLAG, f"the float reference ({own})"
    return "exact", PATH_LSB, RMS_LSB, "reference.tflite"


def seen_reference(case, runnable) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(quantized inputs, float64 reference, error scale) of an integer lane: the op on the inputs the model saw,
    ``dequantize(quantize(x))``."""
    q_inputs = [q.quantize(x) for q, x in zip(runnable.input_quant, case.arrays.inputs)]
    seen = [q.dequantize(v) for q, v in zip(runnable.input_quant, q_inputs)]
    expected = case.op.reference(case.params, seen, case.arrays.consts)
    magnitude = (case.op.magnitude(case.params, seen, case.arrays.consts) if case.op.magnitude
                 else np.abs(expected))
    return q_inputs, expected, magnitude


def judge(record: dict, case, lane: str, runnable) -> np.ndarray:
    """Fill the record's metrics and outcome; return the dequantized output."""
    import reference.tflite
    from tfparity.metrics import errors

    q_inputs, expected, magnitude = seen_reference(case, runnable)
    out_q = runnable.output_quant
    q = runnable.raw_output().astype(np.int64)
    actual = out_q.dequantize(q)
    metrics = record["metrics"] = errors(actual, expected, magnitude)
    lsb = (actual - expected) / out_q.scale
    noise = float(np.sum((actual - expected) ** 2))
    metrics.update(max_lsb_vs_float=float(np.abs(lsb).max(initial=0.0)),
                   rmse_over_scale=float(np.sqrt(np.mean(lsb**2))) if lsb.size else 0.0,
                   snr_db=float(10 * np.log10(np.sum(expected**2) / noise)) if noise else float("inf"))
    try:
        (exact,) = reference.tflite.run(runnable.model, q_inputs)
    except NotImplementedError as exc:
        record.update(outcome="error", reason=f"cannot judge: {exc}")
        return actual
    diff = q - exact.astype(np.int64)
    exact_vs_float = float(np.abs(out_q.dequantize(exact) - expected).max(initial=0.0) / out_q.scale)
    metrics.update(max_lsb_vs_exact=int(np.abs(diff).max(initial=0)), exact_lsb_vs_float=exact_vs_float,
                   lsb_hist={str(k): int(v) for k, v in sorted(Counter(diff.ravel().tolist()).items())})
    against, allowed, allowed_rms, note = rule(lane, case)
    off = diff if against == "exact" else lsb
    outside = np.abs(off) > allowed
    rms = metrics["rms_lsb"] = float(np.sqrt(np.mean(np.square(off, dtype=np.float64)))) if off.size else 0.0
    record["tolerance"] = {"atol": allowed * out_q.scale, "rtol": 0.0, "rms_lsb": allowed_rms,
                           "scale": f"LSB vs {note}, every element"}
    metrics["elements_outside"] = count = int(outside.sum())
    worst = f"max {metrics['max_lsb_vs_exact']} LSB vs reference.tflite, {metrics['max_lsb_vs_float']:.3g} vs float"
    if count:
        record.update(outcome="fail", reason=f"{count} of {outside.size} output elements are more than {allowed} LSB "
                                             f"from {note} ({worst})")
    elif rms > allowed_rms:
        record.update(outcome="fail", reason=f"RMS difference {rms:.3g} LSB from {note} exceeds {allowed_rms:g} "
                                             f"(every element within {allowed} LSB; {worst})")
    else:
        record.update(outcome="pass", reason="")
    return actual


def dynamic_range_judgement(case, model: bytes | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(reference, error scale, per-element allowance) of a dynamic-range op case (int8 weights, float activations
    quantized on the fly), judged against the model's own weights as the lane holds them: the int8 filter
    dequantized per channel (:func:`own_filters`). With input step ``s_x = max|x| / 127`` (symmetric int8; the
    asymmetric ``(max - min) / 255`` and XNNPACK's per-row steps are no larger) each input is off by at most half a
    step, so ``|Δy| <= op(|x| + s_x/2, |w|) - op(|x|, |w|)``. None when ``model`` holds no int8 weights (small
    filters stay float) or the op has no ``filters`` constant (linear ops with a magnitude only)."""
    import reference.tflite

    if model is None or case.op.magnitude is None or "filters" not in case.arrays.consts:
        return None
    weights = [t for t in reference.tflite.load(model).tensors if t.dtype == np.int8 and t.data is not None]
    if not weights:
        return None
    (x,), consts = case.arrays.inputs, {**case.arrays.consts, "filters": own_filters(weights[0],
                                                                                      case.arrays.consts["filters"])}
    magnitude = case.op.magnitude(case.params, [x], consts)
    widened = case.op.magnitude(case.params, [np.abs(x) + np.abs(x).max(initial=0.0) / 254], consts)
    return case.op.reference(case.params, [x], consts), magnitude, widened - magnitude


def own_filters(tensor, filters: np.ndarray) -> np.ndarray:
    """An int8 weight tensor dequantized (``scale`` per index of its quantized ``axis``), in the layout of the op's
    float ``filters``: the axis order (then a reshape: depthwise's ``[1, H, W, C*M]`` to ``[H, W, C, M]``) under
    which it lies nearest them, as a quantization of them does (conv OHWI to HWIO, transposed conv OHWI to HWOI)."""
    shape = [1] * tensor.data.ndim
    shape[tensor.axis] = -1
    values = tensor.data.astype(np.float64) * (tensor.scale.astype(np.float64).reshape(shape)
                                               if tensor.scale.size > 1 else tensor.scale[0])
    candidates = (values.transpose(order).reshape(filters.shape)
                  for order in itertools.permutations(range(values.ndim)))
    return min(candidates, key=lambda w: float(np.abs(w - filters).max()))
