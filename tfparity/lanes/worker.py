"""tfparity's lane worker: TFLite / LiteRT models in a process that imports only numpy and the runtime.

Standalone on purpose: it imports nothing from tfparity and never TensorFlow, so it runs in a virtual
environment holding another runtime (``tflite-runtime``, an earlier ``ai-edge-litert``), next to LiteRT's GPU
accelerator (which crashes in a process that imported TensorFlow), or on another machine (copy this file;
``ssh board python3 worker.py`` carries the same byte streams). The protocol is in docs/WORKER.md.

Framing (both directions): ``u32 little-endian length``, that many bytes of UTF-8 JSON, then the payloads the
JSON's ``"blobs"`` lists (their byte lengths), back to back. Arrays travel as ``.npy`` bytes (dtype and shape
included, no pickles). The worker reads requests on stdin and answers each with one reply on stdout; its
stderr is the runtime's log.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import struct
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

PROTOCOL = 3
RESOLVERS = ("AUTO", "BUILTIN", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "BUILTIN_REF")


# --- framing ---------------------------------------------------------------------------------------------------
def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"stream ended after {len(data)} of {n} bytes")
    return data


def read_frame(stream) -> tuple[dict, list[bytes]]:
    (length,) = struct.unpack("<I", _read_exact(stream, 4))
    message = json.loads(_read_exact(stream, length))
    return message, [_read_exact(stream, n) for n in message.get("blobs", [])]


def write_frame(stream, message: dict, blobs: list[bytes] = ()) -> None:
    body = json.dumps({**message, "blobs": [len(b) for b in blobs]}).encode()
    stream.write(struct.pack("<I", len(body)) + body)
    for blob in blobs:
        stream.write(blob)
    stream.flush()


def array_bytes(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(x), allow_pickle=False)
    return buffer.getvalue()


def bytes_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


# --- timing ----------------------------------------------------------------------------------------------------
def warm_up(call, max_time: float, iterations: int) -> None:
    """Call ``call`` up to ``iterations`` times, stopping once ``max_time`` seconds have passed (so a slow call is
    warmed up once, not ``iterations`` times)."""
    start = time.perf_counter()
    for _ in range(iterations):
        call()
        if time.perf_counter() - start > max_time:
            return


def time_calls(call, min_rounds: int, max_time: float, warmup_iterations: int, min_time: float = 5e-6) -> dict:
    """pytest-benchmark's scheme, timed here so the clock never spans the pipe: warm up (at most
    ``warmup_iterations`` calls or ``max_time``), calibrate the calls per round until a round lasts ``min_time``
    (at least 10x the timer's resolution), then run rounds until ``max_time`` has passed and at least
    ``min_rounds`` ran. Returns seconds per call of every round."""
    timer = time.perf_counter
    warm_up(call, max_time, warmup_iterations)
    resolution = min(abs(timer() - timer()) or 1e-9 for _ in range(5)) or 1e-9
    min_time = max(min_time, 10 * resolution)
    iterations = 1
    while True:
        t0 = timer()
        for _ in range(iterations):
            call()
        duration = timer() - t0
        if duration >= min_time:
            break
        iterations *= 2 if duration <= 0 else max(2, math.ceil(min_time / duration))
    rounds = max(min_rounds, math.ceil(max_time / duration))
    samples = []
    for _ in range(rounds):
        t0 = timer()
        for _ in range(iterations):
            call()
        samples.append((timer() - t0) / iterations)
    return {"samples": samples, "iterations": iterations}


# --- runtimes --------------------------------------------------------------------------------------------------
class _StderrCapture:
    """The runtime's log (C++ writes to fd 2) during a block, still passed on to our stderr."""

    def __enter__(self):
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()
        sys.stderr.write(self.text)
        sys.stderr.flush()


def _adapter(log: str) -> dict | None:
    """Dawn's ``Selected adapter: NAME, arch=…, vendor=…, backend=…, adapterType=…`` line, as fields."""
    for line in log.splitlines():
        if "Selected adapter:" in line:
            text = line.split("Selected adapter:", 1)[1].strip()
            parts = text.split(", ")
            fields = dict(p.split("=", 1) for p in parts if "=" in p)
            name = ", ".join(p for p in parts if "=" not in p)
            kind = fields.get("adapterType", "")
            return {"name": name, "type": kind, "software": "CPU" in kind or fields.get("arch") == "software",
                    "driver": fields.get("vendor", ""), "backend": fields.get("backend", ""),
                    "arch": fields.get("arch", "")}
    return None


def _details(entries) -> list[dict]:
    out = []
    for d in entries:
        scale, zero = d.get("quantization", (0.0, 0))
        out.append({"name": d["name"], "index": int(d["index"]), "shape": [int(s) for s in d["shape"]],
                    "dtype": np.dtype(d["dtype"]).name, "scale": float(scale), "zero_point": int(zero)})
    return out


def placement(details) -> list[int]:
    """Where each op of the model ran, in model order: 0 on the interpreter's own kernels, ``k`` in the k-th
    delegate partition. ``details``: ``Interpreter._get_ops_details()``, which lists the model's ops and then one
    ``DELEGATE`` node per partition; a partition holds the ops whose outputs lead to its node's outputs without
    passing through its node's inputs (the partition's boundary)."""
    ops = [d for d in details if d["op_name"] != "DELEGATE"]
    producer = {int(t): i for i, d in enumerate(ops) for t in d["outputs"]}
    where = [0] * len(ops)
    for k, node in enumerate((d for d in details if d["op_name"] == "DELEGATE"), 1):
        boundary = {int(t) for t in node["inputs"]}
        pending = [int(t) for t in node["outputs"]]
        while pending:
            i = producer.get(pending.pop())
            if i is not None and where[i] != k:
                where[i] = k
                pending.extend(int(t) for t in ops[i]["inputs"] if t >= 0 and int(t) not in boundary)
    return where


def peak_memory() -> dict:
    """This process's resident memory from ``/proc/self/status``, in MiB: ``peak_rss_mb`` (VmHWM, the high-water
    mark since the process started) and ``rss_mb`` (VmRSS, now)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
    return {"peak_rss_mb": fields.get("VmHWM"), "rss_mb": fields.get("VmRSS")}


class InterpreterModel:
    """``Interpreter`` of ``ai_edge_litert`` or ``tflite_runtime`` with an op resolver."""

    def __init__(self, model: bytes, settings: dict):
        import importlib

        module = importlib.import_module(settings.get("module", "ai_edge_litert.interpreter"))
        resolver = settings.get("resolver", "AUTO")
        if resolver not in RESOLVERS:
            raise ValueError(f"unknown resolver {resolver!r}")
        it = module.Interpreter(model_content=model, num_threads=int(settings.get("threads", 1)),
                                experimental_op_resolver_type=getattr(module.OpResolverType, resolver))
        it.allocate_tensors()
        self.it = it
        self.inputs, self.outputs = _details(it.get_input_details()), _details(it.get_output_details())
        details = it._get_ops_details()
        nodes = [op["op_name"] for op in details]
        self.facts = {"runtime": module.__name__, "resolver": resolver,
                      "delegate_partitions": nodes.count("DELEGATE"),
                      "ops": [n for n in nodes if n != "DELEGATE"], "placement": placement(details)}

    def run(self, arrays):
        for d, x in zip(self.inputs, arrays):
            self.it.set_tensor(d["index"], x)
        self.it.invoke()

    def invoke(self):
        self.it.invoke()

    def results(self):
        return [self.it.get_tensor(d["index"]) for d in self.outputs]


class CompiledModelRunner:
    """LiteRT ``CompiledModel`` on an accelerator (``gpu``: fp16 by default, fp32 with ``precision="fp32"``);
    CPU fallback only when ``allow_fallback``."""

    def __init__(self, model: bytes, settings: dict):
        from ai_edge_litert import compiled_model
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator

        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())  # Dawn logs an error without it
        accelerator = settings.get("accelerator", "gpu").upper()
        accel = getattr(HardwareAccelerator, accelerator)
        if settings.get("allow_fallback"):
            accel = accel | HardwareAccelerator.CPU
        options = compiled_model.Options.create()
        options.hardware_accelerators = accel
        if accelerator == "GPU" and settings.get("precision") == "fp32":
            options.gpu_options.enforce_f32 = True
        with _StderrCapture() as log:
            self.cm = compiled_model.CompiledModel.from_buffer(model, options=options)
        signature = next(iter(self.cm.get_signature_list()))
        self.inputs = _details(self.cm.get_input_tensor_details(signature).values())
        self.outputs = _details(self.cm.get_output_tensor_details(signature).values())
        self.in_buffers, self.out_buffers = self.cm.create_input_buffers(0), self.cm.create_output_buffers(0)
        self.facts = {"runtime": "ai_edge_litert.compiled_model", "accelerator": accelerator.lower(),
                      "precision": settings.get("precision", "default"),
                      "allow_fallback": bool(settings.get("allow_fallback")),
                      "fully_accelerated": bool(self.cm.is_fully_accelerated()), "adapter": _adapter(log.text)}

    def run(self, arrays):
        for buffer, d, x in zip(self.in_buffers, self.inputs, arrays):
            buffer.write(np.ascontiguousarray(x, d["dtype"]))
        self.invoke()

    def invoke(self):
        """One inference, complete: ``run_by_index`` only enqueues work on a GPU (it returns in ~0.1 ms while
        the inference takes ~100 ms on llvmpipe), so the outputs are read back, the one synchronization the Python
        API offers, as an application must before it uses them."""
        self.cm.run_by_index(0, self.in_buffers, self.out_buffers)
        self._outputs = [b.read(int(np.prod(d["shape"])), np.dtype(d["dtype"]))
                         for b, d in zip(self.out_buffers, self.outputs)]

    def results(self):
        return [np.asarray(y).reshape(d["shape"]) for y, d in zip(self._outputs, self.outputs)]


RUNNERS = {"interpreter": InterpreterModel, "compiled": CompiledModelRunner}


def _versions() -> dict:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("ai-edge-litert", "tflite-runtime"):
        try:
            found[dist.replace("-", "_")] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


# --- the loop --------------------------------------------------------------------------------------------------
def handle(state: dict, message: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    op = message.get("op")
    if op == "hello":
        return {"protocol": PROTOCOL, "versions": _versions(), "machine": platform.machine(),
                "tensorflow_imported": "tensorflow" in sys.modules}, []
    if op == "memory":
        return peak_memory(), []
    if op == "load":
        models = state.setdefault("models", {})
        for dropped in message.get("drop", ()):
            models.pop(dropped, None)
        start = time.perf_counter()  # load_s: this model's load, not the freeing of those dropped
        runner = RUNNERS[message.get("runtime", "interpreter")](blobs[0], message.get("settings", {}))
        model_id = state["next_id"] = state.get("next_id", -1) + 1
        models[model_id] = runner
        return {"load_s": time.perf_counter() - start, "inputs": runner.inputs, "outputs": runner.outputs,
                "facts": runner.facts, "model": model_id}, []
    model_id = message.get("model", state.get("next_id"))
    runner = state.get("models", {}).get(model_id)
    if runner is None:
        raise RuntimeError(f"{op!r}: no model {model_id} loaded (or its client dropped it)")
    if op == "run":
        start = time.perf_counter()
        runner.run([bytes_array(b) for b in blobs])
        seconds = time.perf_counter() - start
        return {"seconds": seconds}, [array_bytes(y) for y in runner.results()]
    if op == "time":
        return time_calls(runner.invoke, int(message["min_rounds"]), float(message["max_time"]),
                          int(message["warmup_iterations"])), []
    raise ValueError(f"unknown request {op!r}")


def serve(reader, writer) -> None:
    state: dict = {}
    while True:
        try:
            message, blobs = read_frame(reader)
        except EOFError:
            return
        if message.get("op") == "quit":
            write_frame(writer, {"ok": True})
            return
        try:
            reply, out = handle(state, message, blobs)
            write_frame(writer, {"ok": True, **reply}, out)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the client as one line
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            write_frame(writer, {"ok": False, "error": f"{type(exc).__name__}: {lines[0] if lines else ''}"[:400],
                                 "stage": message.get("op")})


if __name__ == "__main__":
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a runtime prints to stdout goes to the log, never into the protocol stream
    serve(sys.stdin.buffer, out)
