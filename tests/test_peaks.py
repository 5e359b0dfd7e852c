"""The peaks ``pct_peak`` divides by, and the speed figures a timed record gets (tfparity.peaks, tfparity.probes)."""

import json
import subprocess
import sys

import pytest

from tfparity import machine, peaks, probes
from tfparity.lanes import LANES
from tfparity.results import read_run, run_files

INTEL_AVX512_VNNI = {"vendor_id": "GenuineIntel", "cpu family": "6", "flags": "fma avx2 avx512f avx512_vnni",
                     "mhz": [2000.0, 3000.0]}
ZEN3 = {"vendor_id": "AuthenticAMD", "cpu family": "25", "flags": "fma avx2", "mhz": [2445.4]}
ZEN4 = {**ZEN3, "flags": "fma avx2 avx512f avx512_vnni"}
SAPPHIRE_RAPIDS = {**INTEL_AVX512_VNNI, "flags": "fma avx2 avx512f avx512_vnni amx_tile amx_int8 amx_bf16"}


@pytest.mark.parametrize("info, float32, int8, vnni", [
    (INTEL_AVX512_VNNI, 64, 256, True),  # 2 pipes x 16 lanes x FMA; 2 pipes x 64 bytes x 2
    (SAPPHIRE_RAPIDS, 64, 2048, True),  # AMX: 1,024 int8 multiply-accumulates per cycle
    (ZEN3, 32, 128, False),
    (ZEN4, 32, 128, True),  # 512-bit operations run as two 256-bit halves
])
def test_ops_per_cycle_follow_the_cpu_features(monkeypatch, info, float32, int8, vnni):
    monkeypatch.setattr(machine, "cpuinfo", lambda: info)
    monkeypatch.setattr(peaks, "_max_freq_ghz", lambda: None)
    found = peaks.features()
    assert (found["vnni"], found["clock_ghz"]) == (vnni, max(info["mhz"]) / 1000)
    assert peaks.per_cycle(found) == {"float32": float32, "float64": float32 / 2, "int8": int8}


def test_the_peak_is_the_larger_of_theory_and_the_measured_gemm():
    theory = {"float32": {"theoretical": 100.0}, "int8": {"theoretical": 400.0}, "float64": {"theoretical": None}}
    found = peaks.combine(theory, {"float32": {"gops": 130.0, "lane": "tflite-xnnpack"}})
    assert (found["float32"]["peak"], found["float32"]["source"]) == (130.0, "gemm")
    assert (found["int8"]["peak"], found["int8"]["source"]) == (400.0, "theoretical")
    assert (found["float64"]["peak"], found["float64"]["source"]) == (None, None)


def _timed(flops, median):
    return {"flops": flops, "timing": {"median_s": median}}


def test_a_record_is_rated_against_its_lanes_dtype_and_floor():
    speed = {"peaks": {"float32": {"peak": 100.0}, "int8": {"peak": 400.0}, "float64": {"peak": 50.0}},
             "overhead_floor_s": {"tflite-int8": 1e-6, "tf-cpu": 5e-4}, "in_graph_floor_s": {"tf-cpu": 2e-5}}
    record = _timed(2e6, 1e-4)  # 20 G/s
    probes.rate(record, LANES["tflite-int8"], speed)
    assert (record["gflops"], record["pct_peak"], record["peak_dtype"]) == (pytest.approx(20), pytest.approx(5),
                                                                            "int8")
    assert record["overhead_bound"] is False
    tf_record = {**_timed(2e6, 8e-4), "kernel_timing": {"median_s": 1e-4}}
    probes.rate(tf_record, LANES["tf-cpu"], speed)
    assert tf_record["overhead_bound"] is True  # 0.8 ms against a 0.5 ms floor
    assert tf_record["kernel_timing"]["pct_peak"] == pytest.approx(20)  # 20 GFLOP/s in-graph of a float32 100
    assert tf_record["kernel_timing"]["overhead_bound"] is False  # 0.1 ms in-graph against a 20 µs scaffold
    gpu = _timed(2e6, 1e-4)
    probes.rate(gpu, LANES["litert-gpu"], speed)
    assert gpu["pct_peak"] is None and gpu["peak_dtype"] is None  # no GPU peak is known


@pytest.fixture(scope="module")
def layer_run(tmp_path_factory):
    """The quick layer-shaped conv cases, timed, on the lanes whose % of peak the issue names."""
    out = tmp_path_factory.mktemp("layers")
    subprocess.run([sys.executable, "-m", "tfparity", "run", "--suite", "ops", "--group", "layers",
                    "--ops", "conv2d,depthwise_conv2d", "--results-dir", str(out),
                    "--lanes", "tflite-xnnpack,tflite-builtin,tflite-int8,tf-cpu,tf-xla,numpy-ref"], check=True,
                   capture_output=True)
    return read_run(run_files(out)[0])


def test_no_layer_shaped_record_exceeds_its_peak(layer_run):
    header, records = layer_run
    rated = [(r["case_id"], r["lane"], figures["pct_peak"]) for r in records
             for figures in (r, r.get("kernel_timing") or {}) if figures.get("pct_peak") is not None]
    assert len({lane for _, lane, _ in rated}) == 6 and all(0 < pct for _, _, pct in rated)
    assert [entry for entry in rated if entry[2] > 100] == []
    assert set(header["overhead_floor_s"]) >= {"tf-cpu", "tflite-xnnpack"}
    # The check can fail: rated against a peak half the best record's rate, that record shows 200 %.
    best = max((r for r in records if r.get("gflops")), key=lambda r: r["gflops"])
    understated = {"peaks": {best["peak_dtype"]: {"peak": best["gflops"] / 2}}}
    again = json.loads(json.dumps(best))
    probes.rate(again, LANES[best["lane"]], understated)
    assert again["pct_peak"] == pytest.approx(200)
