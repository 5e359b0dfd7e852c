"""Inside a model: where each op ran, each op alone, lifecycle and thread counts, and the bisection's culprit (a planted
divergent op must be found)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.test_planted_faults import check_on
from tfparity import lanes
from tfparity.models import MODELS, bisect, inside
from tfparity.models.check import model_bytes
from tfparity.quant import PATH_LSB
from tfparity.submodel import part
from tfparity.tolerances import lookup

PNET = MODELS.select("quick", 0, ops=["mtcnn_pnet"])[0]
RNET = MODELS.select("quick", 0, ops=["mtcnn_rnet"])[0]


def _delegated_alone(lane, model: bytes, index: int) -> bool:
    """Whether the lane's interpreter adds a DELEGATE node to op ``index`` run as a model of its own."""
    it = lane.interpreter(part(model, [index]), 1)
    return any(d["op_name"] == "DELEGATE" for d in it._get_ops_details())


def test_partitions_agree_with_each_op_delegated_alone():
    """The partition map of int8 P-Net on XNNPACK (from the delegate nodes' boundaries) says of every op what the
    interpreter does with that op alone; the reference kernels delegate nothing."""
    lane = lanes.LANES["tflite-int8"]
    model = model_bytes(PNET, "int8")
    found = inside.partitions(lane.load(model, 1), lanes.model_ops(model))
    assert found["builtin"] > 0 and found["delegated"] > 0  # P-Net's int8 PRELUs stay on the builtin kernels
    for row in found["ops"]:
        assert (row["where"] == "xnnpack") == _delegated_alone(lane, model, row["index"]), row
    ref = inside.partitions(lanes.LANES["tflite-int8-ref"].load(model, 1), lanes.model_ops(model))
    assert ref["delegated"] == 0 and ref["partitions"] == 0


def test_op_profile_times_every_op_and_measures_it_against_the_executor():
    lane = lanes.LANES["tflite-int8-ref"]
    model = model_bytes(PNET, "int8")
    where = [row["where"] for row in inside.partitions(lane.load(model, 1), lanes.model_ops(model))["ops"]]
    rows = inside.op_profile(lane, model, inside.reference_tensors(model, PNET.arrays.inputs), where, 1)
    assert [r["op"] for r in rows] == lanes.model_ops(model) and {r["where"] for r in rows} == {"builtin"}
    assert all(r["latency_s"] > 0 for r in rows)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert all(r["unit"] == "lsb" and r["error_alone"] == 0 for r in rows)  # the reference kernels: bit-exact
    xnnpack = inside.op_profile(lanes.LANES["tflite-int8"], model, inside.reference_tensors(model, PNET.arrays.inputs),
                                None, 1)
    assert max(r["error_alone"] for r in xnnpack) <= PATH_LSB


def test_op_profile_on_the_gpu_accelerator_places_and_times_every_op():
    """litert-gpu-f32 (LiteRT's accelerator in float32; llvmpipe here): each op compiled alone, within the
    whole-model float32 bound of the float64 executor (a one-op model is a model)."""
    lane = lanes.LANES["litert-gpu-f32"]
    available, why = lane.available()
    if not available:
        pytest.skip(why)
    model = model_bytes(PNET, "float")
    where = [row["where"] for row in inside.partitions(lane.load(model, 1), lanes.model_ops(model))["ops"]]
    rows = inside.op_profile(lane, model, inside.reference_tensors(model, PNET.arrays.inputs), where, 1)
    assert [r["where"] for r in rows] == ["gpu"] * len(rows) and all(r["latency_s"] > 0 for r in rows)
    assert 0 < max(r["error_alone"] for r in rows) <= lookup("litert-gpu-f32", ["model"]).rtol


def test_lifecycle_runs_in_a_fresh_process_per_thread_count():
    lane = lanes.LANES["tflite-xnnpack"]
    model = model_bytes(PNET, "float")
    found = [inside.lifecycle(lane, model, PNET.arrays.inputs, n) for n in (1, 2)]
    assert [f["threads"] for f in found] == [1, 2]
    for f in found:
        assert f["peak_rss_mb"] >= f["base_rss_mb"] > 0 and f["model_bytes"] == len(model)
        assert 0 < f["p50_s"] <= f["p99_s"] and f["load_s"] > 0 and f["first_s"] > 0
    assert inside.lifecycle(lanes.LANES["tf-cpu"], model, PNET.arrays.inputs, 1) is None


