"""Test-only lanes that break their process, for the crash-isolation tests (never shipped to users).

Loaded into a run's processes with ``PYTEST_PLUGINS=tests.crashing_lanes``; importing this module adds
the lanes to the registry, so ``--lanes numpy-ref,test-abort`` selects them:

- ``test-abort``: the compute call aborts (``SIGABRT``);
- ``test-hang``: the compute call never returns (the per-case time limit must end it);
- ``test-corrupt-tflite``: the case's real converted model with its flatbuffer header bytes overwritten,
  handed to the real LiteRT interpreter (which refuses it);
- ``test-no-subgraphs-tflite``: the converted model without the Model table's optional ``subgraphs`` field
  (a valid flatbuffer): constructing LiteRT 2.3.0's interpreter on it segfaults.

:func:`abort_on_op_lane` (not registered) makes a worker lane whose worker aborts on loading any model that holds a
given op, for the bisection's crash test.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfparity.lanes import LANES, Lane, Runnable, TfliteLane, WorkerLane, converted


@dataclass(frozen=True)
class DyingLane(Lane):
    how: str = "abort"

    def prepare(self, case, threads):
        def invoke():
            if self.how == "abort":
                os.abort()
            while self.how == "hang":
                time.sleep(1)

        return Runnable(set_inputs=lambda inputs: None, invoke=invoke, output=lambda: np.zeros(0))


def overwrite_header(model: bytes) -> bytes:
    """The model with bytes 4..11 (file identifier, start of the root table) overwritten."""
    return model[:4] + b"\xff" * 8 + model[12:]


def drop_subgraphs(model: bytes) -> bytes:
    """The model with the root Model table's field 2 (``subgraphs``) marked absent in its vtable."""
    root = struct.unpack_from("<I", model, 0)[0]
    vtable = root - struct.unpack_from("<i", model, root)[0]
    broken = bytearray(model)
    struct.pack_into("<H", broken, vtable + 4 + 2 * 2, 0)
    return bytes(broken)


@dataclass(frozen=True)
class CorruptTfliteLane(TfliteLane):
    corruption: str = "overwrite_header"

    def prepare(self, case, threads):
        return self.load(globals()[self.corruption](converted(case, "float")), threads)


LAUNCHER = """import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import worker
real = worker.InterpreterModel.__init__
def load(self, model, settings):
    real(self, model, settings)
    if {op!r} in self.facts["ops"]:
        os.abort()
worker.InterpreterModel.__init__ = load
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
worker.serve(sys.stdin.buffer, out)
"""


@dataclass(frozen=True)
class LaunchedWorkerLane(WorkerLane):
    launcher: str = ""

    def python(self) -> Path:
        return Path(self.launcher)


def abort_on_op_lane(op: str) -> tuple[WorkerLane, str]:
    """A float worker lane (the real worker and LiteRT) whose worker aborts (SIGABRT) right after loading a model
    that holds ``op``; and ``op``."""
    folder = Path(tempfile.mkdtemp(prefix="tfparity-abort-"))
    (folder / "launch.py").write_text(LAUNCHER.format(op=op))
    launcher = folder / "python"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{folder / "launch.py"}" "$@"\n')
    launcher.chmod(0o755)
    return LaunchedWorkerLane(f"test-abort-on-{op}", "float", f"test only: aborts on {op}",
                              launcher=str(launcher)), op


for lane in (DyingLane("test-abort", "reference", "test only: aborts", how="abort"),
             DyingLane("test-hang", "reference", "test only: never returns", how="hang"),
             CorruptTfliteLane("test-corrupt-tflite", "float", "test only: corrupt model on LiteRT", resolver="ref"),
             CorruptTfliteLane("test-no-subgraphs-tflite", "float", "test only: model without subgraphs on LiteRT",
                               resolver="ref", corruption="drop_subgraphs")):
    LANES.setdefault(lane.name, lane)
