"""``check(case, lane)``: the one pipeline every suite calls.

case → lane (prepare: build/convert, cached) → run → compare with the float64 reference →
time → one record. Every (case, lane) ends as exactly one outcome (README: Outcomes); exceptions
from our code or the lane become ``error`` records, never an aborted run.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from pathlib import Path

import numpy as np

from tfparity import lanes as lanes_module
from tfparity import quant
from tfparity.metrics import admits_zero, errors, special_reason, tolerance_used, vacuous_reason
from tfparity.phases import phase
from tfparity.probes import rate
from tfparity.timing import measure
from tfparity.tolerances import lookup

BASELINE = "the reference itself: timed as a speed baseline, never counted as a check"


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 300 else text[:297] + "..."


def base_record(case, lane: str, run_id: str) -> dict:
    return {"type": "result", "run_id": run_id, "case_id": case.id, "op": case.op.name, "params": case.params,
            "seed": case.seed, "lane": lane, "outcome": "error", "reason": "", "tolerance": None, "metrics": {},
            "timing": None, "flops": case.flops, "gflops": None, "pct_peak": None, "tflite_ops": None,
            "settings": {}, **({"group": case.op.group(case.params)} if case.op.group else {})}


def check(case, lane: str, *, benchmark, run_id: str, threads: int, speed: dict,
          availability: tuple[bool, str], results_dir: Path | None = None) -> dict:
    """Run ``case`` on ``lane`` and return its record (never raises for a lane or case failure). ``speed``: the run
    header's ``peaks`` and ``overhead_floor_s`` (:mod:`tfparity.probes`), which timed records are rated against.
    With ``results_dir``, a mismatching image-shaped output is also drawn to
    ``<results_dir>/pictures/<run_id>/`` and the record names the file (``picture``)."""
    started = time.perf_counter()
    record = base_record(case, lane, run_id)
    try:
        actual = _evaluate(record, case, lane, benchmark, threads, speed, availability)
        if results_dir is not None and record["outcome"] in ("fail", "xfail") and _is_image(actual, case.expected):
            record["picture"] = _draw(record, case, actual, Path(results_dir))
    except lanes_module.WorkerCrashed as exc:  # the lane's worker process died: this case, not the run
        record.update(outcome="crash", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of this case is recorded, the run goes on
        record.update(outcome="error", reason=_one_line(exc), traceback=traceback.format_exc(limit=8))
    record["duration_s"] = time.perf_counter() - started
    return record


def _is_image(actual, expected) -> bool:
    return actual is not None and actual.ndim == 4 and actual.shape == expected.shape and min(actual.shape[1:3]) > 1


def _draw(record: dict, case, actual: np.ndarray, results_dir: Path) -> str:
    from tfparity.pictures import save_comparison

    name = hashlib.sha256(f"{case.id}|{record['lane']}".encode()).hexdigest()[:16] + ".png"
    relative = Path("pictures") / record["run_id"] / name
    save_comparison(results_dir / relative, case.expected, actual, f"{case.id} on {record['lane']}")
    return relative.as_posix()


def _evaluate(record, case, lane_name, benchmark, threads, speed, availability):
    """Fill ``record``; return the lane's output (None when the case did not run)."""
    ok, why = availability
    if not ok:
        record.update(outcome="skip", reason=why)
        return None
    lane = lanes_module.LANES[lane_name]
    lane_name = lane.judged_as  # tolerances, deviations and exactness: a pinned lane is judged as its base
    if lane.models_only:
        record.update(outcome="skip", reason=lane.models_only)
        return None
    try:
        runnable = lane.prepare(case, threads)
    except lanes_module.Refused as exc:
        record.update(outcome="unsupported", reason=str(exc))
        return None
    record.update(tflite_ops=runnable.tflite_ops, settings=runnable.settings)
    with phase("run"):
        runnable.set_inputs(case.arrays.inputs)
        runnable.invoke()
        actual = runnable.output()
    with phase("reference"):
        expected = case.expected
    if actual.shape == expected.shape and runnable.output_quant is not None:
        actual = quant.judge(record, case, lane_name, runnable)
        _time(record, runnable, benchmark, lane, speed)
        if not _check_ops(record, case, runnable):
            _apply_deviation(record, case.deviation(lane_name), record["outcome"] == "pass")
        return actual
    if actual.shape != expected.shape:
        record.update(outcome="fail", reason=f"output shape {actual.shape}, reference shape {expected.shape}")
        _apply_deviation(record, case.deviation(lane_name), passed=False)
        return actual
    expected, magnitude, atol, rtol, scale_name = float_bound(case, lane, runnable.model)
    record["tolerance"] = {"atol": float(np.max(atol, initial=0.0)), "rtol": rtol, "scale": scale_name}
    signed_zeros = judges_zero_signs(case)
    record["metrics"] = errors(actual, expected, magnitude, signed_zeros)
    _time(record, runnable, benchmark, lane, speed)
    if lane.kind == "reference":
        record.update(outcome="baseline", reason=BASELINE)
        return actual
    if _check_ops(record, case, runnable):
        return actual
    used = record["metrics"]["tol_used"] = tolerance_used(actual, expected, magnitude, atol, rtol,
                                                          signed_zeros)
    passed = used <= 1.0
    worst = (f"max_norm {record['metrics']['max_norm']:.3g} (max_abs {record['metrics']['max_abs']:.3g}, "
             f"{used:.3g}x the tolerance)")
    record.update(outcome="pass" if passed else "fail", reason="" if passed else
                  special_reason(actual, expected, signed_zeros) or
                  f"outside tolerance atol={record['tolerance']['atol']:g} rtol={rtol:.3g}: {worst}")
    if passed and admits_zero(expected, magnitude, atol, rtol):
        passed = False
        record.update(outcome="fail", reason=vacuous_reason(atol, rtol))
    _apply_deviation(record, case.deviation(lane_name), passed)
    return actual


