"""Lanes on the out-of-process worker (:mod:`tfparity.lanes.worker`): the client side of its protocol.

The main process converts (through the cache) and hands the worker the model bytes, the inputs and the settings;
the worker loads, reports its delegation facts, runs, and times its own rounds. One worker process per lane is
kept per tfparity process and reused across cases; it is replaced after it dies. It holds the models its client
still refers to: a :class:`Loaded` that is garbage collected has its model dropped at the worker's next load.
A worker that dies or stops answering within the time limit raises :class:`WorkerCrashed`, which ``check``
records as ``crash``.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from tfparity.lanes import envs
from tfparity.lanes.base import (
    Capabilities,
    Lane,
    Quantization,
    Refused,
    Runnable,
    converted,
    refusal_or_error,
)
from tfparity.lanes.worker import PROTOCOL, array_bytes, bytes_array, read_frame, write_frame
from tfparity.phases import phase

WORKER = Path(__file__).with_name("worker.py")
ANSWER_TIMEOUT_S = 300.0


class WorkerCrashed(Exception):
    """The worker process died or stopped answering (the outcome is ``crash``)."""


class WorkerRefused(Exception):
    """The worker answered with an error (e.g. the runtime would not load the model)."""

    def __init__(self, message: str, stage: str):
        super().__init__(message)
        self.stage = stage


class Worker:
    """One worker process: ``python worker.py`` with the protocol on its stdin / stdout, its log in a file."""

    def __init__(self, python: str | Path):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(python), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log)
        self._released: list[int] = []

    def release(self, model_id: int) -> None:
        """Note that the client no longer refers to ``model_id`` (a finalizer: no I/O); the next load drops it."""
        self._released.append(model_id)

    def released(self) -> list[int]:
        """The model ids released since the last call."""
        ids, self._released = self._released, []
        return ids

    def request(self, op: str, blobs: list[bytes] = (), timeout: float = ANSWER_TIMEOUT_S, **fields):
        """Send one request; its reply and payloads. Raises WorkerRefused / WorkerCrashed."""
        try:
            write_frame(self.process.stdin, {"op": op, **fields}, list(blobs))
            message, payloads = self._read(timeout)
        except (BrokenPipeError, EOFError, OSError, TimeoutError) as exc:
            raise WorkerCrashed(self._death(op, exc, timeout)) from None
        if not message.get("ok"):
            raise WorkerRefused(message.get("error", "unknown worker error"), message.get("stage", op))
        return {k: v for k, v in message.items() if k not in ("ok", "blobs")}, payloads

    def _read(self, timeout: float):
        """One reply frame (:func:`tfparity.lanes.worker.read_frame`), read within ``timeout`` seconds."""
        return read_frame(_Deadline(self.process.stdout.fileno(), timeout))

    def _death(self, op: str, exc: BaseException, timeout: float) -> str:
        if isinstance(exc, TimeoutError):
            self.process.kill()
        try:
            status = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        how = (f"killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}")
        if isinstance(exc, TimeoutError):
            how = f"did not answer {op!r} within {timeout:g} s and was killed"
        return f"lane worker {how} during {op!r}; its log ends: {self.tail()}"

    def tail(self, lines: int = 1) -> str:
        self.log.seek(0)
        text = [ln.strip() for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        return " | ".join(text[-lines:])[-300:] or "(empty)"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                write_frame(self.process.stdin, {"op": "quit"})
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self.log.close()


class _Deadline:
    """``read(n)`` on a pipe that raises TimeoutError once ``timeout`` seconds have passed since it was made."""

    def __init__(self, pipe: int, timeout: float):
        self.pipe, self.timeout, self.deadline = pipe, timeout, time.monotonic() + timeout

    def read(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.pipe], [], [], left)[0]:
                raise TimeoutError(f"no answer within {self.timeout:g} s")
            chunk = os.read(self.pipe, min(n - got, 1 << 20))
            if not chunk:
                break  # the worker closed its output: read_frame raises EOFError on the short read
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


_WORKERS: dict[str, Worker] = {}
atexit.register(lambda: [discard(key) for key in list(_WORKERS)])


def worker_for(key: str, python: str | Path) -> Worker:
    """The live worker of ``key`` (a lane), started when missing or dead."""
    worker = _WORKERS.get(key)
    if worker is None or worker.process.poll() is not None:
        with phase("worker_start"):
            worker = _WORKERS[key] = Worker(python)
    return worker


def discard(key: str) -> None:
    worker = _WORKERS.pop(key, None)
    if worker is not None:
        worker.close()


@cache
def hello(python: str) -> dict:
    """The worker's versions in the environment of ``python`` (a short-lived worker)."""
    worker = Worker(python)
    try:
        return worker.request("hello", timeout=120)[0]
    finally:
        worker.close()


