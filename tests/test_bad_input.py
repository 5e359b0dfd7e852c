"""The bad-input table: each malformed input tried, and what it gets. Every row is one line on stderr and
exit status 2 (or, where noted, a run that goes on), never a traceback; no run file is written or damaged.

Rows call ``tfparity.cli.main`` in-process (an exception escaping it would fail the test, as a traceback);
``tests/test_cli.py`` checks the same contract through a real subprocess.
"""

import json

import pytest

from tests.test_results import _header, _result
from tfparity import results
from tfparity.cli import main

HEADER, RESULT = json.dumps(_header()), json.dumps(_result())

# (what, argv with {tmp} for a scratch directory, exit status, message fragment)
RUN_TABLE = [
    ("unknown lane", ["run", "--lanes", "tf-cpu,warp-drive"], 2, "unknown lane warp-drive"),
    ("unknown lane group", ["run", "--lanes", "everything"], 2, "unknown lane everything"),
    ("unknown op", ["run", "--ops", "conv3d"], 2, "unknown op"),
    ("unknown profile", ["run", "--profile", "huge"], 2, "invalid choice: 'huge'"),
    ("unknown suite", ["run", "--suite", "nope"], 2, "invalid choice: 'nope'"),
    ("bad -k: open parenthesis", ["run", "-k", "conv2d and ("], 2, "bad -k expression"),
    ("bad -k: bare operators", ["run", "-k", "and or"], 2, "bad -k expression"),
    ("nonexistent model file", ["run", "--model", "{tmp}/nope.tflite"], 2, "nope.tflite"),
    ("corrupt model file", ["run", "--model", "{tmp}/garbage.tflite"], 2, "garbage.tflite"),
    ("--inputs without --model", ["run", "--inputs", "{tmp}/x.npz"], 2, "--inputs needs --model"),
    ("zero --limit", ["run", "--limit", "0"], 2, "expected a positive integer, got 0"),
    ("negative --threads", ["run", "--threads", "-4"], 2, "thread counts must be at least 1, got '-4'"),
    ("zero --jobs", ["run", "--jobs", "0"], 2, "expected a positive integer, got 0"),
    ("negative --timeout", ["run", "--timeout", "-1"], 2, "expected seconds between 0 and 1e6"),
    ("absurd --timeout", ["run", "--timeout", "1e400"], 2, "expected seconds between 0 and 1e6"),
    ("non-numeric --seed", ["run", "--seed", "1.5"], 2, "invalid int value"),
    ("--shard out of range", ["run", "--shard", "3/2"], 2, "bad --shard '3/2'"),
    ("--shard of zero parts", ["run", "--shard", "1/0"], 2, "bad --shard '1/0'"),
    ("--run-id with a path", ["run", "--run-id", "../../etc"], 2, "letters, digits"),
    ("--run-id of an existing run", ["run", "--run-id", "x", "--results-dir", "{tmp}"], 2, "exists already"),
    ("results dir is a file", ["run", "--lanes", "numpy-ref", "--results-dir", "{tmp}/file/sub"], 2, "not writable"),
    ("unknown op in list", ["list", "cases", "--ops", "nope"], 2, "unknown op"),
    ("unknown command", ["frobnicate"], 2, "invalid choice: 'frobnicate'"),
]

# (what, run file lines (None: no file at all), exit status of `report`, message fragment)
DEEP = "[" * 100_000 + "]" * 100_000
RESULTS_TABLE = [
    ("empty results directory", None, 2, "no results"),
    ("non-JSON line mid-file", [HEADER, "{oops", RESULT], 2, "line 2 is not JSON"),
    ("binary garbage file", ["\x00\xff\x13garbage"], 2, "first line is not a run header"),
    ("deeply nested JSON line", [HEADER, DEEP, RESULT], 2, "line 2 is not JSON"),
    ("no header line", [RESULT], 2, "first line is not a run header"),
    ("newer schema version", [json.dumps(_header(schema_version=results.SCHEMA_VERSION + 1)), RESULT], 2, "newer"),
    ("header with a wrong type", [json.dumps(_header(threads="two")), RESULT], 2, "bad run header"),
    ("result with an unknown outcome", [HEADER, json.dumps(dict(_result(), outcome="maybe"))], 2, "outcome"),
    ("result without a case id", [HEADER, json.dumps({**_result(), "case_id": None})], 2, "case_id"),
    ("truncated last line (killed run)", [HEADER, RESULT, RESULT[:40]], 0, ""),
]


def _one_line_exit(capsys, argv, status, message):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == status, err
    assert message in err and "Traceback" not in err
    assert len(err.splitlines()) == 1, err


@pytest.mark.parametrize("argv, status, message", [pytest.param(*row[1:], id=row[0]) for row in RUN_TABLE])
def test_run_and_list_arguments(tmp_path, capsys, argv, status, message):
    (tmp_path / "garbage.tflite").write_bytes(b"TFL3 this is not a flatbuffer" * 10)
    (tmp_path / "file").write_text("a file, not a directory")
    (tmp_path / "run-x.jsonl").write_text("an earlier run")
    _one_line_exit(capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv], status, message)
    assert [p.name for p in tmp_path.rglob("run-*.jsonl")] == ["run-x.jsonl"]
    assert (tmp_path / "run-x.jsonl").read_text() == "an earlier run"


@pytest.mark.parametrize("lines, status, message", [pytest.param(*row[1:], id=row[0]) for row in RESULTS_TABLE])
def test_results_files(tmp_path, capsys, lines, status, message):
    if lines is not None:
        (tmp_path / "run-x.jsonl").write_text("\n".join(lines))
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    argv = ["report", "--results-dir", str(tmp_path), "--out", str(tmp_path / "report")]
    if status == 0:
        with pytest.warns(UserWarning, match="truncated last line"):
            assert main(argv) == 0
        assert (tmp_path / "report" / "index.html").exists()
    else:
        _one_line_exit(capsys, argv, status, message)
        assert not (tmp_path / "report").exists()
    assert {p: p.read_bytes() for p in before} == before  # the run files are read, never rewritten


def test_nonexistent_results_directory(tmp_path, capsys):
    _one_line_exit(capsys, ["report", "--results-dir", str(tmp_path / "nope")], 2, "does not exist")


def test_a_model_with_a_zero_size_input_is_a_recorded_outcome(tmp_path):
    """Absurd sizes inside a run: each lane records an outcome (with a one-line reason); the run goes on."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tensorflow as tf

    fn = tf.function(tf.nn.relu, input_signature=[tf.TensorSpec([1, 0, 8, 3], tf.float32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn).convert()
    (tmp_path / "zero.tflite").write_bytes(model)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "tfparity", "run", "--model", str(tmp_path / "zero.tflite"),
                           "--lanes", "tflite-ref,tflite-xnnpack", "--no-timing", "--results-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                          timeout=600)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    (path,) = results.run_files(tmp_path / "r")
    records = results.read_run(path)[1]
    assert sorted(r["lane"] for r in records) == ["tflite-ref", "tflite-xnnpack"]
    assert all(r["outcome"] == "error" and "\n" not in r["reason"] and "shape" in r["reason"] for r in records)
