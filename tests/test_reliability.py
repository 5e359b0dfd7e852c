"""Reliability through the real CLI: a crash, abort, hang or corrupt model costs one case; kill -9 keeps every
completed record; concurrent runs into one directory; parallel (conformance-only) runs; shards."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from report.build import build
from tfparity import results
from tfparity.sharding import in_shard, parse_shard

ROOT = Path(__file__).resolve().parents[1]
CRASH_LANES = "test-abort,test-no-subgraphs-tflite,test-hang,test-corrupt-tflite,numpy-ref"


def _cli(out: Path, *args, plugin: bool = False, **popen) -> subprocess.Popen:
    """``python -m tfparity run`` (with the test-only crashing lanes registered if ``plugin``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TFPARITY_CACHE": str(out.parent / "cache")}
    code = "import sys; from tfparity.cli import main; sys.exit(main(sys.argv[1:]))"
    if plugin:
        env["PYTEST_PLUGINS"] = "tests.crashing_lanes"
        code = "import tests.crashing_lanes; " + code
    return subprocess.Popen([sys.executable, "-c", code, "run", "--results-dir", str(out), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finish(process: subprocess.Popen) -> str:
    output = process.communicate(timeout=600)[0]
    assert process.returncode in (0, 1), output[-4000:]
    return output


def _records(out: Path) -> tuple[dict, list[dict]]:
    (path,) = results.run_files(out)
    return results.read_run(path)


def test_a_model_that_aborts_an_in_process_lane_gets_its_culprit(tmp_path):
    """``tflite-ref`` runs in the pytest worker, which a LiteRT abort kills; the controller still names the op that
    crashes the lane, bisecting in a worker of its own (the collapsed classifier's SOFTMAX on BUILTIN_REF)."""
    from tests.test_cpu_findings import collapsed_classifier

    path = tmp_path / "collapsed.tflite"
    path.write_bytes(collapsed_classifier()[0])
    out = tmp_path / "r"
    output = _finish(_cli(out, "--model", str(path), "--lanes", "tflite-ref,tflite-builtin", "--no-timing"))
    by_lane = {r["lane"]: r for r in _records(out)[1]}
    crash = by_lane["tflite-ref"]
    assert crash["outcome"] == "crash" and "SIGABRT" in crash["reason"], output[-3000:]
    culprit = crash["culprit"]
    assert culprit["found"] and culprit["op"] == "SOFTMAX" and culprit["how"] == "crash"
    assert by_lane["tflite-builtin"]["outcome"] != "crash"
    page = (build(out, out / "report") / "models" / f"{crash['model']['page']}.html").read_text()
    assert f"culprit #{culprit['index']} SOFTMAX (crash, alone too; {culprit['runs']} runs)" in page


def test_segfault_abort_hang_and_corrupt_models_each_cost_one_case(tmp_path):
    out = tmp_path / "crash"
    output = _finish(_cli(out, "--ops", "relu", "--limit", "1", "--lanes", CRASH_LANES, "--timeout", "3",
                          "--no-timing", plugin=True))
    header, records = _records(out)
    by_lane = {r["lane"]: r for r in records}
    assert sorted(by_lane) == sorted(CRASH_LANES.split(",")) and len(records) == 5, output[-3000:]
    assert by_lane["test-abort"]["outcome"] == "crash" and "SIGABRT" in by_lane["test-abort"]["reason"]
    segfault = by_lane["test-no-subgraphs-tflite"]  # a real LiteRT segfault (finding: it does not raise)
    assert segfault["outcome"] == "crash" and "SIGSEGV" in segfault["reason"]
    assert by_lane["test-hang"]["outcome"] == "crash"
    assert "time limit of 3 s" in by_lane["test-hang"]["reason"] and header["case_timeout_s"] == 3
    corrupt = by_lane["test-corrupt-tflite"]  # the real LiteRT interpreter fails on the model, in the worker
    assert corrupt["outcome"] == "error" and "not a valid Flatbuffer" in corrupt["reason"]  # a failure, no refusal
    assert by_lane["numpy-ref"]["outcome"] == "baseline"  # the run went on after three dead workers
    for r in records:
        assert r["case_id"] == "relu[in=1x10,scale=2]" and r["op"] == "relu" and r["params"]


def test_kill_9_keeps_every_completed_record(tmp_path):
    out = tmp_path / "killed"
    run = _cli(out, "--ops", "relu,relu6,sigmoid,tanh,softmax", "--lanes", "numpy-ref", start_new_session=True)
    deadline = time.monotonic() + 300
    lines = []
    while len(lines) < 4 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
        files = list(out.glob("run-*.jsonl"))
        lines = files[0].read_text().splitlines() if files else []
    assert len(lines) >= 4, run.communicate()[0][-3000:]
    os.killpg(run.pid, signal.SIGKILL)  # the CLI, its pytest controller and the worker
    run.communicate()
    header, records = _records(out)
    assert len(records) >= 3 and all(r["outcome"] == "baseline" and r["timing"] for r in records)
    assert len({(r["case_id"], r["lane"]) for r in records}) == len(records)


def test_a_serial_timed_and_a_parallel_run_into_one_directory_at_once(tmp_path):
    out = tmp_path / "shared"
    args = ("--ops", "relu,softmax,max_pool2d", "--limit", "2", "--lanes", "numpy-ref,tflite-ref")
    for run in [_cli(out, *args), _cli(out, *args, "--jobs", "2")]:  # both convert into one cache, too
        _finish(run)
    runs = {}
    for path in results.run_files(out):  # every line of both files parses: nothing lost or mixed
        header, records = results.read_run(path)
        assert {r["run_id"] for r in records} == {header["run_id"]} and len(records) == 12
        runs[header["parallel"]] = header, records
    (s_header, s_records), (p_header, p_records) = runs[False], runs[2]
    assert (s_header["timing"], s_header["isolated"], p_header["timing"]) == (True, True, False)
    assert all(r["timing"]["median_s"] > 0 and r["timing"]["rounds"] >= 7 for r in s_records)  # timed in its worker
    assert all(r["timing"] is None and r["gflops"] is None for r in p_records)
    outcomes = [{(r["case_id"], r["lane"]): r["outcome"] for r in rs} for rs in (s_records, p_records)]
    assert outcomes[0] == outcomes[1]
    by_lane = {lane: outcome for (_, lane), outcome in outcomes[0].items()}
    assert by_lane == {"numpy-ref": "baseline", "tflite-ref": "pass"}


def test_shards_split_the_cases_deterministically_and_completely():
    from tfparity.ops import REGISTRY

    ids = [c.id for c in REGISTRY.select("full", 0)]
    for count in (1, 3, 7):
        parts = [{i for i in ids if in_shard(i, (index, count))} for index in range(1, count + 1)]
        assert sum(map(len, parts)) == len(ids) and set().union(*parts) == set(ids)
        assert min(map(len, parts)) > 0.5 * len(ids) / count  # roughly balanced
    # the same split in another interpreter with another hash seed (not Python's salted hash())
    code = ("from tfparity.sharding import in_shard; from tfparity.ops import REGISTRY; "
            "print(sum(in_shard(c.id, (2, 7)) for c in REGISTRY.select('full', 0)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(ROOT)})
    assert int(other.stdout) == sum(in_shard(i, (2, 7)) for i in ids)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "2", "-1/2"])
def test_bad_shard_is_refused(text):
    with pytest.raises(ValueError, match="bad --shard"):
        parse_shard(text)


def test_the_report_merges_the_shards_of_a_run(tmp_path):
    from report.build import build
    from tests.test_results import _header, _result

    for index, case in ((1, "op[a]"), (2, "op[b]")):
        lines = [_header("nightly", shard=f"{index}/2"), dict(_result(case), run_id="nightly")]
        results.run_path(tmp_path, "nightly", f"{index}/2").write_text("\n".join(map(json.dumps, lines)) + "\n")
    index_html = (build(tmp_path, tmp_path / "report") / "index.html").read_text()
    assert "2/2" in index_html  # the conformance cell of op on tf-cpu counts both shards' records
    assert len(results.load(tmp_path)) == 2