@dataclass
class Loaded:
    """A model loaded in a worker. ``inputs`` / ``outputs`` are in the model's subgraph order; ``feed[j]`` is the
    model input the worker's j-th input takes, ``take[k]`` the worker output that is the model's k-th (a compiled
    model enumerates its signature's tensors, an interpreter its subgraph's)."""

    worker: Worker
    inputs: list[dict]
    outputs: list[dict]
    facts: dict
    load_s: float
    feed: list[int]
    take: list[int]
    ops: list[str]  # the model's op names, in execution order
    model: int  # its id in the worker, which keeps it until this object is collected
    results: list[np.ndarray] | None = None

    def run(self, arrays: list[np.ndarray]) -> float:
        reply, blobs = self.worker.request("run", [array_bytes(arrays[i]) for i in self.feed], model=self.model)
        results = [bytes_array(b) for b in blobs]
        self.results = [results[k] for k in self.take]
        return reply["seconds"]

    def time(self, min_rounds: int, max_time: float, warmup_iterations: int) -> dict:
        return self.worker.request("time", min_rounds=min_rounds, max_time=max_time,
                                   warmup_iterations=warmup_iterations, model=self.model)[0]


def _positions(worker_details: list[dict], model_indices: list[int]) -> list[int]:
    """For each model tensor (by subgraph tensor index), its position among the worker's details."""
    where = {d["index"]: j for j, d in enumerate(worker_details)}
    return [where.get(i, k) for k, i in enumerate(model_indices)]


def load(worker: Worker, model: bytes, runtime: str, settings: dict) -> Loaded:
    """Load ``model`` (bytes) in ``worker`` with ``runtime`` ("interpreter" or "compiled") and ``settings``."""
    from reference.tflite import load as parse

    with phase("load"):
        reply, _ = worker.request("load", [model], runtime=runtime, settings=settings, drop=worker.released())
    graph = parse(model)
    in_pos, take = _positions(reply["inputs"], graph.inputs), _positions(reply["outputs"], graph.outputs)
    feed = [in_pos.index(j) for j in range(len(in_pos))]
    loaded = Loaded(worker, [reply["inputs"][j] for j in in_pos], [reply["outputs"][k] for k in take],
                    reply["facts"], reply["load_s"], feed, take, graph.op_names, reply["model"])
    weakref.finalize(loaded, worker.release, reply["model"])
    return loaded


