"""Crash isolation: cases run in pytest-xdist worker processes, so a segfault, abort or hang costs one case.

A worker runs each case under a per-case time limit (:func:`time_limit`): ``SIGALRM`` with its default
action ends the worker even when the hang holds the GIL inside a C++ kernel. When a worker dies with a
case in flight, xdist starts a replacement and the controller records that case as ``crash``, naming
the signal, the exit status or the time limit (:func:`crash_reason`).
"""

from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager


@contextmanager
def time_limit(seconds: float):
    """End this process with ``SIGALRM`` if the block runs longer than ``seconds`` (0: no limit).
    Only for worker processes: the whole process goes, by design."""
    if seconds <= 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def exit_status(worker) -> int | None:
    """A dead xdist worker's exit status (negative: the signal that killed it), read from execnet's
    process handle; None where that is not exposed."""
    popen = getattr(getattr(worker.gateway, "_io", None), "popen", None)
    if popen is None:
        return None
    try:
        return popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None


def timed_out(status: int | None) -> bool:
    """Whether the worker was ended by the per-case time limit (SIGALRM), not by a crash of its own."""
    return status == -signal.SIGALRM


def crash_reason(status: int | None, limit_s: float) -> str:
    """One line for a ``crash`` record from the worker's exit status."""
    if timed_out(status):
        return f"exceeded the per-case time limit of {limit_s:g} s; its worker process was ended"
    if status is not None and status < 0:
        return f"worker process killed by {signal.Signals(-status).name}"
    if status is not None:
        return f"worker process exited with status {status}"
    return "worker process died (exit status unknown)"


def split_test_id(nodeid: str, lanes: list[str]) -> tuple[str, str]:
    """``suites/test_ops.py::test_op[<case id>-<lane>]`` (xdist may append ``@<group>``) →
    (case id, lane)."""
    start = nodeid.index("[", nodeid.index("::")) + 1
    param = nodeid[start:nodeid.rindex("]")]
    lane = max((lane for lane in lanes if param.endswith("-" + lane)), key=len)
    return param[:-len(lane) - 1], lane
