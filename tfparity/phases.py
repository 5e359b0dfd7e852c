"""Where a run's time goes: seconds per phase of each (case, lane), kept in its record as ``phases``.

Phases: ``convert`` (a converter run; a cached model costs nothing here), ``load`` (interpreter creation and
``allocate_tensors``, a worker loading a model, TF tracing and the first call), ``worker_start`` (a lane's worker
process coming up), ``reference`` (the float64 numpy reference, once per case; a whole model's executor run, its
run as a lane holds it, a pipeline's reference detections), ``run`` (the checked call and reading its output),
``timing`` (per-call rounds, with their warm-up; a pyramid's per-scale latencies), ``in_graph`` (TF's looped op
time), and for whole models ``layers`` (each op of an integer model on its own inputs), ``inside`` (each op alone,
the lifecycle per thread count) and ``bisect`` (the culprit op of a failing lane). Summed over a run file they
give the split the run's summary prints; what no phase names is judging and bookkeeping (and a pipeline's checked
run).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

_current: Counter | None = None


@contextmanager
def recording():
    """Collect the phases timed inside into a fresh Counter (yielded); phases nest (an inner one is not counted in
    the outer one's time twice: each phase counts its own time only)."""
    global _current
    outer, _current = _current, Counter()
    try:
        yield _current
    finally:
        _current = outer


_stack: list[list[float]] = []


@contextmanager
def phase(name: str):
    """Add the seconds spent inside, minus those of phases nested in it, to ``name`` of the current collection."""
    start = time.perf_counter()
    _stack.append([0.0])
    try:
        yield
    finally:
        nested = _stack.pop()[0]
        spent = time.perf_counter() - start
        if _stack:
            _stack[-1][0] += spent
        if _current is not None:
            _current[name] += spent - nested
