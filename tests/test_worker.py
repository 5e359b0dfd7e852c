"""The out-of-process lane worker: its protocol, a crash and a hang of it, and the lanes on it (LiteRT's GPU
accelerator in both precisions, tflite-runtime in its own environment, a lane pinned to another LiteRT release)."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.crashing_lanes import drop_subgraphs
from tests.test_cli import tfparity
from tfparity import lanes
from tfparity.check import check
from tfparity.lanes import remote, worker
from tfparity.ops import REGISTRY

CASE_ID = "conv2d[in=1x9x9x4,k=3x3x4x8,s=1,pad=VALID,d=1]"


def _case(case_id=CASE_ID):
    return next(c for c in REGISTRY.select("quick", 0, ops=[case_id.split("[")[0]]) if c.id == case_id)


def _check(case, lane, benchmark):
    return check(case, lane, benchmark=benchmark, run_id="t", threads=1, speed={},
                 availability=lanes.LANES[lane].available())


def test_frames_carry_json_and_arrays_unchanged():
    stream = io.BytesIO()
    arrays = [np.arange(6, dtype=np.int8).reshape(2, 3), np.array([-0.0, np.nan, np.inf], np.float32)]
    worker.write_frame(stream, {"op": "run", "x": 1}, [worker.array_bytes(a) for a in arrays] + [b"model"])
    stream.seek(0)
    message, blobs = worker.read_frame(stream)
    assert message["op"] == "run" and message["x"] == 1 and blobs[-1] == b"model"
    for got, want in zip(map(worker.bytes_array, blobs[:2]), arrays):
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def test_the_worker_imports_neither_tensorflow_nor_tfparity():
    code = (f"import runpy, sys; sys.argv = [{str(remote.WORKER)!r}]; sys.stdin = open('/dev/null');"
            f"runpy.run_path({str(remote.WORKER)!r}, run_name='__main__');"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tfparity', 'reference')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    # the worker sends stdout to its log (stderr): the protocol stream stays clean
    assert done.returncode == 0 and done.stderr.strip().splitlines()[-1] == "[]", done.stderr[-2000:]


def test_worker_lane_equals_the_in_process_interpreter_bit_for_bit():
    case = _case()
    model = lanes.converted(case, "float")
    here = lanes.LANES["tflite-ref"].load(model, 1)
    there = lanes.WorkerLane("t-worker-ref", "float", "test", resolver="BUILTIN_REF").load(model, 1)
    for runnable in (here, there):
        runnable.set_inputs(case.arrays.inputs)
        runnable.invoke()
    assert there.output().tobytes() == here.output().tobytes()
    assert there.settings["delegate_partitions"] == 0 and there.tflite_ops == ["CONV_2D"]
    timing = there.timer(3, 0.01, 2)
    assert len(timing["samples"]) >= 3 and min(timing["samples"]) > 0 and timing["iterations"] >= 1


def test_a_worker_segfault_is_a_crash_and_the_next_case_runs():
    case = _case()
    lane = lanes.WorkerLane("t-worker-segv", "float", "test", resolver="BUILTIN_REF")
    with pytest.raises(lanes.WorkerCrashed, match="SIGSEGV"):
        lane.load(drop_subgraphs(lanes.converted(case, "float")), 1)  # LiteRT 2.3 segfaults on it
    runnable = lane.load(lanes.converted(case, "float"), 1)  # a fresh worker replaces the dead one
    runnable.set_inputs(case.arrays.inputs)
    runnable.invoke()
    assert runnable.output().shape == case.expected.shape


def test_a_worker_that_stops_answering_is_killed_and_reported():
    w = remote.Worker(sys.executable)
    w.request("load", [lanes.converted(_case(), "float")], runtime="interpreter", settings={})
    with pytest.raises(lanes.WorkerCrashed, match="did not answer 'time' within 1 s"):
        w.request("time", timeout=1, min_rounds=10**9, max_time=1e9, warmup_iterations=0)
    assert w.process.poll() is not None
    w.close()


def test_a_worker_keeps_the_models_its_client_holds_and_drops_the_rest():
    """Two models loaded in one worker each run by their id (an application switches between nets); once the client
    lets go of one, the next load drops it in the worker (its id is refused) and its memory is given back."""
    w = remote.Worker(sys.executable)
    try:
        small, other = _case(), _case("conv2d[in=1x16x16x32,k=1x1x32x64,s=1,pad=SAME,d=1]")
        first = remote.load(w, lanes.converted(small, "float"), "interpreter", {})
        second = remote.load(w, lanes.converted(other, "float"), "interpreter", {})
        assert (first.model, second.model) == (0, 1)
        first.run(small.arrays.inputs)
        np.testing.assert_allclose(first.results[0], small.expected, rtol=1e-5, atol=1e-5)
        second.run(other.arrays.inputs)
        assert second.results[0].shape == other.expected.shape
        big = _case("depthwise_conv2d[in=1x56x56x144,k=3x3x144x1,s=1,pad=SAME,d=1,network=mobilenet_v2]")
        held = remote.load(w, lanes.converted(big, "float"), "interpreter", {})
        held.run(big.arrays.inputs)
        baseline = w.request("memory")[0]["rss_mb"]
        for _ in range(20):  # each model dropped as the next loads: the worker holds one at a time (3.6 MiB of arena)
            held = remote.load(w, lanes.converted(big, "float"), "interpreter", {})
            held.run(big.arrays.inputs)
        grown = w.request("memory")[0]["rss_mb"] - baseline
        stale, first = first.model, None
        remote.load(w, lanes.converted(small, "float"), "interpreter", {})
        with pytest.raises(remote.WorkerRefused, match=f"no model {stale} loaded"):
            w.request("run", [worker.array_bytes(small.arrays.inputs[0])], model=stale)
        held.run(big.arrays.inputs)  # still referenced: still there
        second.run(other.arrays.inputs)
        assert grown < 36, f"the worker grew {grown:.0f} MiB over 20 loads of a model it should have dropped"
    finally:
        w.close()


def test_a_worker_refusal_names_the_stage():
    w = remote.Worker(sys.executable)
    with pytest.raises(remote.WorkerRefused) as refused:
        w.request("load", [b"not a model"], runtime="interpreter", settings={})
    assert refused.value.stage == "load" and w.process.poll() is None
    w.close()


@pytest.mark.parametrize("lane", ["litert-gpu", "litert-gpu-f32"])
def test_gpu_lanes_run_on_an_adapter(lane, benchmark):
    """``make test`` installs the software Vulkan driver where there is no GPU, so these lanes must run."""
    ok, why = lanes.LANES[lane].available()
    assert ok, why
    record = _check(_case(), lane, benchmark)
    assert record["outcome"] == "pass", record["reason"]
    assert record["settings"]["fully_accelerated"] and record["settings"]["adapter"]["backend"]
    assert record["timing"]["rounds"] >= 5 and record["tflite_ops"] == ["CONV_2D"]
    facts = lanes.LANES[lane].facts()
    assert facts["adapter"] == record["settings"]["adapter"] and facts["tensorflow_imported"] is False


def test_gpu_f32_is_float32_accurate_and_default_precision_is_float16(benchmark):
    f32, f16 = (_check(_case(), lane, benchmark)["metrics"]["max_norm"] for lane in ("litert-gpu-f32", "litert-gpu"))
    assert f32 < 2.0**-20 < 2.0**-14 < f16  # float16 arithmetic is visible, float32 is not


@pytest.mark.parametrize("lane", ["tflite-runtime", "tflite-xnnpack@ai-edge-litert==2.1.6"])
def test_lanes_in_their_own_environments(lane, benchmark):
    (name,) = lanes.parse_lanes(lane)
    ok, why = lanes.LANES[name].available()
    assert ok, why
    record = _check(_case(), name, benchmark)
    assert record["outcome"] == "pass", record["reason"]
    versions = lanes.LANES[name].facts()["versions"]
    assert versions.get("tflite_runtime") == "2.14.0" if lane == "tflite-runtime" else \
        versions.get("ai_edge_litert") == "2.1.6"
    assert lanes.LANES[name].capabilities.where == "environment"
    assert record["settings"]["worker"]["python"].startswith(str(remote.envs.root()))


@pytest.mark.parametrize("spec, message", [
    ("tf-cpu@ai-edge-litert==2.1.6", "only TFLite / LiteRT lanes"),
    ("tflite-xnnpack@numpy==2.0", "needs ai-edge-litert or tflite-runtime"),
    ("tflite-xnnpack@==", "not a pip requirement"),
])
def test_bad_pins_are_one_line_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        lanes.parse_lanes(spec)


def test_a_lane_and_its_pinned_twin_side_by_side_in_one_run_and_in_compare(tmp_path):
    twin = "tflite-xnnpack@ai-edge-litert==2.1.6"
    done = tfparity("run", "--ops", "conv2d", "--limit", "2", "--lanes", f"tflite-xnnpack,{twin}", "--threads", "1",
                    "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    (path,) = tmp_path.glob("run-*.jsonl")
    header, *records = (json.loads(line) for line in path.read_text().splitlines())
    assert {(r["lane"], r["outcome"]) for r in records} == {("tflite-xnnpack", "pass"), (twin, "pass")}
    assert header["lane_environments"][twin]["versions"]["ai_edge_litert"] == "2.1.6"
    compared = tfparity("compare", str(path), "--lanes", "tflite-xnnpack", twin)
    assert compared.returncode in (0, 1), compared.stderr
    assert f"tflite-xnnpack vs {twin}" in compared.stdout and "2 (case, lane) pairs in both runs" in compared.stdout
    for bad in (["compare", str(path)], ["compare", str(path), "--lanes", "tflite-xnnpack", "tflite-ref"]):
        refused = tfparity(*bad)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
