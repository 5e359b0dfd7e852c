"""Run-start probes, measured with the lanes' own runtimes at the run's thread count and kept in the run header.

- **Overhead floor** (``overhead_floor_s``): each lane's median seconds per call of a no-op, a model returning its
  1x1 float32 input (``tf.identity``: a ``tf.function`` returning its input on TF lanes, a converted model with
  no op on LiteRT lanes). A result within :data:`OVERHEAD_BOUND` times its lane's floor measures the call, not
  the kernel: it is marked ``overhead_bound``.
- **GEMM** (``peaks[dtype].gemm``): ``x @ w`` with ``x`` 256x1024 and ``w`` a constant 1024x1024
  (``2·256·1024·1024`` operations), as FULLY_CONNECTED on ``tflite-xnnpack`` (float32) and ``tflite-int8``
  (int8); the best round counts (a peak, not a typical figure).
"""

from __future__ import annotations

import numpy as np

from tfparity import peaks
from tfparity.cases import Arrays, OpSpec
from tfparity.lanes.remote import discard
from tfparity.lanes.worker import time_calls

OVERHEAD_BOUND = 2.0
GEMM_SHAPE = (256, 1024, 1024)  # m, k, n
GEMM_LANES = {"float32": "tflite-xnnpack", "int8": "tflite-int8"}
ROUNDS, ROUND_TIME_S = 15, 0.05  # at least ROUNDS rounds, about ROUND_TIME_S of them in all


def _identity_tf(params, consts):
    import tensorflow as tf

    return tf.identity


def _matmul_tf(params, consts):
    import tensorflow as tf

    w = tf.constant(consts["w"])
    return lambda x: tf.matmul(x, w)


def _probe(name: str, inputs, consts, tf, reference, flops: int, ops: frozenset) -> OpSpec:
    return OpSpec(name=name, family="probe", samples={"quick": lambda: [{}], "full": lambda: [{}]},
                  make_arrays=lambda params, rng: Arrays(inputs(rng), consts(rng)), tf=tf,
                  reference=reference, flops=lambda params: flops, label=lambda params: "", tflite_ops=ops)


NOOP = _probe("noop", lambda rng: [np.ones((1, 1), np.float32)], lambda rng: {}, _identity_tf,
              lambda params, inputs, consts: np.asarray(inputs[0], np.float64), 0, frozenset())
_M, _K, _N = GEMM_SHAPE
GEMM = _probe("gemm", lambda rng: [rng.standard_normal((_M, _K)).astype(np.float32)],
              lambda rng: {"w": (rng.standard_normal((_K, _N)) / np.sqrt(_K)).astype(np.float32)}, _matmul_tf,
              lambda params, inputs, consts: inputs[0].astype(np.float64) @ consts["w"], 2 * _M * _K * _N,
              frozenset({"FULLY_CONNECTED"}))


def _prepared(lane, spec: OpSpec, threads: int):
    """``spec``'s one case on ``lane``, inputs set."""
    case = spec.cases("quick", 0)[0]
    runnable = lane.prepare(case, threads)
    runnable.set_inputs(case.arrays.inputs)
    return runnable


def per_call(runnable) -> list[float]:
    """Seconds per call of each round of a prepared probe (a worker lane times its own rounds)."""
    if runnable.timer is not None:
        return runnable.timer(ROUNDS, ROUND_TIME_S, 10)["samples"]
    return time_calls(runnable.invoke, ROUNDS, ROUND_TIME_S, 10)["samples"]


def _outcome(measure):
    """``measure()``, or the one-line reason it failed (a probe never stops a run)."""
    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - a lane that cannot run the probe says why, in the header
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"


def _floors(lane, threads: int) -> tuple[float, float | None]:
    """The no-op's median seconds per call, and per iteration inside one graph call (TF lanes; else None)."""
    runnable = _prepared(lane, NOOP, threads)
    call = float(np.median(per_call(runnable)))
    return call, runnable.kernel_timer()["median_s"] if runnable.kernel_timer is not None else None


def overhead_floors(lanes: dict, threads: int) -> dict[str, dict]:
    """``overhead_floor_s``: lane name → median seconds per no-op call, or why it could not be measured;
    ``in_graph_floor_s``: TF lane → the no-op's in-graph seconds per iteration (the loop's own scaffold)."""
    found = {name: _outcome(lambda lane=lane: _floors(lane, threads))
             for name, lane in lanes.items() if not lane.models_only}
    return {"overhead_floor_s": {name: f if isinstance(f, str) else f[0] for name, f in found.items()},
            "in_graph_floor_s": {name: f[1] for name, f in found.items() if not isinstance(f, str) and f[1]}}


def gemm(lanes: dict, threads: int) -> dict[str, dict]:
    """dtype → the best GEMM round in G(FL)OP/s on its lane (:data:`GEMM_LANES`), where that lane runs here."""
    out = {}
    for dtype, name in GEMM_LANES.items():
        if name in lanes:
            best = _outcome(lambda name=name: min(per_call(_prepared(lanes[name], GEMM, threads))))
            out[dtype] = ({"gops": GEMM.flops({}) / best / 1e9, "lane": name, "shape": "x".join(map(str, GEMM_SHAPE))}
                          if isinstance(best, float) else {"error": best, "lane": name})
    return out


def header(lanes: dict, threads: int) -> dict:
    """The run header's ``peaks`` and ``overhead_floor_s`` (``lanes``: the run's available lanes, name → Lane). The
    worker processes the probes started are closed: the cases run elsewhere (an xdist worker)."""
    measured = {dtype: entry for dtype, entry in gemm(lanes, threads).items() if "gops" in entry}
    found = {"peaks": peaks.combine(peaks.theoretical(threads), measured), **overhead_floors(lanes, threads)}
    for name in lanes:
        discard(name)
    return found


def rate(record: dict, lane, speed: dict) -> None:
    """A timed record's speed figures: ``gflops`` (operations per second of the per-call median, in G), ``pct_peak``
    (of the peak of the lane's compute dtype, ``peak_dtype``; none where no peak is known), the same two inside
    ``kernel_timing`` (TF's in-graph time) and ``overhead_bound``: the median within :data:`OVERHEAD_BOUND` times
    the lane's floor (in ``kernel_timing``: of its in-graph floor). ``speed``: the run header's ``peaks``,
    ``overhead_floor_s`` and ``in_graph_floor_s``."""
    dtype, kernel = lane.compute_dtype, record.get("kernel_timing")
    peak = ((speed.get("peaks") or {}).get(dtype) or {}).get("peak") if dtype else None
    for figures, seconds, floors in ((record, record["timing"]["median_s"], "overhead_floor_s"),
                                     (kernel, (kernel or {}).get("median_s"), "in_graph_floor_s")):
        if figures is None:
            continue
        if seconds and record["flops"]:
            figures["gflops"] = record["flops"] / seconds / 1e9
            figures["pct_peak"] = 100 * figures["gflops"] / peak if peak else None
        floor = (speed.get(floors) or {}).get(lane.name)
        if isinstance(floor, float):
            figures["overhead_bound"] = seconds <= OVERHEAD_BOUND * floor
    record["peak_dtype"] = dtype if peak else None
