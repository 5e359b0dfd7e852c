"""Run-start probes, measured with the lanes' own runtimes at the run's thread count and kept in the run header.

- **Overhead floor** (``overhead_floor_s``): each lane's median seconds per call of a no-op, a model returning its
  1x1 float32 input (``tf.identity``: a ``tf.function`` returning its input on TF lanes, a converted model with
  no op on LiteRT lanes). A result within :data:`OVERHEAD_BOUND` times its lane's floor measures the call, not
  the kernel: it is marked ``overhead_bound``.
- **GEMM** (``peaks[dtype].gemm``): ``x @ w`` with ``x`` m×k and ``w`` a constant k×n (``2·m·k·n`` operations) for
  each of :data:`GEMM_SHAPES`, one large and two whose operands stay in cache, on ``tflite-xnnpack`` (float32) and
  ``tflite-int8`` (int8), in both forms a converted model runs a GEMM in: FULLY_CONNECTED, and CONV_2D with a 1x1
  filter over a √m×√m image (:data:`CONV_SHAPES`; XNNPACK's convolution path is the faster one on some shapes). The
  best round of the best shape counts (a peak, not a typical figure).
"""

from __future__ import annotations

import numpy as np

from tfparity import peaks
from tfparity.cases import Arrays, OpSpec
from tfparity.lanes.remote import discard
from tfparity.lanes.worker import time_calls

OVERHEAD_BOUND = 2.0
GEMM_SHAPES = ((256, 1024, 1024), (4096, 64, 64), (1024, 256, 256))  # (m, k, n): large, and cache-resident
CONV_SHAPES = ((3136, 64, 64), (784, 256, 256))  # (m = h·w, k, n): ResNet50's 56x56x64 and a 28x28x256 1x1 conv
GEMM_LANES = {"float32": "tflite-xnnpack", "int8": "tflite-int8"}
ROUNDS, ROUND_TIME_S = 15, 0.05  # at least ROUNDS rounds, about ROUND_TIME_S of them in all


def _identity_tf(params, consts):
    import tensorflow as tf

    return tf.identity


def _matmul_tf(params, consts):
    import tensorflow as tf

    w = tf.constant(consts["w"])
    if params["form"] == "conv1x1":
        return lambda x: tf.nn.conv2d(x, w[None, None], 1, "VALID")
    return lambda x: tf.matmul(x, w)


def _probe(name: str, samples: list[dict], make_arrays, tf, reference, flops, label, ops: frozenset) -> OpSpec:
    return OpSpec(name=name, family="probe", samples={"quick": lambda: samples, "full": lambda: samples},
                  make_arrays=make_arrays, tf=tf, reference=reference, flops=flops, label=label, tflite_ops=ops)


def _gemm_arrays(params, rng) -> Arrays:
    m, k, n = params["m"], params["k"], params["n"]
    side = int(np.sqrt(m))
    shape = (1, side, side, k) if params["form"] == "conv1x1" else (m, k)
    return Arrays([rng.standard_normal(shape).astype(np.float32)],
                  {"w": (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)})


NOOP = _probe("noop", [{}], lambda params, rng: Arrays([np.ones((1, 1), np.float32)], {}), _identity_tf,
              lambda params, inputs, consts: np.asarray(inputs[0], np.float64), lambda params: 0,
              lambda params: "", frozenset())
GEMM = _probe("gemm", [dict(m=m, k=k, n=n, form="matmul") for m, k, n in GEMM_SHAPES]
              + [dict(m=m, k=k, n=n, form="conv1x1") for m, k, n in CONV_SHAPES], _gemm_arrays, _matmul_tf,
              lambda params, inputs, consts: inputs[0].astype(np.float64) @ consts["w"],
              lambda params: 2 * params["m"] * params["k"] * params["n"],
              lambda params: f"{params['m']}x{params['k']}x{params['n']}" + (" conv1x1" if params["form"] == "conv1x1"
                                                                              else ""),
              lambda params: frozenset({"CONV_2D" if params["form"] == "conv1x1" else "FULLY_CONNECTED"}))


def _prepared(lane, case, threads: int):
    """``case`` (of a probe) on ``lane``, inputs set."""
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
    from tfparity.check import _one_line  # check imports this module

    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - a lane that cannot run the probe says why, in the header
        return _one_line(exc)


def _floors(lane, threads: int) -> tuple[float, float | None]:
    """The no-op's median seconds per call, and per iteration inside one graph call (TF lanes; else None)."""
    runnable = _prepared(lane, NOOP.cases("quick", 0)[0], threads)
    call = float(np.median(per_call(runnable)))
    return call, runnable.kernel_timer()["median_s"] if runnable.kernel_timer is not None else None


def overhead_floors(lanes: dict, threads: int) -> dict[str, dict]:
    """``overhead_floor_s``: lane name → median seconds per no-op call, or why it could not be measured;
    ``in_graph_floor_s``: TF lane → the no-op's in-graph seconds per iteration (the loop's own scaffold)."""
    found = {name: _outcome(lambda lane=lane: _floors(lane, threads))
             for name, lane in lanes.items() if not lane.models_only}
    return {"overhead_floor_s": {name: f if isinstance(f, str) else f[0] for name, f in found.items()},
            "in_graph_floor_s": {name: f[1] for name, f in found.items() if not isinstance(f, str) and f[1]}}


def _best_gemm(lane, threads: int) -> dict:
    """The fastest round over :data:`GEMM_SHAPES` on ``lane``: G(FL)OP/s, and its shape."""
    rates = {GEMM.label(case.params): case.flops / min(per_call(_prepared(lane, case, threads))) / 1e9
             for case in GEMM.cases("quick", 0)}
    shape = max(rates, key=rates.get)
    return {"gops": rates[shape], "shape": shape}


def gemm(lanes: dict, threads: int) -> dict[str, dict]:
    """dtype → the best GEMM round in G(FL)OP/s on its lane (:data:`GEMM_LANES`), where that lane runs here."""
    out = {}
    for dtype, name in GEMM_LANES.items():
        if name in lanes:
            best = _outcome(lambda name=name: _best_gemm(lanes[name], threads))
            out[dtype] = {**best, "lane": name} if isinstance(best, dict) else {"error": best, "lane": name}
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
