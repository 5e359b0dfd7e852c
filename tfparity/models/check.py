"""``check_model(case, lane)``: the pipeline of a whole model on one lane, one record.

Reference: the numpy executor in float64 (``reference.tflite.run(..., float64=True)``) on the model's float
conversion (a bring-your-own integer ``.tflite``: the executor's exact integer run of it). TF lanes are
compared with it too, so a conversion bug shows as a TF-vs-reference mismatch.

Outcome, per lane kind, each on a continuous metric:

- float-output lanes (float32, float16 weights, dynamic-range, LiteRT's GPU accelerator): every output within
  the ``model`` tolerance of the float64 run of the model *as the lane holds it* (:func:`held_reference`: its
  float16 or int8 weights as stored, its inputs in its storage type), scale ``max|ref|`` of that output. The
  entry's ``per_op`` part grows with the number of ops on the longest path that round in the lane's format
  (:func:`rounding_depth`). What the format itself loses against the float model shows in ``outputs`` and
  ``task``, the accuracy side of the accuracy-vs-speed chart.
- integer lanes: judged per layer like op cases (every op within ``quant.PATH_LSB`` of the executor's kernel on
  the lane's own inputs; ``tflite-int8-ref``: every tensor equal to the executor's integer run), and the
  quantized model's task loss within the spec's budget (e.g. digits: top-1 accuracy at most 2 points below
  the reference). The per-layer table: :mod:`tfparity.models.layers`.

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
from tfparity.convert import UINT8_MODES, ShapeLost
from tfparity.metrics import admits_zero, errors, tolerance_used, vacuous_reason
from tfparity.phases import phase
from tfparity.quant import EXACT_LANES, PATH_LSB
from tfparity.timing import measure
from tfparity.tolerances import lookup

INTEGER_MODES = ("int8", "int16x8", *UINT8_MODES)


class NotApplicable(Exception):
    """The lane does not apply to this model (e.g. a float .tflite on an int8 lane): the outcome is ``skip``."""


BISECTED = ("fail", "xfail", "crash", "error")  # outcomes whose culprit op is looked for (tfparity.models.bisect)


def check_model(case, lane: str, *, benchmark, run_id: str, threads: int, availability: tuple[bool, str],
                lifecycle: tuple[int, ...] = ()) -> dict:
    """One model on one lane (see the module doc); ``lifecycle``: the thread counts whose lifecycle is measured, each
    in a fresh worker (``--threads 1,2``, or the full profile's one count; none: not measured)."""
    started = time.perf_counter()
    record = model_record(case, lane, run_id)
    try:
        _evaluate(record, case, lane, benchmark, threads, availability, lifecycle)
    except lanes_module.Refused as exc:  # the lane's converter or runtime declined it
        record.update(outcome="unsupported", reason=str(exc))
    except ShapeLost as exc:  # a finding about the converter, named per input
        record.update(outcome="fail", reason=str(exc))
    except NotApplicable as exc:
        record.update(outcome="skip", reason=str(exc))
    except lanes_module.WorkerCrashed as exc:  # the lane's worker process died: this model, not the run
        record.update(outcome="crash", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of this model is recorded, the run goes on
        record.update(outcome="error", reason=_one_line(exc), traceback=traceback.format_exc(limit=8))
    if availability[0]:
        find_culprit(record, case, lanes_module.LANES[lane], threads)
    record["duration_s"] = time.perf_counter() - started
    return record


def model_record(case, lane: str, run_id: str) -> dict:
    """A model case's record before it runs: the common fields and ``model`` (name, source, budget, the report page
    it is drawn on)."""
    return {**base_record(case, lane, run_id),
            "model": {"name": case.op.name, "source": case.op.source, "budget": list(case.op.budget),
                      "page": case.op.page or case.op.name}}


def find_culprit(record, case, lane, threads):
    """``culprit``: the op that makes ``lane`` diverge or crash on the model (:mod:`tfparity.models.bisect`), for a
    record whose outcome is one of :data:`BISECTED`, of a model (not a pipeline) on a lane that runs a .tflite in a
    worker; a bisection that cannot run says why. Also called by the run's controller for a crash that killed the
    pytest worker itself (an in-process lane), where ``check_model`` never returned."""
    from tfparity.models.bisect import culprit

    if record["outcome"] not in BISECTED or case.op.pipeline or lane.isolated() is None:
        return
    try:
        model = model_bytes(case, lane.mode)
        with phase("bisect"):
            record["culprit"] = culprit(lane, model, case.arrays.inputs, threads, case.op.name)
    except Exception as exc:  # noqa: BLE001 - the record keeps its outcome; the bisection's failure is said
        record["culprit"] = {"found": False, "reason": f"bisection failed: {_one_line(exc)}"}


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
        weights = (len(case.op.frozen.graph_bytes) if case.op.frozen is not None else
                   sum(int(np.prod(w.shape)) for w in case.op.build(case.params).weights) * 4)
        return runnable, weights, time.perf_counter() - start
    raise NotApplicable(f"lane {lane.name} does not run whole models")


def _evaluate(record, case, lane_name, benchmark, threads, availability, lifecycle):
    ok, why = availability
    if not ok:
        record.update(outcome="skip", reason=why)
        return
    lane = lanes_module.LANES[lane_name]
    lane_name = lane.judged_as  # tolerances, deviations and exactness: a pinned lane is judged as its base
    if case.op.pipeline:  # an application around nets (tfparity.models.pipeline), judged on its task
        from tfparity.models.pipeline import evaluate

        evaluate(record, case, lane, benchmark, threads)
        if record["outcome"] != "baseline":
            _apply_deviation(record, case.deviation(lane_name), record["outcome"] == "pass")
        return
    with phase("reference"):
        expected, float_tensors = reference_outputs(case)
    rss = _rss_mb()
    runnable, size, load_s = _prepare(case, lane, threads)
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
    with phase("timing"):
        record["timing"] = measure(benchmark, runnable.invoke, runnable.timer)
    if record["timing"]:  # None when timing is off (--no-timing, parallel workers)
        info["p90_s"] = float(np.percentile(record["timing"]["samples"], 90))
    record["metrics"] = dict(max(info["outputs"], key=lambda e: e["max_abs"]))
    if lane.kind == "reference":
        record.update(outcome="baseline", reason=BASELINE)
        return
    if lane.mode in INTEGER_MODES:
        _integer(record, case, lane, runnable, float_tensors, threads)
        _judge_task(record, case)
    else:
        _judge_held(record, case, lane, runnable, actual, expected)
    _apply_deviation(record, case.deviation(lane_name), record["outcome"] == "pass")
    try:
        _inside(record, case, lane, runnable, threads, lifecycle)
    except Exception as exc:  # noqa: BLE001 - the verdict stands; what could not be measured inside is said
        record["inside_error"] = _one_line(exc)


def _inside(record, case, lane, runnable, threads, counts):
    """Where each op ran (``partitions``); with timing on, each op alone (``op_profile``) and the lifecycle at each of
    ``counts`` threads in a fresh worker (``lifecycle``): :mod:`tfparity.models.inside`. An accelerator compiles
    each one-op model anew (0.3-0.4 s per op on llvmpipe), so its op profile comes with the lifecycle's runs only
    (``counts``: the full profile, or a thread sweep)."""
    from tfparity.models import inside

    if runnable.model is None:  # TF lanes: no .tflite
        return
    record["partitions"] = inside.partitions(runnable, runnable.tflite_ops)
    if not record["timing"]:
        return
    with phase("inside"):
        if counts or not runnable.settings.get("accelerator"):
            kept = case.__dict__.setdefault("inside_reference", {})  # lanes that run one model share its tensors
            if runnable.model not in kept:
                kept[runnable.model] = inside.reference_tensors(runnable.model, case.arrays.inputs)
            where = [row["where"] for row in record["partitions"]["ops"]] if record["partitions"] else None
            record["op_profile"] = inside.op_profile(lane, runnable.model, kept[runnable.model], where, threads)
        found = [inside.lifecycle(lane, runnable.model, case.arrays.inputs, n) for n in counts]
        if found and None not in found:
            record["lifecycle"] = found


def _integer(record, case, lane, runnable, float_tensors, threads):
    """The per-layer table, judged per layer as op cases are: each op's output, computed from the lane's own
    input tensors, within ``quant.PATH_LSB`` of the executor's kernel (exact lanes: every tensor equal to the
    executor's integer run)."""
    import reference.tflite
    from tfparity.models.layers import table
    from tfparity.models.quant_lint import lint

    q_inputs = [q.quantize(x) for q, x in zip(runnable.input_quant, case.arrays.inputs)]
    with phase("layers"):
        record["model"].update(table(lane, runnable.model, q_inputs, float_tensors, threads))
    record["model"]["quant_lint"] = lint(reference.tflite.load(runnable.model), float_tensors)
    layers = record["model"]["layers"]
    if lane.judged_as in EXACT_LANES:
        worst = max((row["max_lsb_vs_exact"] for row in layers), default=0)
        if worst:
            record.update(outcome="fail", reason=f"a tensor differs from reference.tflite by {worst} LSB "
                                                 "(must be exact)")
        return
    off = [row for row in layers if row["max_lsb_isolated"] > PATH_LSB]
    if off:
        row = off[0]
        record.update(outcome="fail", reason=f"{len(off)} ops are more than {PATH_LSB} LSB from the exact kernel on "
                                             f"their own inputs; first {row['op']} {row['tensor']!r}: "
                                             f"{row['max_lsb_isolated']} LSB")


def _judge_task(record, case):
    """Integer lanes: the quantized model's task loss against the float reference within the spec's budget."""
    name, limit = case.op.budget
    value = record["model"]["task"][name]
    record["tolerance"] = {"atol": limit, "rtol": 0.0, "scale": f"task: {name}"}
    if record["outcome"] == "fail":  # a layer already failed
        return
    passed = value <= limit
    record.update(outcome="pass" if passed else "fail",
                  reason="" if passed else f"task {name} {value:.3g} exceeds the budget {limit:g}")


def held_reference(graph, lane, inputs, float_outputs) -> list[np.ndarray]:
    """The float64 outputs of the model as ``lane`` holds it (``graph``: the model it loaded): float16 weights
    (``fp16``) or int8 weights (``dynamic``) exactly as stored, ``inputs`` in the lane's storage (``activations``);
    else the float reference."""
    import reference.tflite

    if lane.mode in ("fp16", "dynamic") or lane.activations is not None:
        return reference.tflite.run(graph, lane.held(inputs), float64=True)
    return float_outputs


def rounding_depth(graph, lane) -> int:
    """The most ops that round in ``lane``'s format on any path from an input to an output of ``graph``: ops with
    int8 weights on dynamic-range lanes, every op where activations are stored in a narrower type."""
    depth = dict.fromkeys(graph.inputs, 0)
    for op in graph.operators:
        weights = [graph.tensors[i] for i in op.inputs[1:] if i >= 0]
        rounds = lane.activations is not None or any(t.data is not None and t.dtype == np.int8 for t in weights)
        depth[op.outputs[0]] = max((depth.get(i, 0) for i in op.inputs if i >= 0), default=0) + int(rounds)
    return max((depth.get(i, 0) for i in graph.outputs), default=0)


def _judge_held(record, case, lane, runnable, actual, float_outputs):
    """Float-output lanes: every output within ``atol + (rtol + per_op * depth) * max|held|`` of the float64 run of
    the model as the lane holds it (:func:`held_reference`; depth: :func:`rounding_depth`)."""
    import reference.tflite

    graph = None if runnable.model is None else reference.tflite.load(runnable.model)
    with phase("reference"):
        held = held_reference(graph, lane, case.arrays.inputs, float_outputs)
    tolerance = lookup(lane.judged_as, ["model:" + case.op.name, "model"])
    depth = rounding_depth(graph, lane) if tolerance.per_op else 0
    rtol = tolerance.rtol + tolerance.per_op * depth
    against = "the float reference" if held is float_outputs else "the model as the lane holds it"
    record["tolerance"] = {**tolerance.as_record(f"max|ref| per output, against {against}"), "rtol": rtol,
                           **({"rounding_depth": depth} if tolerance.per_op else {})}
    scales = [np.full(np.shape(r), np.abs(r).max(initial=0.0)) for r in held]
    used = max(tolerance_used(y, r, m, tolerance.atol, rtol) for y, r, m in zip(actual, held, scales))
    record["metrics"]["tol_used"] = used
    passed = used <= 1.0
    record.update(outcome="pass" if passed else "fail", reason="" if passed else
                  f"an output is outside tolerance atol={tolerance.atol:g} rtol={rtol:.3g} against {against} "
                  f"({used:.3g}x the tolerance)")
    if passed and any(admits_zero(r, m, tolerance.atol, rtol) for r, m in zip(held, scales)):
        record.update(outcome="fail", reason=vacuous_reason(tolerance.atol, rtol))
