"""results.load through its per-run-file Arrow cache: the same frame as flattening the JSON lines with
pandas.json_normalize, whatever the records hold, and a cache that never serves a stale or partial file."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from tfparity import results

HEADER = {"type": "run", "schema_version": 1, "run_id": "r1", "started_utc": "2026-01-01T00:00:00+00:00",
          "git_commit": None, "profile": "quick", "seed": 0, "threads": 2, "lanes": ["tf-cpu"],
          "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 1.0, "gpu": None, "hostname": "box"},
          "versions": {"python": "3.11", "numpy": "2"}, "peak_gflops": 10.0}


def _result(i: int, **extra) -> dict:
    return {"type": "result", "run_id": "r1", "case_id": f"c{i}", "op": "conv2d", "params": {"strides": 1},
            "seed": i, "lane": "tf-cpu", "outcome": "pass", "reason": "", "tolerance": {"atol": 0, "rtol": 1e-5},
            "metrics": {"max_abs": 0.5 * i}, "timing": {"median_s": 1e-3, "samples": [1e-3, 2e-3]},
            "flops": 10, "gflops": None, "pct_peak": None, "tflite_ops": None, **extra}


RECORDS = [
    _result(0),
    _result(1, params={"strides": [1, 2], "padding": [[0, 0], [1, 1], [2, 2], [0, 0]]}, tflite_ops=["CONV_2D"]),
    _result(2, metrics={"max_abs": math.inf, "cosine": math.nan, "lsb_hist": {"-1": 3, "0": 90}}),
    _result(3, outcome="unsupported", timing=None, settings={}, flops=2**40, model={"name": "m", "task": {"a": 1}}),
]


def _write(path, lines, tail=""):
    path.write_text("".join(json.dumps(line, allow_nan=True) + "\n" for line in lines) + tail)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPARITY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "history"


def test_cached_load_equals_json_normalize(tmp_path):
    _write(tmp_path / "run-r1.jsonl", [HEADER, *RECORDS])
    expected = pd.json_normalize([{**r, "run_file": "run-r1.jsonl", "started_utc": pd.Timestamp(HEADER["started_utc"]),
                                   "machine.hostname": "box"} for r in RECORDS], max_level=1)
    for _ in range(2):  # parsed and cached, then read from the cache
        frame = results.load(tmp_path)
        for column in expected:
            assert [_plain(v) for v in frame[column]] == [_plain(v) for v in expected[column]], column
    assert isinstance(frame["timing.samples"].iloc[0], np.ndarray)
    assert frame["params.strides"].tolist() == [1, [1, 2], 1, 1] and frame["flops"].iloc[3] == 2**40
    assert results.headers(tmp_path) == [HEADER]


def test_a_changed_run_file_is_read_again(tmp_path, cache):
    path = tmp_path / "run-r1.jsonl"
    _write(path, [HEADER, *RECORDS[:2]])
    assert len(results.load(tmp_path)) == 2 and len(list(cache.iterdir())) == 1
    _write(path, [HEADER, *RECORDS])
    assert len(results.load(tmp_path)) == 4
    results.clear_cache(tmp_path)
    assert not list(cache.iterdir())


def test_a_truncated_run_file_warns_on_every_load_and_is_not_cached(tmp_path, cache):
    _write(tmp_path / "run-r1.jsonl", [HEADER, *RECORDS[:2]], tail='{"type": "result", "run_')
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert len(results.load(tmp_path)) == 2
        assert any("truncated last line" in str(w.message) for w in caught)
    assert not cache.exists() or not list(cache.iterdir())


def test_a_corrupt_or_newer_run_file_is_refused(tmp_path):
    _write(tmp_path / "run-r1.jsonl", [HEADER, RECORDS[0]], tail="not json\n" + json.dumps(RECORDS[1]) + "\n")
    with pytest.raises(results.ResultsError, match="line 3 is not JSON"):
        results.load(tmp_path)
    _write(tmp_path / "run-r1.jsonl", [{**HEADER, "schema_version": 99}, RECORDS[0]])
    with pytest.raises(results.ResultsError, match="newer"):
        results.load(tmp_path)


def test_several_run_files_load_in_order_whatever_their_shapes(tmp_path):
    """Run files of different columns are parsed in worker processes and give the frames of each, in order."""
    runs = {"r1": RECORDS, "r2": RECORDS[:2], "r3": [], "r4": RECORDS[3:], "r5": RECORDS[:2]}
    for run_id, records in runs.items():
        _write(tmp_path / f"run-{run_id}.jsonl", [{**HEADER, "run_id": run_id}, *records])
    for _ in range(2):  # parsed and cached, then read from the cache
        frame = results.load(tmp_path)
        one_by_one = pd.concat([results.load_files([path]) for path in results.run_files(tmp_path)],
                               ignore_index=True)
        assert frame["run_file"].tolist() == [f"run-{r}.jsonl" for r, records in runs.items() for _ in records]
        assert list(frame.columns) == list(one_by_one.columns) and (frame.dtypes == one_by_one.dtypes).all()
        for column in frame:
            assert [_plain(v) for v in frame[column]] == [_plain(v) for v in one_by_one[column]], column


def test_among_several_run_files_a_corrupt_one_is_named_and_a_truncated_one_warns(tmp_path):
    _write(tmp_path / "run-r1.jsonl", [HEADER, *RECORDS])
    _write(tmp_path / "run-r2.jsonl", [HEADER, *RECORDS[:2]], tail='{"type": "result", "run_')
    with pytest.warns(UserWarning, match="run-r2.jsonl: dropped a truncated last line"):
        assert len(results.load(tmp_path)) == 6
    _write(tmp_path / "run-r3.jsonl", [HEADER, RECORDS[0]], tail="not json\n" + json.dumps(RECORDS[1]) + "\n")
    with pytest.raises(results.ResultsError, match="run-r3.jsonl: line 3 is not JSON"):
        results.load(tmp_path)


def test_find_run_by_id_gathers_its_shards_and_by_path_the_file(tmp_path):
    for name in ("run-r1.shard-1-of-2.jsonl", "run-r1.shard-2-of-2.jsonl", "run-r10.jsonl"):
        _write(tmp_path / name, [HEADER])
    assert [p.name for p in results.find_run("r1", tmp_path)] == ["run-r1.shard-1-of-2.jsonl",
                                                                  "run-r1.shard-2-of-2.jsonl"]
    assert results.find_run(str(tmp_path / "run-r10.jsonl"), "elsewhere") == [tmp_path / "run-r10.jsonl"]
    with pytest.raises(results.ResultsError, match="no run 'r2'"):
        results.find_run("r2", tmp_path)