# --- bisection ---------------------------------------------------------------------------------------------------
def _with_bias(model: bytes, index: int, change) -> bytes:
    """``model`` with op ``index``'s bias (its third input) replaced by ``change(bias)``."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    whole = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = whole.subgraphs[0]
    tensor = graph.tensors[graph.operators[index].inputs[2]]
    dtype = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32}[tensor.type]
    buffer = whole.buffers[tensor.buffer]
    buffer.data = np.frombuffer(change(np.frombuffer(bytes(buffer.data), dtype).copy()).astype(dtype).tobytes(),
                                np.uint8)
    builder = flatbuffers.Builder(1024)
    builder.Finish(whole.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@dataclasses.dataclass(frozen=True)
class BiasOff(lanes.TfliteLane):
    """``base`` whose kernel for the op writing tensor ``tensor`` adds ``delta`` to its bias (wherever that op is in
    a model it loads, whole or part): one divergent op. Runs in this process (its ``isolated`` form is itself)."""

    base: str = ""
    tensor: str = ""
    delta: tuple = ()

    @property
    def judged_as(self):
        return self.base

    def isolated(self):
        return self

    def interpreter(self, model, threads, preserve_all_tensors=False):
        import reference.tflite

        graph = reference.tflite.load(model)
        for index, op in enumerate(graph.operators):
            if graph.tensors[op.outputs[0]].name == self.tensor:
                model = _with_bias(model, index, lambda b: b + np.asarray(self.delta, b.dtype))
        return super().interpreter(model, threads, preserve_all_tensors)


def _planted(base: str, case):
    """``base`` with R-Net's middle CONV_2D off by just over its per-op bound (``PATH_LSB + 1`` LSB of its output scale
    on integer lanes, twice the model tolerance at the op's max|ref| on float ones); the planted op's index."""
    import reference.tflite

    real = lanes.LANES[base]
    model = model_bytes(case, real.mode)
    graph = reference.tflite.load(model)
    convs = [i for i, op in enumerate(graph.operators) if op.name == "CONV_2D"]
    index = convs[len(convs) // 2]
    op = graph.operators[index]
    out = graph.tensors[op.outputs[0]]
    if out.quantized:
        x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        delta = np.rint((PATH_LSB + 1) * out.scale[0] / (x.scale[0] * w.scale)).astype(np.int64)
    else:
        reference_out = inside.reference_tensors(model, case.arrays.inputs)[op.outputs[0]]
        tolerance = lookup(base, ["model:" + case.op.name, "model"])
        delta = np.full(out.shape[-1], 2 * (tolerance.atol + tolerance.rtol * np.abs(reference_out).max()))
    lane = BiasOff(f"planted-{base}", real.kind, "bias off", mode=real.mode, resolver=real.resolver, base=base,
                   tensor=out.name, delta=tuple(delta.tolist()))
    return lane, index


@pytest.mark.parametrize("base", ["tflite-xnnpack", "tflite-int8"])
def test_bisection_finds_a_planted_divergent_op(base):
    clean = bisect.culprit(lanes.LANES[base], model_bytes(RNET, lanes.LANES[base].mode), RNET.arrays.inputs, 1,
                           RNET.op.name)
    assert clean["found"] is False  # every op of the clean model is within its bound on its own inputs
    lane, index = _planted(base, RNET)
    record = check_on(RNET, lane)
    assert record["outcome"] == "fail", record["reason"]
    found = record["culprit"]
    assert found["found"] and found["index"] == index and found["how"] == "diverges" and found["alone"], found
    assert found["runs"] <= np.ceil(np.log2(len(lanes.model_ops(model_bytes(RNET, lane.mode))))) + 2


def test_bisection_names_the_op_that_crashes_the_worker():
    """A worker lane whose runtime aborts on a model holding a given op: the crash is an answer, and the prefix that
    first holds that op names it."""
    from tests.crashing_lanes import abort_on_op_lane

    lane, op_name = abort_on_op_lane("PRELU")
    model = model_bytes(RNET, "float")
    found = bisect.culprit(lane, model, RNET.arrays.inputs, 1, RNET.op.name)
    first = lanes.model_ops(model).index(op_name)
    assert found["found"] and found["how"] == "crash" and found["index"] == first and found["alone"], found


def test_threads_list_records_each_count(tmp_path):
    """``run --suite models --threads 1,2``: the header names both counts, each model record a lifecycle per count
    (a quick run with one count measures none)."""
    done = subprocess.run([sys.executable, "-m", "tfparity", "run", "--suite", "models", "--ops", "mtcnn_pnet",
                           "--lanes", "tflite-xnnpack", "--threads", "1,2", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = tmp_path.glob("run-*.jsonl")
    header, *records = map(json.loads, run.read_text().splitlines())
    assert header["threads"] == 1 and header["thread_sweep"] == [1, 2]
    assert [[e["threads"] for e in r["lifecycle"]] for r in records] == [[1, 2]]
    assert records[0]["op_profile"] and records[0]["partitions"]["partitions"] == 1
    from report.build import build

    lanes = (build(tmp_path) / "index.html").read_text().split("<h2>Lanes</h2>")[1].split("</table>")[0]
    assert "at 2 threads (1 model)" in lanes  # the lane table sums the model page's scaling up


def _lifecycle(*p50s):
    return [{"threads": n, "p50_s": p50, "p99_s": p50, "load_s": 0.1, "first_s": 0.1, "peak_rss_mb": 1.0,
             "model_bytes": 1024} for n, p50 in enumerate(p50s, 1)]


def test_lane_scaling_takes_the_median_and_counts_the_flags():
    """Efficiency p50(1)·1 / (p50(2)·2): 0.8 (1.0 → 0.625 s), 0.5 (no speed-up: flat), 0.4 (1.0 → 1.25 s: slower)."""
    import pandas as pd

    from report.inside import lane_scaling
    from report.models import field

    rows = pd.DataFrame({"lane": ["l"] * 4, "lifecycle": [_lifecycle(1.0, 0.625), _lifecycle(1.0, 1.0),
                                                          _lifecycle(1.0, 1.25), _lifecycle(1.0)]})
    assert lane_scaling(rows, field) == "0.50 at 2 threads (3 models); 1 slower; 1 flat"
    assert lane_scaling(rows.iloc[:1], field) == "0.80 at 2 threads (1 model)"
    assert lane_scaling(rows.iloc[3:], field) == ""  # one count: nothing to scale against
