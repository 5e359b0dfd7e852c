"""Inside a model on one lane: where each op ran, what each op costs alone, and the model's lifecycle per thread count.

- ``partitions``: per op of the ``.tflite`` the lane loaded, where it ran: ``builtin`` (the interpreter's own
  kernels), ``xnnpack`` (a partition of the default delegate) or the accelerator (LiteRT's ``CompiledModel`` on the
  GPU, which accepts a model whole or not at all on these lanes), from the interpreter's node list
  (:func:`tfparity.lanes.worker.placement`).
- ``op_profile``: every op as a one-op model of its own (:func:`tfparity.submodel.part`: the same tensors,
  constants and quantization) on the lane, fed the reference's values of its inputs; per op the median latency
  (``time_calls``: warm-up, calibrated rounds), its share of the ops' summed latency, and its error alone against
  the executor's value of its output: LSB of the output's scale on integer models, ``max|y - ref| / max|ref|``
  on float ones. Few rounds (:data:`OP_ROUNDS`): enough to rank ops by share, cheap enough for every quick run.
- ``lifecycle``: in a fresh worker process per thread count (the lane's runtime and settings): model load,
  first invoke, warm p50 / p99 over the timed rounds (each round's mean per call), the process's peak resident
  memory (VmHWM) and its resident memory before the model was loaded (Python, numpy and the runtime).
"""

from __future__ import annotations

import numpy as np

from tfparity.lanes.worker import time_calls
from tfparity.models.check import _quantization

OP_ROUNDS = {"min_rounds": 3, "max_time": 0.005, "warmup_iterations": 1}  # per one-op model: shares, not trends
LIFECYCLE_ROUNDS = {"min_rounds": 7, "max_time": 0.1, "warmup_iterations": 3}


def _label(number: int, accelerator: str | None) -> str:
    return "builtin" if number == 0 else accelerator or "xnnpack"


def partitions(runnable, ops: list[str]) -> dict | None:
    """``{"ops": [{"index", "op", "where", "partition"}], "partitions": n, "delegated": n, "builtin": n}``, or None
    where the lane does not say (TF lanes, a partly accelerated compiled model)."""
    if runnable.placement is None or len(runnable.placement) != len(ops):
        return None
    accelerator = runnable.settings.get("accelerator")
    rows = [{"index": i, "op": op, "where": _label(k, accelerator), "partition": k}
            for i, (op, k) in enumerate(zip(ops, runnable.placement))]
    return {"ops": rows, "partitions": len({k for k in runnable.placement if k}),
            "delegated": sum(1 for k in runnable.placement if k), "builtin": runnable.placement.count(0)}


