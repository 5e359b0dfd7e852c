"""``timing.measure``: the warm-up is bounded by time as well as by calls, in process as in a worker, so a slow call
(a whole pipeline) is warmed up once; a fast one still gets every warm-up iteration."""

import time

from tfparity.lanes.worker import time_calls
from tfparity.timing import measure


def _counted(seconds: float):
    calls = []

    def call():
        calls.append(time.perf_counter())
        time.sleep(seconds)

    return call, calls


def test_a_slow_call_is_warmed_up_once_then_timed_min_rounds(benchmark):
    benchmark._max_time, benchmark._min_rounds, benchmark._warmup = 0.02, 5, 20
    call, calls = _counted(0.03)  # one call outlasts max_time
    timing = measure(benchmark, call)
    assert timing["rounds"] == 5 and timing["iterations"] == 1
    assert len(calls) == 1 + 1 + 5 + 1  # warm-up, calibration, the rounds, the call whose result the fixture returns
    assert benchmark._warmup == 20  # the fixture's setting is left as it was


def test_a_fast_call_gets_every_warm_up_iteration(benchmark):
    benchmark._max_time, benchmark._min_rounds, benchmark._warmup = 0.02, 5, 20
    call, calls = _counted(0.0)
    timing = measure(benchmark, call)
    assert len(calls) >= 20 + timing["rounds"] * timing["iterations"]


def test_the_worker_warms_up_by_the_same_rule():
    call, calls = _counted(0.03)
    timing = time_calls(call, min_rounds=5, max_time=0.02, warmup_iterations=20)
    assert len(timing["samples"]) == 5 and len(calls) == 1 + 1 + 5
