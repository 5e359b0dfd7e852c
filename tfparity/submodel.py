"""Part of a ``.tflite`` model as a model of its own: some of its first subgraph's ops, with the same tensors,
quantization and constants, so that a runtime runs exactly those ops on exactly those tensors.

The tensor table is kept whole (indices, names, shapes and quantization unchanged); the part's inputs are the
activation tensors its ops read and no kept op writes, its outputs what the caller names (default: every tensor a
kept op writes). An op that reads only constants and feeds a kept op (a weight's DEQUANTIZE in an fp16 model) comes
along, as the model holds that weight; its output is not a default output. Constants no kept op reads are emptied,
and signatures are dropped (they name the whole model's inputs and outputs), so an interpreter takes the part's own
inputs and outputs in tensor-index order.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4)
def _unpacked(model: bytes):
    from tensorflow.lite.python import schema_py_generated as schema

    return schema.ModelT.InitFromPackedBuf(bytearray(model), 0)


def part(model: bytes, ops: list[int], outputs: list[int] | None = None) -> bytes:
    """``model`` reduced to its subgraph-0 ops at positions ``ops`` (kept in their order); ``outputs``: tensor
    indices the part returns (default: every tensor the kept ops write). Recent parts are kept: lanes that run the
    same model ask for the same parts."""
    return _part(model, tuple(ops), None if outputs is None else tuple(outputs))


def inputs(model: bytes, ops: list[int]) -> list[int]:
    """The tensor indices :func:`part` of ``model`` at ``ops`` takes as inputs, in its input order (the part keeps
    the tensor table, so they index ``model``'s tensors too)."""
    return _plan(model, tuple(ops))[1]


@lru_cache(maxsize=256)
def _plan(model: bytes, ops: tuple[int, ...]) -> tuple[list, list[int], set[int], set[int]]:
    """(kept operators, input tensors, tensors the requested ops write, constant tensors read) of a part."""
    whole = _unpacked(model)
    graph = whole.subgraphs[0]
    producer = {t: i for i, op in enumerate(graph.operators) for t in op.outputs}
    folded = {producer[t] for i in ops for t in graph.operators[i].inputs
              if t in producer and _constant_only(whole, graph, graph.operators[producer[t]])} - set(ops)
    kept = [graph.operators[i] for i in sorted({*ops, *folded})]
    written = {t for op in kept for t in op.outputs if t >= 0}
    requested = {t for i in ops for t in graph.operators[i].outputs if t >= 0}
    read = {t for op in kept for t in op.inputs if t >= 0}
    constant = {t for t in read if _has_data(whole, graph.tensors[t])}
    return kept, sorted(read - written - constant), requested, constant


@lru_cache(maxsize=256)
def _part(model: bytes, ops: tuple[int, ...], outputs: tuple[int, ...] | None) -> bytes:
    import copy

    import flatbuffers

    whole = _unpacked(model)
    graph = whole.subgraphs[0]
    kept, taken, requested, constant = _plan(model, ops)
    reduced = copy.copy(whole)
    sub = copy.copy(graph)
    sub.operators = kept
    sub.inputs = taken
    sub.outputs = sorted(requested) if outputs is None else list(outputs)
    reduced.subgraphs = [sub, *whole.subgraphs[1:]]
    used = {graph.tensors[t].buffer for t in constant}
    reduced.buffers = [b if i in used or not _holds(b) else _empty(b) for i, b in enumerate(whole.buffers)]
    reduced.signatureDefs = []
    builder = flatbuffers.Builder(1024)
    builder.Finish(reduced.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _constant_only(whole, graph, op) -> bool:
    return all(t < 0 or _has_data(whole, graph.tensors[t]) for t in op.inputs)


@lru_cache(maxsize=256)
def loaded(model: bytes):
    """A part (or any model) parsed by ``reference.tflite.load``, kept like the parts (read, never changed)."""
    import reference.tflite

    return reference.tflite.load(model)


def _holds(buffer) -> bool:
    return buffer.data is not None and len(buffer.data) > 0


def _has_data(whole, tensor) -> bool:
    return _holds(whole.buffers[tensor.buffer])


def _empty(buffer):
    import copy

    empty = copy.copy(buffer)
    empty.data = None
    return empty
