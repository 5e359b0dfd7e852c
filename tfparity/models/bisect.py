"""The op that makes a lane diverge or crash on a model, found by bisection over the model's op prefixes.

Prefix ``k`` is the model's first ``k`` ops as a model of its own (:func:`tfparity.submodel.part`) returning every
tensor they write, so a delegate must hand each of them back. It runs on the lane in a worker process
(``Lane.isolated``: a crash there is an answer) on the case's inputs. It is *bad* when the worker dies or refuses,
or when some op of it is off its bound *on its own inputs*: the executor's kernel fed the lane's values of the op's
inputs gives its output, so error carried in from earlier ops cancels and badness is monotone in ``k``. Bounds:
integer lanes as the per-layer table (0 LSB on the exact lanes, ``quant.PATH_LSB`` elsewhere), float lanes the
lane's ``model`` tolerance for one op (``atol + (rtol + per_op) * max|ref|``: a rounding depth of one). The
smallest bad prefix ``k`` (binary search, ``log2(n) + 1`` runs) names op ``k - 1``; that op is then run alone on the
reference's values of its inputs (``alone``: whether it is bad by itself, or only after the ops before it).
"""

from __future__ import annotations

import numpy as np

from tfparity.models.check import _quantization
from tfparity.models.inside import computes
from tfparity.quant import EXACT_LANES, PATH_LSB
from tfparity.tolerances import lookup


def culprit(lane, model: bytes, inputs: list[np.ndarray], threads: int, model_name: str) -> dict:
    """``{"found", "index", "op", "tensor", "how", "detail", "alone", "runs"}`` (``found`` False: the whole model
    is within bound op by op, or prefixes do not reproduce the failure; ``reason`` says which)."""
    import reference.tflite

    isolated = lane.isolated()
    graph = reference.tflite.load(model)
    runs = []

    def bad(k: int) -> tuple[str, str] | None:
        runs.append(k)
        return _verdict(isolated, lane, graph, model, range(k), dict(zip(graph.inputs, inputs)), threads, model_name)

    n = len(graph.operators)
    whole = bad(n)
    if whole is None:
        return {"found": False, "runs": len(runs),
                "reason": "every op is within its bound on its own inputs: the failure is error accumulated over "
                          "ops, not one op"}
    low, high, worst = 0, n, whole  # prefix `low` is good (the empty one), prefix `high` is bad
    while high - low > 1:
        middle = (low + high) // 2
        found = bad(middle)
        if found is None:
            low = middle
        else:
            high, worst = middle, found
    index = high - 1
    op = graph.operators[index]
    alone = _alone(isolated, lane, graph, model, index, inputs, threads, model_name)
    return {"found": True, "index": index, "op": op.name, "tensor": graph.tensors[op.outputs[0]].name,
            "how": worst[0], "detail": worst[1], "alone": alone, "runs": len(runs) + 1}


def _verdict(isolated, lane, graph, model, ops, given: dict[int, np.ndarray], threads,
             model_name) -> tuple[str, str] | None:
    """None when every op of the part of ``model`` with ``ops`` is within bound; else ``(how, detail)``: ``crash``
    or ``refused`` (the worker died or declined the part) or ``diverges`` (the first op off its bound, by how
    much). ``given``: float values of the tensors the part reads, by tensor index."""
    from tfparity.lanes import Refused, WorkerCrashed
    from tfparity.lanes.base import RuntimeFailed
    from tfparity.lanes.remote import WorkerRefused
    from tfparity.submodel import loaded, part

    ops = list(ops)
    computing = [i for i in ops if computes(graph, graph.operators[i])]
    written = [t for i in computing for t in graph.operators[i].outputs if t >= 0]
    if not written:
        return None
    piece = part(model, ops, outputs=written)
    fed = loaded(piece).inputs
    try:
        runnable = isolated.load(piece, threads)
        runnable.set_inputs([given[i] for i in fed])
        runnable.invoke()
        values = runnable.outputs()
    except WorkerCrashed as exc:
        return "crash", str(exc)[:300]
    except (Refused, RuntimeFailed, WorkerRefused) as exc:
        return "refused", str(exc).splitlines()[0][:300]
    folded = _folded(graph, set(ops) - set(computing))
    lane_values = {i: given[i] for i in fed} | folded | dict(zip(written, values))
    for i in computing:
        off = _off(lane, graph, graph.operators[i], lane_values, model_name)
        if off is not None:
            return "diverges", f"#{i} {graph.operators[i].name}: {off}"
    return None


def _folded(graph, ops: set[int]) -> dict[int, np.ndarray]:
    """The outputs of the constant-only ``ops`` (a weight's DEQUANTIZE), by the executor, by tensor index."""
    from reference.tflite import KERNELS
    from reference.tflite.executor import Context

    context, values = Context(graph, float64=True), {}
    for i in sorted(ops):
        op = graph.operators[i]
        values[op.outputs[0]] = context.values[op.outputs[0]] = KERNELS[op.name](context, op)
    return values


def _off(lane, graph, op, lane_values: dict[int, np.ndarray], model_name: str) -> str | None:
    """How far ``op``'s output on the lane is from the executor's kernel on the lane's own input values, when
    beyond its bound (None within)."""
    from reference.tflite import KERNELS
    from reference.tflite.executor import Context

    out = graph.tensors[op.outputs[0]]
    integer = out.quantized and out.dtype != np.float32
    context = Context(graph, float64=not integer)
    for i in op.inputs:
        if i >= 0 and i in lane_values:
            context.values[i] = _stored(graph.tensors[i], lane_values[i])
    expected = np.asarray(KERNELS[op.name](context, op), np.float64)
    got = _stored(out, lane_values[op.outputs[0]]).astype(np.float64)
    if integer:
        lsb = int(np.abs(got - expected).max(initial=0))
        bound = 0 if lane.judged_as in EXACT_LANES else PATH_LSB
        return f"{lsb} LSB from the kernel on its own inputs (bound {bound})" if lsb > bound else None
    tolerance = lookup(lane.judged_as, ["model:" + model_name, "model"])
    scale = float(np.abs(expected).max(initial=0.0))
    error = float(np.abs(got - expected).max(initial=0.0))
    limit = tolerance.atol + (tolerance.rtol + tolerance.per_op) * scale  # one op that rounds in the lane's format
    return f"max |error| {error:.3g} over max|ref| {scale:.3g} (bound {limit:.3g})" if error > limit else None


def _stored(tensor, value: np.ndarray) -> np.ndarray:
    """A float value (a lane's dequantized output, a model input) as the tensor stores it: quantized with its
    parameters (a dequantized integer comes back exactly), else as it is."""
    if tensor.quantized and tensor.dtype != np.float32:
        return _quantization(tensor).quantize(value)
    return np.asarray(value)


def _alone(isolated, lane, graph, model, index, inputs, threads, model_name) -> bool:
    """Whether op ``index`` is bad by itself: run alone on the executor's values of its inputs."""
    from tfparity.models.inside import _as_input, reference_tensors
    from tfparity.submodel import loaded, part

    tensors = reference_tensors(model, inputs)
    single = part(model, [index])
    sub_graph = loaded(single)
    given = {i: _as_input(sub_graph.tensors[i], tensors[i]) for i in sub_graph.inputs}
    return _verdict(isolated, lane, sub_graph, single, range(len(sub_graph.operators)), given, threads,
                    model_name) is not None
