"""``check_model(case, lane)``: the pipeline of a whole model on one lane, one record.

Reference: the numpy executor in float64 (``reference.tflite.run(..., float64=True)``) on the model's float
conversion (a bring-your-own integer ``.tflite``: the executor's exact integer run of it). TF lanes are
compared with it too, so a conversion bug shows as a TF-vs-reference mismatch.

Outcome: float32 lanes pass when every output is within the ``model`` tolerance of the reference (scale:
``max|ref|`` of that output); lossy lanes (fp16, dynamic, integer) pass when the spec's task budget holds
(e.g. digits: top-1 accuracy at most 2 points below the reference), and ``tflite-int8-ref`` must also equal
the executor's integer run exactly, in every tensor. Integer lanes also get the per-layer table
(:mod:`tfparity.models.layers`).

The record's ``model`` field: ``outputs`` (per-output errors), ``task`` (task metrics), ``size_bytes``
(the .tflite; TF lanes: float32 weights), ``load_s`` (interpreter built and tensors allocated; TF lanes:
tracing and the first call), ``first_inference_s``, ``memory_mb`` (resident memory added while loading and
running once), ``p90_s`` (of the timed rounds), and for integer lanes ``layers`` and ``first_divergent``.
"""

from __future__ import annotations

import time
import traceback

import numpy as np

from tfparity import lanes as lanes_module
from tfparity.check import BASELINE, _apply_deviation, _one_line, base_record
from tfparity.metrics import errors, tolerance_used
from tfparity.quant import EXACT_LANES
from tfparity.timing import measure
from tfparity.tolerances import lookup

LOSSY_MODES = ("fp16", "dynamic", "int8", "int16x8")


class NotApplicable(Exception):
    """The lane does not apply to this model (e.g. a float .tflite on an int8 lane): the outcome is ``skip``."""


