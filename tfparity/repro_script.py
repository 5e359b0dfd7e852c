"""Standalone reproduction of one tfparity record; needs only numpy and tensorflow or ai-edge-litert.

    python repro.py [--seconds 1.0]

Written next to this script by ``python -m tfparity repro``: ``repro.json`` (the record and how it
ran), ``inputs.npz`` (the case's inputs, ``x0``, ``x1``, …), ``expected.npz`` (the float64 reference
output ``expected``, the error scale ``magnitude`` and the allowed error ``allowed`` per element; for
integer models also the exact integer output ``exact`` of a reference implementation of LiteRT's
reference kernels) and the model: ``model.tflite``, or ``saved_model/`` for TensorFlow lanes.

Runs the case once, prints the error metrics next to the recorded ones, then times the call for
--seconds and prints the median next to the recorded one. Exit status 0 when the recorded outcome
(within tolerance or not) and error metrics reproduce, 1 when they do not. Timing is printed only: it
depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """LiteRT's QUANTIZE: ``clip(round_half_away(x / scale) + zero_point)`` in float32."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    info = np.iinfo(dtype)
    return np.clip(q, info.min, info.max).astype(dtype)


def tflite(spec: dict, inputs: list[np.ndarray]):
    """``invoke`` and ``output() -> (raw integer output or None, float output)`` of model.tflite."""
    from ai_edge_litert import interpreter

    it = interpreter.Interpreter(model_path=str(HERE / "model.tflite"), num_threads=spec["threads"],
                                 experimental_op_resolver_type=getattr(interpreter.OpResolverType, spec["resolver"]))
    it.allocate_tensors()
    for detail, x in zip(it.get_input_details(), inputs):
        scale, zero_point = detail["quantization"]
        it.set_tensor(detail["index"], quantize(x, scale, zero_point, detail["dtype"]) if scale else x)
    out = it.get_output_details()[0]

    def output():
        y = it.get_tensor(out["index"])
        scale, zero_point = out["quantization"]
        return (y, (y.astype(np.int64) - zero_point) * np.float64(scale)) if scale else (None, y)

    return it.invoke, output


def tensorflow(spec: dict, inputs: list[np.ndarray]):
    """``invoke`` and ``output()`` of the SavedModel's ``f`` (XLA-compiled if the lane was)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    with tf.device(spec["device"]):
        model = tf.saved_model.load(str(HERE / "saved_model"))
        tensors = [tf.constant(x) for x in inputs]
    state = {}

    def invoke():
        with tf.device(spec["device"]):
            state["y"] = model.f(*tensors)

    return invoke, lambda: (None, state["y"].numpy())


def metrics(raw, actual: np.ndarray, data: dict, spec: dict) -> dict:
    """The record's error metrics that the exported data determine (tfparity.metrics' definitions)."""
    y, r = np.asarray(actual, np.float64), data["expected"]
    special = (np.isnan(y) != np.isnan(r)) | ((np.isinf(y) | np.isinf(r)) & (y != r))
    if spec["signed_zeros"]:
        special |= (y == 0) & (r == 0) & (np.signbit(y) != np.signbit(r))
    both = np.isfinite(y) & np.isfinite(r)  # special values are judged exactly above, the rest by their error
    y, r, m = y[both], r[both], np.broadcast_to(data["magnitude"], both.shape)[both]
    diff = np.abs(y - r)
    floor = max(float(np.abs(r).max(initial=0.0)) * 1e-6, np.finfo(np.float64).tiny)
    found = {"max_abs": float(diff.max(initial=0.0)),
             "max_norm": float((diff / np.maximum(m, floor)).max(initial=0.0))}
    if raw is None:
        allowed = np.maximum(np.broadcast_to(data["allowed"], both.shape)[both], np.finfo(np.float64).tiny)
        found["special_mismatch"] = int(special.sum())
        found["tol_used"] = float("inf") if special.any() else float((diff / allowed).max(initial=0.0))
    else:
        lsb_float, lsb_exact = diff / spec["output_scale"], np.abs(raw.astype(np.int64) - data["exact"])
        found["max_lsb_vs_float"] = float(lsb_float.max(initial=0.0))
        found["max_lsb_vs_exact"] = int(lsb_exact.max(initial=0))
        per_element = lsb_exact if spec["against"] == "exact" else lsb_float
        found["elements_outside"] = int((per_element > spec["allowed_lsb"]).sum())
        found["rms_lsb"] = float(np.sqrt(np.mean(per_element**2))) if per_element.size else 0.0
    return found


def within(found: dict, spec: dict) -> bool:
    """The lane's pass criterion: the share of the tolerance used, or, on integer lanes, every output element within
    ``allowed_lsb`` of the exact integer output (or of the float reference: ``against``) and their RMS within
    ``allowed_rms_lsb``."""
    if "tol_used" in found:
        return found["tol_used"] <= 1.0
    return found["elements_outside"] == 0 and found["rms_lsb"] <= spec["allowed_rms_lsb"]


def main() -> int:
    parser = argparse.ArgumentParser(description="reproduce one tfparity record")
    parser.add_argument("--seconds", type=float, default=1.0, help="how long to time the call (0: no timing)")
    args = parser.parse_args()
    spec = json.loads((HERE / "repro.json").read_text())
    inputs = list(np.load(HERE / "inputs.npz").values())
    data = dict(np.load(HERE / "expected.npz"))
    recorded = spec["recorded"]
    print(f"case {recorded['case_id']} on lane {recorded['lane']} (run {recorded['run_id']}): "
          f"recorded {recorded['outcome']}{': ' + recorded['reason'] if recorded['reason'] else ''}")

    invoke, output = (tflite if spec["runtime"] == "tflite" else tensorflow)(spec, inputs)
    invoke()
    raw, actual = output()
    if actual.shape != data["expected"].shape:  # how the record says it too (tfparity.check)
        shapes = f"output shape {tuple(actual.shape)}, reference shape {tuple(data['expected'].shape)}"
        reproduced = recorded["outcome"] != "pass" and shapes in recorded["reason"]
        print(f"  {shapes}\n{'REPRODUCED' if reproduced else 'NOT REPRODUCED'}")
        return 0 if reproduced else 1
    found = metrics(raw, actual, data, spec)
    same = True
    for name, value in found.items():
        before = recorded["metrics"].get(name)
        match = before is not None and (value == before or abs(value - before) <= 1e-6 * max(abs(before), 1e-12))
        same &= match
        print(f"  {name:<18} recorded {before!s:<24} reproduced {value!s:<24} {'same' if match else 'DIFFERENT'}")
    passed, recorded_pass = within(found, spec), recorded["outcome"] == "pass"
    print(f"  within tolerance: recorded {recorded_pass}, reproduced {passed}")

    if args.seconds > 0:
        for _ in range(10):
            invoke()
        samples, end = [], time.perf_counter() + args.seconds
        while time.perf_counter() < end or len(samples) < 5:
            start = time.perf_counter()
            invoke()
            samples.append(time.perf_counter() - start)
        median, before = statistics.median(samples), (recorded.get("timing") or {}).get("median_s")
        ratio = f" ({median / before:.2f}x the recorded {before * 1e3:.4g} ms)" if before else ""
        print(f"  latency median {median * 1e3:.4g} ms over {len(samples)} calls{ratio}")

    reproduced = same and passed == recorded_pass
    print("REPRODUCED" if reproduced else "NOT REPRODUCED")
    return 0 if reproduced else 1


if __name__ == "__main__":
    raise SystemExit(main())
