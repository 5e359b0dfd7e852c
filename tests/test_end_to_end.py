"""A real run through the CLI on a quick slice (every op, every float lane), then its run file and report.

This is the quick slice of suites/test_ops.py that `make test` includes: two cases per op, all float lanes (the
model suites have their own tests, tests/test_models.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tfparity import results
from tfparity.lanes import FLOAT_LANES, LANES, QUANT_LANES
from tfparity.ops import REGISTRY

ROOT = Path(__file__).resolve().parents[1]


def _run(out, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TFPARITY_CACHE": str(out / "cache")}
    done = subprocess.run([sys.executable, "-m", "tfparity", "run", "--profile", "quick", "--suite", "ops",
                           "--results-dir", str(out), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("results"), "--limit", "2", "--lanes", "float")


@pytest.fixture(scope="module")
def quant_dir(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("quant"), "--limit", "2", "--lanes", "quant")


def test_quantized_lanes_are_judged_in_lsbs(quant_dir):
    records = _lines(quant_dir)[1:]
    assert {r["lane"] for r in records} == set(QUANT_LANES)
    validator = jsonschema.Draft202012Validator(results.schema())
    for r in records:
        validator.validate(r)
        if LANES[r["lane"]].models_only:  # the legacy uint8 lanes: skipped on op cases, saying why
            assert r["outcome"] == "skip" and r["reason"] == LANES[r["lane"]].models_only
            continue
        assert r["outcome"] in ("pass", "xfail", "unsupported"), (r["case_id"], r["lane"], r["reason"])
        assert r["outcome"] != "unsupported" or r["reason"].startswith("converter: "), r["reason"]  # documented
        if r["lane"].startswith("tflite-int8") and r["outcome"] == "pass":
            if r["lane"] == "tflite-int8-ref":
                assert r["metrics"]["max_lsb_vs_exact"] == 0
            assert r["metrics"]["rmse_over_scale"] >= 0 and "snr_db" in r["metrics"]
            assert r["settings"]["calibration_samples"] > 0


def _lines(run_dir):
    (path,) = results.run_files(run_dir)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_line_validates_against_the_schema(run_dir):
    validator = jsonschema.Draft202012Validator(results.schema())
    for line in _lines(run_dir):
        validator.validate(line)


def test_every_op_ran_on_every_float_lane_without_error(run_dir):
    records = _lines(run_dir)[1:]
    assert {r["op"] for r in records} == set(REGISTRY.specs)
    assert {r["lane"] for r in records} == set(FLOAT_LANES)
    assert len(records) == 2 * len(REGISTRY.specs) * len(FLOAT_LANES)
    errors = [(r["case_id"], r["lane"], r["reason"]) for r in records if r["outcome"] in ("error", "crash", "fail")]
    assert not errors
    available = {lane for lane in FLOAT_LANES if LANES[lane].available()[0] and LANES[lane].kind != "reference"}
    checked = {r["lane"] for r in records if r["outcome"] in ("pass", "xfail")}
    assert available and checked == available  # every lane that can run here checked something


def test_checked_records_carry_metrics_and_timing(run_dir):
    checked = [r for r in _lines(run_dir)[1:] if r["outcome"] in ("pass", "fail", "xfail")]
    assert checked
    for r in checked:
        assert {"max_abs", "max_rel", "rmse", "cosine", "max_norm"} <= set(r["metrics"])
        assert r["timing"]["rounds"] >= 7 and r["timing"]["median_s"] > 0
        dtype = LANES[r["lane"]].compute_dtype  # no GPU peak is known: a GPU lane's pct_peak is null
        assert r["gflops"] > 0 and r["peak_dtype"] == dtype and (r["pct_peak"] > 0 if dtype else r["pct_peak"] is None)
        assert isinstance(r["overhead_bound"], bool)
        if r["lane"].startswith("tf-"):  # the op's in-graph time next to the call's
            assert 0 <= r["kernel_timing"]["median_s"] and r["kernel_timing"]["loop_iterations"] >= 2
        if r["lane"].startswith("tflite"):
            assert r["tflite_ops"]


def test_unavailable_lanes_skip_with_a_reason(run_dir):
    header = _lines(run_dir)[0]
    for r in _lines(run_dir)[1:]:
        if r["outcome"] == "skip":
            assert r["reason"] and header["lane_status"][r["lane"]] == r["reason"]


def test_loader_returns_every_record(run_dir):
    frame = results.load(run_dir)
    assert len(frame) == len(_lines(run_dir)) - 1
    assert {"case_id", "lane", "outcome", "metrics.max_norm", "timing.median_s", "machine.cpu",
            "versions.tensorflow"} <= set(frame.columns)


def test_report_builds_with_a_page_per_op(run_dir, tmp_path):
    from report.build import build

    out = build(run_dir, tmp_path / "report")
    index = (out / "index.html").read_text()
    assert "Conformance matrix" in index and "tflite-xnnpack" in index
    for op in REGISTRY.specs:
        assert (out / "ops" / f"{op}.html").exists()
    assert (out / "static" / "plotly.min.js").stat().st_size > 1_000_000
    assert not (out / "asv").exists()  # built from the test's own runs only, never the checkout's .asv/


def test_quantization_page_lists_every_integer_lane(quant_dir, tmp_path):
    from report.build import build

    page = (build(quant_dir, tmp_path / "report") / "quantization.html").read_text()
    for lane in ("tflite-int8", "tflite-int8-builtin", "tflite-int8-ref"):
        assert f"<td class=\"l\">{lane}</td>" in page
    assert "Plotly.newPlot('lsbhist'" in page