def judges_zero_signs(case) -> bool:
    """Whether zeros must carry the reference's sign: cases with -0.0 planted (``special=negzero``)."""
    return case.params.get("special") == "negzero"


def float_bound(case, lane, model: bytes | None):
    """(expected, magnitude, atol, rtol, scale name): what a float-output lane's op output is judged against, as
    ``|y - r| <= atol + rtol * m`` elementwise. ``r``: the op's float64 reference on the inputs the lane holds
    (float16 storage: rounded, as integer lanes are judged on theirs; with the op's ``held_reference``, its
    intermediates held so too); ``m``: the op's error scale; the tolerance entry of the lane (sized to the case where
    the entry says so). A ``model`` holding int8 weights (dynamic range) is judged against those weights, with the
    derived per-element bound of its inputs' on-the-fly quantization added (:func:`quant.dynamic_range_judgement`)."""
    seen, expected = lane.held(case.arrays.inputs), case.expected
    if lane.activations is not None:
        expected = (case.op.held_reference(case.params, seen, case.arrays.consts, lane.activations)
                    if case.op.held_reference else case.op.reference(case.params, seen, case.arrays.consts))
    tolerance = lookup(lane.judged_as, case.tolerance_names)
    scale_name = case.op.scale_name if case.op.magnitude else "|ref|"
    atol = tolerance.atol
    dynamic = quant.dynamic_range_judgement(case, model)
    if dynamic is not None:  # int8 weights: against them, plus the derived per-element bound (reported by its max)
        expected, magnitude, allowance = dynamic
        atol = tolerance.atol + allowance
        scale_name += " + dynamic-range input half steps, against the model's int8 weights (atol: largest element)"
    else:
        magnitude = (case.op.magnitude(case.params, seen, case.arrays.consts) if case.op.magnitude
                     else np.abs(expected))
    return expected, magnitude, atol, tolerance.rtol_for(case), scale_name


def _time(record, runnable, benchmark, lane, speed) -> None:
    """Per-call timing; on TF lanes also the op's in-graph time (``kernel_timing``); then the speed figures."""
    with phase("timing"):
        record["timing"] = measure(benchmark, runnable.invoke, runnable.timer)
    if record["timing"] is None:
        return
    if runnable.kernel_timer is not None:
        record["kernel_timing"] = runnable.kernel_timer()
    rate(record, lane, speed)


def _check_ops(record, case, runnable) -> bool:
    """A converted model must hold the op under test (no decomposition, no Flex op): else ``fail``."""
    if runnable.tflite_ops is None:  # not a converted model: nothing to check
        return False
    missing = sorted(case.required_ops - set(runnable.tflite_ops))
    if missing:
        record.update(outcome="fail", reason=f"converted model lacks {', '.join(missing)} "
                                             f"(has {', '.join(runnable.tflite_ops) or 'no ops'})")
    return bool(missing)


def _apply_deviation(record: dict, deviation, passed: bool) -> None:
    """A known deviation is a strict xfail: it must still reproduce, or the record fails; it excuses only a failure
    with its documented symptom."""
    if deviation is None or record["outcome"] == "error":
        return
    if passed:
        record.update(outcome="fail", reason=f"known deviation no longer reproduces (strict xfail): {deviation.reason}")
    elif deviation.symptom(record):
        record.update(outcome="xfail", reason=f"{deviation.reason}; measured: {record['reason']}")
    else:
        record["reason"] += f" (not the symptom of the known deviation: {deviation.reason[:120]})"