@dataclass(frozen=True)
class WorkerLane(Lane):
    """A converted model on the worker: ``runtime`` ``interpreter`` (an op ``resolver``, the interpreter
    ``module`` of ``ai_edge_litert`` or ``tflite_runtime``) or ``compiled`` (LiteRT ``CompiledModel`` on an
    ``accelerator`` at a ``precision``; a partially accelerated model is refused unless ``allow_fallback``).
    ``requirements``: the pip requirements of its own environment (empty: tfparity's). ``base``: the lane whose
    tolerances and deviations apply (a pinned lane's unpinned twin)."""

    runtime: str = "interpreter"
    resolver: str = "AUTO"
    module: str = "ai_edge_litert.interpreter"
    accelerator: str = ""
    precision: str = "default"
    allow_fallback: bool = False
    requirements: tuple = ()
    base: str = ""

    @property
    def capabilities(self):
        return Capabilities(formats=frozenset({"tflite"}), where="environment" if self.requirements else "worker")

    @property
    def judged_as(self) -> str:
        return self.base or self.name

    @property
    def compute_dtype(self):
        return None if self.accelerator else super().compute_dtype

    @property
    def activations(self):
        """LiteRT's GPU accelerator at its default precision holds activations in float16."""
        return np.float16 if self.runtime == "compiled" and self.precision != "fp32" else None

    def python(self) -> Path:
        return envs.python(self.requirements) if self.requirements else Path(sys.executable)

    def available(self):
        try:
            greeting = hello(str(self.python()))
        except (envs.EnvironmentFailed, WorkerCrashed, WorkerRefused, OSError) as exc:
            return False, f"lane worker does not start: {exc}"
        if greeting.get("protocol") != PROTOCOL:
            return False, f"lane worker speaks protocol {greeting.get('protocol')}, this tfparity {PROTOCOL}"
        versions = greeting["versions"]
        runtime = "tflite_runtime" if self.module.startswith("tflite_runtime") else "ai_edge_litert"
        if runtime not in versions:
            return False, f"{runtime} is not installed in the lane's environment"
        if self.accelerator:
            try:
                adapter = probe_adapter(str(self.python()), self.accelerator)
            except ImportError as exc:  # the probe model is converted with TensorFlow
                return False, f"cannot build the probe model: {exc}"
            if adapter is None:
                return False, f"no {self.accelerator.upper()} adapter found (see docs/WORKER.md: the software GPU)"
        return True, ""

    def facts(self) -> dict:
        """For the run header: the worker's environment (Python, package versions) and, for accelerator lanes,
        the adapter (name, type, software or hardware, driver, backend)."""
        python = str(self.python())
        found = {"where": self.capabilities.where, "requirements": list(self.requirements), **hello(python)}
        if self.accelerator:
            found["adapter"] = probe_adapter(python, self.accelerator)
        return found

    def settings(self, threads: int) -> dict:
        if self.runtime == "compiled":
            return {"accelerator": self.accelerator, "precision": self.precision,
                    "allow_fallback": self.allow_fallback}
        return {"module": self.module, "resolver": self.resolver, "threads": threads}

    def prepare(self, case, threads):
        return self.load(converted(case, self.mode), threads)

    def isolated(self):
        return self

    def load(self, model: bytes, threads: int, worker: Worker | None = None) -> Runnable:
        """``model`` in the lane's worker (or in ``worker``, e.g. a fresh one whose memory is this model's)."""
        worker = worker or worker_for(self.name, self.python())
        try:
            loaded = load(worker, model, self.runtime, self.settings(threads))
        except WorkerRefused as exc:
            raise refusal_or_error(f"{exc.stage}: {exc}") from None
        facts = loaded.facts
        if facts.get("fully_accelerated") is False and not self.allow_fallback:
            raise Refused(f"not fully accelerated: the {self.accelerator.upper()} accelerator left part of the model "
                          f"(ops {', '.join(sorted(set(loaded.ops)))}) to the CPU, and this lane allows no "
                          f"fallback")
        in_quant = [Quantization.of(d["scale"], d["zero_point"], d["dtype"]) for d in loaded.inputs]
        out_quant = [Quantization.of(d["scale"], d["zero_point"], d["dtype"]) for d in loaded.outputs]
        state = {}

        def set_inputs(arrays):
            state["inputs"] = [x if q is None else q.quantize(x) for q, x in zip(in_quant, arrays)]

        def outputs():
            return [y if q is None else q.dequantize(y).astype(np.float32) for y, q in zip(loaded.results, out_quant)]

        return Runnable(
            set_inputs=set_inputs, invoke=lambda: loaded.run(state["inputs"]), output=lambda: outputs()[0],
            tflite_ops=loaded.ops, model=model, outputs=outputs,
            settings={**self.settings(threads), **{k: v for k, v in facts.items() if k not in ("ops", "placement")},
                      "worker": {"python": str(self.python()), "load_s": loaded.load_s}},
            placement=facts.get("placement") or ([1] * len(loaded.ops) if facts.get("fully_accelerated") else None),
            input_quant=in_quant if out_quant[0] else None, output_quant=out_quant[0],
            raw_output=lambda: loaded.results[0],
            timer=loaded.time)


PROBE_SHAPE = (1, 8, 8, 4)


@cache
def probe_adapter(python: str, accelerator: str) -> dict | None:
    """The adapter the worker's accelerator selects (name, type, driver, backend), from compiling a one-op
    model (RELU on a float32 ``PROBE_SHAPE`` input); None when there is none."""
    worker = Worker(python)
    try:
        loaded = load(worker, probe_model(), "compiled", {"accelerator": accelerator})
        return loaded.facts.get("adapter") or {"name": "unknown", "type": "", "software": False}
    except (WorkerRefused, WorkerCrashed):
        return None
    finally:
        worker.close()


@cache
def probe_model() -> bytes:
    """A float RELU model, converted once (cached like every conversion)."""
    from tfparity.convert import cache_dir, store

    path = cache_dir() / "probe-relu.tflite"
    if not path.exists():
        import tensorflow as tf

        fn = tf.function(tf.nn.relu, input_signature=[tf.TensorSpec(PROBE_SHAPE, tf.float32)])
        store(path, tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn).convert())
    return path.read_bytes()
