"""The command line as a user meets it: one-line errors with exit status 2, never a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tfparity(*args, cwd=ROOT, env=None):
    """``python -m tfparity ARGS`` in a subprocess (``env``: extra environment variables)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tfparity", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["run", "--lanes", "tf-cpu,warp-drive"], "unknown lane warp-drive"),
    (["run", "--profile", "huge"], "invalid choice: 'huge'"),
    (["run", "--ops", "conv3d"], "unknown op or model conv3d"),
    (["run", "--threads", "0"], "thread counts must be at least 1"),
    (["run", "--threads", "1,x"], "expected thread counts like 2 or 1,2"),
    (["run", "-k", "conv2d and ("], "bad -k expression"),
    (["list", "cases", "--ops", "nope"], "unknown op or model nope"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["run", "--group", "tiny"], "invalid choice: 'tiny'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = tfparity(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unwritable_results_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = tfparity("run", "--lanes", "numpy-ref", "-k", "relu", "--results-dir", str(blocker / "sub"))
    assert done.returncode == 2 and "not writable" in done.stderr and "Traceback" not in done.stderr


def test_report_on_empty_results_dir(tmp_path):
    done = tfparity("report", "--results-dir", str(tmp_path))
    assert done.returncode == 2 and "no results" in done.stderr


def test_list_lanes_names_every_lane_with_its_status():
    done = tfparity("list", "lanes")
    assert done.returncode == 0
    for lane in ("numpy-ref", "tf-cpu", "tf-xla", "tf-gpu", "tflite-xnnpack", "tflite-builtin", "tflite-ref",
                 "tflite-runtime", "litert-gpu"):
        assert lane in done.stdout
    from tfparity.lanes import LANES

    for lane in ("tf-gpu", "litert-gpu"):  # the listing says what the lane says of itself here
        line = next(line for line in done.stdout.splitlines() if line.startswith(lane + " "))
        ok, why = LANES[lane].available()
        assert ("available" in line) if ok else (f"skipped: {why}" in line), line


def test_list_cases_full_profile_counts_at_least_1000():
    done = tfparity("list", "cases", "--profile", "full")
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) >= 1000


def test_group_selects_the_real_network_layer_shapes_or_the_grid():
    from tfparity.ops import REGISTRY
    from tfparity.ops.layer_shapes import layer_shapes

    layers = tfparity("list", "cases", "--group", "layers", "--profile", "full").stdout.splitlines()
    assert len(layers) == sum(map(len, layer_shapes().values())) == 108
    assert all(",network=" in case for case in layers)
    grid = tfparity("list", "cases", "--group", "grid", "--ops", "conv2d", "-k", "pad=SAME").stdout.splitlines()
    quick = [c.id for c in REGISTRY.select("quick", 0, ops=["conv2d"])]
    assert grid == [c for c in quick if "pad=SAME" in c and "network=" not in c] and grid


def test_a_requested_lane_that_cannot_run_fails_the_run_and_the_baseline_checks_nothing(tmp_path):
    """A nightly GPU job whose GPU vanished must go red: numpy-ref is a speed baseline, never a check."""
    done = tfparity("run", "--lanes", "numpy-ref,tf-gpu", "--ops", "softmax", "--limit", "1", "--no-timing",
                    "--results-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout[-2000:]
    assert "REQUESTED LANE tf-gpu COULD NOT RUN" in done.stdout and "NOTHING CHECKED" in done.stdout
    (run,) = tmp_path.glob("run-*.jsonl")
    outcomes = {(r["lane"], r["outcome"]) for r in map(json.loads, run.read_text().splitlines()[1:])}
    assert outcomes == {("numpy-ref", "baseline"), ("tf-gpu", "skip")}