def reference_tensors(model: bytes, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Every tensor of ``model`` as the executor computes it from the float ``inputs``, by tensor index (a part
    keeps the model's indices): exact integers where the model takes quantized inputs (quantized with its own input
    parameters), else float64."""
    import reference.tflite

    graph = reference.tflite.load(model)
    integer = graph.tensors[graph.inputs[0]].quantized
    if integer:
        inputs = [_quantization(graph.tensors[i]).quantize(x) for i, x in zip(graph.inputs, inputs)]
    return reference.tflite.run_indexed(graph, inputs, float64=not integer)[1]


def computes(graph, op) -> bool:
    """Whether ``op`` reads an activation (not only constants: a weight's DEQUANTIZE is folded, not computed)."""
    return any(i >= 0 and graph.tensors[i].data is None for i in op.inputs)


def op_profile(lane, model: bytes, tensors: dict[int, np.ndarray], where: list[str] | None,
               threads: int) -> list[dict]:
    """One row per op of ``model`` (see the module doc); ``tensors``: :func:`reference_tensors` of it; ``where``:
    where each op ran in the whole model (:func:`partitions`), if known."""
    import reference.tflite
    from tfparity.submodel import inputs, part

    graph = reference.tflite.load(model)
    rows = []
    for index, op in enumerate(graph.operators):
        out = graph.tensors[op.outputs[0]]
        row = {"index": index, "op": op.name, "tensor": out.name,
               "where": None if where is None else where[index],
               "latency_s": None, "share": None, "error_alone": None, "unit": "lsb" if out.quantized else "rel"}
        rows.append(row)
        if not computes(graph, op):
            row["reason"] = "reads only constants: folded when the model is prepared"
            continue
        try:
            _alone(row, lane, part(model, [index], outputs=[op.outputs[0]]), graph, inputs(model, [index]),
                   op.outputs[0], tensors, threads)
        except Exception as exc:  # noqa: BLE001 - an op the lane refuses or fails alone is said; the others still run
            row["reason"] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    total = sum(r["latency_s"] for r in rows if r["latency_s"] is not None)
    for r in rows:
        if r["latency_s"] is not None and total > 0:
            r["share"] = r["latency_s"] / total
    return rows


def _alone(row: dict, lane, alone: bytes, graph, taken: list[int], out: int, tensors: dict[int, np.ndarray],
           threads: int) -> None:
    """Fill ``row``'s ``error_alone`` and ``latency_s`` from the one-op model ``alone`` of ``graph`` (input tensors
    ``taken``, output tensor ``out``: indices of ``graph``, which the part keeps) on ``lane``."""
    runnable = lane.load(alone, threads)
    runnable.set_inputs([_as_input(graph.tensors[i], tensors[i]) for i in taken])
    runnable.invoke()
    row["error_alone"] = _error(graph.tensors[out], np.asarray(runnable.outputs()[0], np.float64), tensors[out])
    rounds = runnable.timer(**OP_ROUNDS) if runnable.timer else time_calls(runnable.invoke, **OP_ROUNDS)
    row["latency_s"] = float(np.median(rounds["samples"]))


def _as_input(tensor, value: np.ndarray) -> np.ndarray:
    """A reference value as a lane's ``set_inputs`` takes it: float (integer tensors dequantized; the lane
    quantizes them back exactly)."""
    if tensor.quantized and np.issubdtype(value.dtype, np.integer):
        return _quantization(tensor).dequantize(value).astype(np.float32)
    return np.asarray(value, np.float32)


def _error(tensor, got: np.ndarray, reference: np.ndarray) -> float:
    """LSB of ``tensor``'s scale (integer reference) or ``max|got - ref| / max|ref|``."""
    if tensor.quantized and np.issubdtype(reference.dtype, np.integer):
        q = _quantization(tensor)
        return float(np.abs(np.rint(got / q.scale) + q.zero_point - reference).max(initial=0))
    scale = float(np.abs(reference).max(initial=0.0)) or 1.0
    return float(np.abs(got - reference).max(initial=0.0) / scale)


def lifecycle(lane, model: bytes, inputs: list[np.ndarray], threads: int) -> dict | None:
    """The model's lifecycle on ``lane`` in a fresh worker process (see the module doc); None where the lane has
    no worker form (TF lanes)."""
    from tfparity.lanes.remote import Worker

    isolated = lane.isolated()
    if isolated is None:
        return None
    worker = Worker(isolated.python())
    try:
        before = worker.request("memory")[0]
        runnable = isolated.load(model, threads, worker=worker)
        runnable.set_inputs(inputs)
        first_s = runnable.invoke()  # a worker's run answers the seconds of the call itself, inputs set
        rounds = runnable.timer(**LIFECYCLE_ROUNDS)
        after = worker.request("memory")[0]
    except Exception as exc:  # noqa: BLE001 - the model's verdict stands; this count's lifecycle says what failed
        return {"threads": threads, "reason": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}
    finally:
        worker.close()
    samples = np.asarray(rounds["samples"])
    return {"threads": threads, "load_s": runnable.settings["worker"]["load_s"], "model_bytes": len(model),
            "first_s": first_s, "p50_s": float(np.median(samples)), "p99_s": float(np.percentile(samples, 99)),
            "rounds": len(samples), "peak_rss_mb": after["peak_rss_mb"], "base_rss_mb": before["rss_mb"]}
