"""Run files: appended lines survive, truncated tails are tolerated, foreign files are refused."""

import json

import pytest

from tfparity import results


def _header(run_id="r1", **extra):
    return {"type": "run", "schema_version": results.SCHEMA_VERSION, "run_id": run_id,
            "started_utc": "2026-01-01T00:00:00+00:00", "git_commit": None, "profile": "quick", "seed": 0,
            "threads": 1, "lanes": ["tf-cpu"], "machine": {"cpu": "x", "cores": 1, "memory_gb": 1.0, "gpu": None},
            "versions": {"python": "3.11", "numpy": "2"}, "peak_gflops": 1.0, **extra}


def _result(case_id="op[a]"):
    return {"type": "result", "run_id": "r1", "case_id": case_id, "op": "op", "params": {}, "seed": 1,
            "lane": "tf-cpu", "outcome": "pass", "reason": "", "tolerance": None, "metrics": {}, "timing": None,
            "flops": 0, "gflops": None, "pct_peak": None, "tflite_ops": None}


def test_writer_appends_lines_readable_while_open(tmp_path):
    writer = results.RunWriter(results.run_path(tmp_path, "r1"), _header())
    writer.write(_result("op[a]"))
    header, rows = results.read_run(writer.path)  # still open: what is written is already on disk
    assert header["run_id"] == "r1" and [r["case_id"] for r in rows] == ["op[a]"]
    writer.close()


def test_truncated_last_line_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "run-x.jsonl"
    path.write_text(json.dumps(_header()) + "\n" + json.dumps(_result()) + "\n" + json.dumps(_result())[:40])
    with pytest.warns(UserWarning, match="truncated"):
        _, rows = results.read_run(path)
    assert len(rows) == 1


def test_corrupt_middle_line_and_newer_schema_are_refused(tmp_path):
    bad = tmp_path / "run-bad.jsonl"
    bad.write_text(json.dumps(_header()) + "\n{oops\n" + json.dumps(_result()) + "\n")
    with pytest.raises(results.ResultsError, match="line 2 is not JSON"):
        results.read_run(bad)
    newer = tmp_path / "run-new.jsonl"
    newer.write_text(json.dumps(_header(schema_version=results.SCHEMA_VERSION + 1)) + "\n")
    with pytest.raises(results.ResultsError, match="newer"):
        results.read_run(newer)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(results.ResultsError, match="does not exist"):
        results.load(tmp_path / "nope")