def check_model(case, lane: str, *, benchmark, run_id: str, threads: int, availability: tuple[bool, str]) -> dict:
    started = time.perf_counter()
    record = base_record(case, lane, run_id)
    record["model"] = {"name": case.op.name, "source": case.op.source, "budget": list(case.op.budget)}
    try:
        _evaluate(record, case, lane, benchmark, threads, availability)
    except NotApplicable as exc:
        record.update(outcome="skip", reason=str(exc))
    except lanes_module.WorkerCrashed as exc:  # the lane's worker process died: this model, not the run
        record.update(outcome="crash", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of this model is recorded, the run goes on
        record.update(outcome="error", reason=_one_line(exc), traceback=traceback.format_exc(limit=8))
    record["duration_s"] = time.perf_counter() - started
    return record


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def model_bytes(case, mode: str) -> bytes:
    """The case's ``.tflite`` in ``mode``: converted (cached), or the given file when its kind matches."""
    given = getattr(case.op, "tflite_bytes", None)
    if given is None:
        return lanes_module.converted(case, mode)
    if mode != case.op.tflite_mode:
        raise NotApplicable(f"the given .tflite is a {case.op.tflite_mode} model; this lane runs {mode} models")
    return given


def reference_outputs(case) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The float64 reference outputs and intermediates (cached on the case until it is released)."""
    import reference.tflite

    if "model_reference" not in case.__dict__:
        mode = getattr(case.op, "tflite_mode", "float")
        model = model_bytes(case, mode)
        if mode == "float":
            case.__dict__["model_reference"] = reference.tflite.run_all(model, case.arrays.inputs, float64=True)
        else:
            case.__dict__["model_reference"] = _exact_integer(model, case.arrays.inputs)
    return case.__dict__["model_reference"]


def _exact_integer(model: bytes, inputs):
    """The executor's integer run of an integer model on quantized ``inputs``, outputs dequantized."""
    import reference.tflite

    graph = reference.tflite.load(model)
    q_inputs = [_quantization(graph.tensors[i]).quantize(x) for i, x in zip(graph.inputs, inputs)]
    outputs, tensors = reference.tflite.run_all(graph, q_inputs)
    return [_quantization(graph.tensors[i]).dequantize(y) for i, y in zip(graph.outputs, outputs)], tensors


def _quantization(tensor) -> lanes_module.Quantization:
    return lanes_module.Quantization(float(tensor.scale[0]), int(tensor.zero_point[0]), tensor.dtype)


def _prepare(case, lane, threads):
    """(runnable, size in bytes, load seconds), asking the lane's capabilities what it runs."""
    formats = lane.capabilities.formats
    if "tflite" in formats:
        model = model_bytes(case, lane.mode)
        start = time.perf_counter()
        runnable = lane.load(model, threads)
        return runnable, len(model), time.perf_counter() - start
    if getattr(case.op, "tflite_bytes", None) is not None:
        raise NotApplicable("a .tflite file has no TF graph or float conversion to run on this lane")
    if "graph" in formats:
        start = time.perf_counter()
        runnable = lane.prepare(case, threads)
        weights = sum(int(np.prod(w.shape)) for w in case.op.build(case.params).weights) * 4
        return runnable, weights, time.perf_counter() - start
    raise NotApplicable(f"lane {lane.name} does not run whole models")


def _evaluate(record, case, lane_name, benchmark, threads, availability):
    ok, why = availability
    if not ok:
        record.update(outcome="skip", reason=why)
        return
    lane = lanes_module.LANES[lane_name]
    lane_name = lane.judged_as  # tolerances, deviations and exactness: a pinned lane is judged as its base
    expected, float_tensors = reference_outputs(case)
    rss = _rss_mb()
    try:
        runnable, size, load_s = _prepare(case, lane, threads)
    except lanes_module.Refused as exc:
        record.update(outcome="unsupported", reason=str(exc))
        return
    start = time.perf_counter()
    runnable.set_inputs(case.arrays.inputs)
    runnable.invoke()
    first_s = time.perf_counter() - start
    actual = runnable.outputs()
    info = record["model"]
    info.update(size_bytes=size, load_s=load_s, first_inference_s=first_s, memory_mb=max(_rss_mb() - rss, 0.0))
    record.update(tflite_ops=runnable.tflite_ops, settings=runnable.settings)
    shapes = [np.shape(y) for y in actual], [np.shape(r) for r in expected]
    if shapes[0] != shapes[1]:
        record.update(outcome="fail", reason=f"output shapes {shapes[0]}, reference shapes {shapes[1]}")
        return
    scales = [np.full(np.shape(r), np.abs(r).max(initial=0.0)) for r in expected]
    info["outputs"] = [errors(y, r, m) for y, r, m in zip(actual, expected, scales)]
    info["task"] = case.op.task(case.params, actual, expected, case.arrays)
    record["timing"] = measure(benchmark, runnable.invoke, runnable.timer)
    if record["timing"]:  # None when timing is off (--no-timing, parallel workers)
        info["p90_s"] = float(np.percentile(record["timing"]["samples"], 90))
    record["metrics"] = dict(max(info["outputs"], key=lambda e: e["max_abs"]))
    if lane.kind == "reference":
        record.update(outcome="baseline", reason=BASELINE)
        return
    mode = lane.mode
    if mode in ("int8", "int16x8") and lane.capabilities.per_layer:
        _integer(record, case, lane, runnable, float_tensors, threads)
    if mode in LOSSY_MODES or lane.activations is not None:  # float16 arithmetic (litert-gpu) is lossy too
        _judge_task(record, case)
    else:
        _judge_float(record, case, lane_name, actual, expected, scales)
    _apply_deviation(record, case.deviation(lane_name), record["outcome"] == "pass")


def _integer(record, case, lane, runnable, float_tensors, threads):
    """The per-layer table; on exact lanes every tensor must equal the executor's integer run."""
    from tfparity.models.layers import table

    q_inputs = [q.quantize(x) for q, x in zip(runnable.input_quant, case.arrays.inputs)]
    record["model"].update(table(lane, runnable.model, q_inputs, float_tensors, threads))
    worst = max((row["max_lsb_vs_exact"] for row in record["model"]["layers"]), default=0)
    if lane.judged_as in EXACT_LANES and worst:
        record.update(outcome="fail", reason=f"a tensor differs from reference.tflite by {worst} LSB (must be exact)")


def _judge_task(record, case):
    name, limit = case.op.budget
    value = record["model"]["task"][name]
    record["tolerance"] = {"atol": limit, "rtol": 0.0, "scale": f"task: {name}"}
    if record["outcome"] == "fail":  # the exact lane already failed
        return
    passed = value <= limit
    record.update(outcome="pass" if passed else "fail",
                  reason="" if passed else f"task {name} {value:.3g} exceeds the budget {limit:g}")


def _judge_float(record, case, lane_name, actual, expected, scales):
    tolerance = lookup(lane_name, ["model:" + case.op.name, "model"])
    record["tolerance"] = tolerance.as_record("max|ref| per output")
    used = max(tolerance_used(y, r, m, tolerance.atol, tolerance.rtol) for y, r, m in zip(actual, expected, scales))
    record["metrics"]["tol_used"] = used
    passed = used <= 1.0
    record.update(outcome="pass" if passed else "fail", reason="" if passed else
                  f"an output is outside tolerance atol={tolerance.atol:g} rtol={tolerance.rtol:g} "
                  f"({used:.3g}x the tolerance)")
