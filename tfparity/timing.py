"""Timing of the compute call with pytest-benchmark, and of an op inside one graph call (TF's kernel time).

Warm-up: calls until ``--benchmark-warmup-iterations`` or ``--benchmark-max-time`` is reached
(:func:`tfparity.lanes.worker.warm_up`, the same in a worker); then pytest-benchmark calibrates iterations
per round against the timer's resolution and runs rounds until ``--benchmark-max-time`` (at least
``--benchmark-min-rounds``). pytest-benchmark's own warm-up is not used: it runs as many rounds as it
times, so a 0.5 s pipeline would be called 7 times before its 7 timed rounds. Inputs are set before
timing; only ``Runnable.invoke`` is timed.
"""

from __future__ import annotations

import math
import time

import numpy as np
from pytest_benchmark.stats import Stats

from tfparity.lanes.worker import warm_up

# Profile → pytest-benchmark settings (option dests), applied unless given on the command line.
# Quick times each (case, lane) for about 10 ms (warm-up and measurement each stop at max_time): a fast op still
# gets hundreds of calibrated rounds, a slow model its 7. At least 7 rounds: the fewest with which compare's exact
# Mann-Whitney test can reach p < 0.001 (tfparity.regress.smallest_p).
BENCHMARK_SETTINGS = {
    "quick": {"benchmark_min_rounds": 7, "benchmark_max_time": 0.01, "benchmark_warmup": True,
              "benchmark_warmup_iterations": 20},
    "full": {"benchmark_min_rounds": 10, "benchmark_max_time": 0.25, "benchmark_warmup": True,
             "benchmark_warmup_iterations": 100},
}


MAX_SAMPLES = 200  # raw round times kept per record: enough for rank tests, small enough for a long history


def kept_samples(data) -> tuple[list[float], int]:
    """Every ``stride``-th round time, ``stride = ceil(rounds / MAX_SAMPLES)``, in the order they ran (drift stays
    visible), and the stride. The record's median / IQR / min are of all rounds."""
    stride = max(1, -(-len(data) // MAX_SAMPLES))
    return [float(v) for v in data[::stride]], stride


def measure(benchmark, invoke, timer=None) -> dict | None:
    """Time ``invoke`` with the pytest-benchmark fixture; seconds per call. None when timing is off
    (``--no-timing``, parallel workers): ``invoke`` is not called again. ``timer`` (a worker lane's
    ``Runnable.timer``) times the rounds where the model runs, with the fixture's settings (min rounds, max
    time, warm-up iterations); its samples get pytest-benchmark's own statistics."""
    if benchmark.disabled:
        benchmark(lambda: None)  # a disabled fixture just calls it; uncalled, pytest-benchmark warns
        return None
    if timer is None:
        warmup, benchmark._warmup = benchmark._warmup, False
        warm_up(invoke, benchmark._max_time, int(warmup or 0))
        try:
            benchmark(invoke)
        finally:
            benchmark._warmup = warmup
        stats, iterations = benchmark.stats.stats, benchmark.stats.iterations
    else:
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the fixture counts as used; its time is not kept
        remote = timer(benchmark._min_rounds, benchmark._max_time, int(benchmark._warmup or 0))
        stats, iterations = Stats(), remote["iterations"]
        for sample in remote["samples"]:
            stats.update(sample)
    samples, stride = kept_samples(stats.data)
    return {
        "median_s": stats.median,
        "iqr_s": stats.iqr,
        "min_s": stats.min,
        "rounds": stats.rounds,
        "iterations": iterations,
        "unit": "s",
        "samples": samples,
        "samples_stride": stride,
    }


LOOP_ROUNDS = 5
MAX_LOOP = 256


def in_graph(run_loop) -> dict:
    """An op's time inside one graph call, apart from the call's dispatch: ``run_loop(n)`` runs the op ``n`` times in
    one call (TF: :func:`tfparity.lanes.inprocess.looped`). With ``T(n)`` the median of :data:`LOOP_ROUNDS` calls:
    ``n = 2`` when ``T(2) >= 2·T(1)`` already, else the ``n`` at which the iterations, at ``T(2) - T(1)`` each,
    take as long as the single call (at most :data:`MAX_LOOP`); the op's time is ``(T(n) - T(1)) / (n - 1)``: the
    dispatch, paid once per call, cancels."""

    def median(n):
        run_loop(n)  # warm-up: a new trip count may take another path
        times = []
        for _ in range(LOOP_ROUNDS):
            start = time.perf_counter()
            run_loop(n)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    single, n = median(1), 2
    many = median(n)
    if many < 2 * single:
        n = min(MAX_LOOP, max(4, math.ceil(single / max(many - single, single / MAX_LOOP)) + 1))
        many = median(n)
    return {"median_s": max(many - single, 0.0) / (n - 1), "loop_iterations": n, "call_s": single,
            "method": "tf.while_loop in one call: (T(n) - T(1)) / (n - 1)"}
