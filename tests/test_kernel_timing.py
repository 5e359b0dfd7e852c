"""TF's in-graph op time (``kernel_timing``): the loop runs the op once per iteration, on the previous iteration's
output, and XLA can neither hoist it nor shrink it to the element the loop reads; the estimate cancels the per-call
dispatch exactly."""

import re

import numpy as np
import pytest

from tfparity import timing
from tfparity.lanes import tensorflow
from tfparity.lanes.inprocess import LOOP_PROBE, looped
from tfparity.ops import REGISTRY

CASE = next(c for c in REGISTRY.select("quick", 0, ops=["conv2d"]) if "in=1x21x21x8" in c.id)


def _op_and_input():
    tf = tensorflow()
    return tf, CASE.op.tf(CASE.params, CASE.arrays.consts), tf.constant(CASE.arrays.inputs[0])


@pytest.mark.parametrize("xla", [False, True])
def test_each_iteration_runs_the_op_on_the_previous_probe(xla):
    tf, op, x = _op_and_input()
    loop = looped(tf, op, xla, [tf.TensorSpec(x.shape, x.dtype)])
    probe = np.float32(0)
    for _ in range(3):  # the chain, computed eagerly
        first = np.asarray(op(x + probe)).reshape(-1)[0]
        probe = np.float32(LOOP_PROBE * np.tanh(first))
    found, last = loop(tf.constant(3), x)
    assert float(found) == pytest.approx(float(probe), rel=1e-5)
    assert last.shape == op(x).shape
    assert probe != 0  # every iteration's output reaches the result


def _in_while_body(hlo: str, op: str, shape) -> bool:
    """Whether a while body of XLA's optimized HLO computes ``op`` (directly, or inside a fusion it calls) with a result
    of the full output's element count: not hoisted to the entry computation, not shrunk to the part the loop reads."""
    blocks = [block.strip() for block in re.split(r"\n\n", hlo) if block.strip().startswith("%")]
    computations = {block.split()[0].lstrip("%"): block for block in blocks}
    elements = int(np.prod(shape))

    def computes(line: str) -> bool:
        result = re.search(r"= \w+\[([\d,]*)\]", line)
        if result is None or int(np.prod([int(d) for d in result.group(1).split(",") if d])) != elements:
            return False
        called = re.search(r"calls=%([\w.\-]+)", line)
        return f" {op}(" in line or (called is not None and f" {op}(" in computations.get(called.group(1), ""))

    return any("while_body" in block.split()[0] and any(map(computes, block.splitlines()[1:])) for block in blocks)


def _hlo(tf, fn, x):
    return tf.function(fn, jit_compile=True).experimental_get_compiler_ir(tf.constant(3), x)(stage="optimized_hlo")


def _first_only(tf, op):
    """Planted: the loop keeps only the first output element."""
    def run(n, x):
        def body(i, probe):
            return i + 1, tf.tanh(tf.reshape(op(x + probe), [-1])[0])
        return tf.while_loop(lambda i, probe: i < n, body, (tf.constant(0), tf.constant(0.0)))[1]
    return run


def _invariant(tf, op):
    """Planted: the op's input does not depend on the loop."""
    def run(n, x):
        def body(i, acc):
            return i + 1, acc + tf.reshape(op(x), [-1])[0]
        return tf.while_loop(lambda i, acc: i < n, body, (tf.constant(0), tf.constant(0.0)))[1]
    return run


@pytest.mark.parametrize("op_name, key, hlo_op, shortcut", [
    ("conv2d", "network=resnet50", "dot", _invariant),  # a 1x1 conv is a GEMM; with a loop-invariant input XLA
    # computes it once, before the loop
    ("resize", "in=1x4x4x3,size=224x224,method=nearest,aa=0", "gather", _first_only),  # a gather: XLA gathers
    # only the element the loop reads (this figure once showed 1,550 % of peak)
])
def test_xla_computes_the_whole_op_inside_the_loop_and_the_check_sees_a_planted_shortcut(op_name, key, hlo_op,
                                                                                          shortcut):
    tf = tensorflow()
    case = next(c for c in REGISTRY.select("quick", 0, ops=[op_name]) if key in c.id)
    op, x = case.op.tf(case.params, case.arrays.consts), tf.constant(case.arrays.inputs[0])
    shape = op(x).shape
    loop = looped(tf, op, True, [tf.TensorSpec(x.shape, x.dtype)])
    assert _in_while_body(loop.experimental_get_compiler_ir(tf.constant(3), x)(stage="optimized_hlo"), hlo_op, shape)
    assert not _in_while_body(_hlo(tf, shortcut(tf, op), x), hlo_op, shape)


def test_in_graph_cancels_the_dispatch(monkeypatch):
    """On a clock where a call costs ``dispatch + n·op``, the estimate is ``op`` exactly, whatever the dispatch."""
    clock, dispatch, op = [0.0], 7e-4, 3e-6

    def run_loop(n):
        clock[0] += dispatch + n * op

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    found = timing.in_graph(run_loop)
    assert found["median_s"] == pytest.approx(op, rel=1e-6)
    assert found["loop_iterations"] >= 2 and found["call_s"] == pytest.approx(dispatch + op)
