"""`compare` and `repro` on a small real run (relu, one case, tf-cpu and tflite-xnnpack).

The compare gate is checked on the real run against itself (nothing may change) and against a copy in
which one record's outcome and error and another's timing samples were changed (each must be flagged,
exit 1). The A/A and --threads experiments on real runs are timing-dependent, so they are not tests:
see README "What changed". The repro script runs in a subprocess that cannot import tfparity.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import tfparity
from tfparity.cli import main

ROOT = Path(__file__).resolve().parents[1]
CASE = "relu[in=1x10,scale=2]"


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("results")
    done = tfparity("run", "--limit", "1", "--ops", "relu", "--lanes", "tf-cpu,tflite-xnnpack", "--threads", "1",
                    "--results-dir", str(results))
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = results.glob("run-*.jsonl")
    return path


def _changed_copy(path: Path) -> Path:
    """The run as a later run: tflite-xnnpack fails with a much larger error; tf-cpu's samples are 3x slower."""
    header, *records = (json.loads(line) for line in path.read_text().splitlines())
    header.update(run_id=header["run_id"] + "-b", started_utc=header["started_utc"].replace("+00:00", "+00:01"))
    for record in records:
        record["run_id"] = header["run_id"]
        if record["lane"] == "tflite-xnnpack":
            record.update(outcome="fail", reason="outside tolerance (edited)")
            record["metrics"].update(max_norm=0.5, tol_used=2.0)
        else:
            timing = record["timing"]
            timing.update({k: 3 * timing[k] for k in ("median_s", "iqr_s", "min_s")},
                          samples=[3 * s for s in timing["samples"]])
    copy = path.with_name(f"run-{header['run_id']}.jsonl")
    copy.write_text("".join(json.dumps(line) + "\n" for line in (header, *records)))
    return copy


def test_compare_a_run_with_itself_exits_0(run_file):
    done = tfparity("compare", str(run_file), str(run_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 regressions" in done.stdout and "REGRESSION" not in done.stdout


def test_compare_flags_outcome_accuracy_and_latency_and_exits_1(run_file):
    changed = _changed_copy(run_file)
    run_id = json.loads(changed.read_text().splitlines()[0])["run_id"]
    done = tfparity("compare", run_file.name.removeprefix("run-").removesuffix(".jsonl"), run_id,
                    "--results-dir", str(run_file.parent))
    assert done.returncode == 1, done.stdout + done.stderr
    flagged = {tuple(line.split()[:3]) for line in done.stdout.splitlines() if line.startswith("REGRESSION")}
    assert flagged == {("REGRESSION", "outcome", CASE), ("REGRESSION", "accuracy", CASE),
                       ("REGRESSION", "latency", CASE)}
    assert "pass → fail" in done.stdout and "3.00x" in done.stdout
    changed.unlink()


@pytest.mark.parametrize("args, message", [
    (["compare", "no-such-run", "other"], "no run 'no-such-run'"),
    (["compare", "a", "b", "--min-ratio", "0.5"], "expected a number above 1"),
    (["compare", "a", "b", "--alpha", "2"], "expected a probability"),
    (["repro", "relu[nope]", "tf-cpu", "--out", "x"], "no record of relu[nope] on tf-cpu"),
    (["repro", CASE, "numpy-ref", "--out", "x"], "not 'numpy-ref'"),
])
def test_bad_input_is_one_line_and_exit_2(run_file, tmp_path, capsys, args, message):
    assert main([*args[:-1], str(tmp_path / args[-1]) if args[-2] == "--out" else args[-1],
                 "--results-dir", str(run_file.parent)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _run_alone(directory: Path) -> subprocess.CompletedProcess:
    """The exported script with tfparity and its numpy references made unimportable."""
    blocker = ("import sys, runpy; sys.modules.update(tfparity=None, reference=None); sys.argv = ['repro.py', "
               "'--seconds', '0.05']; runpy.run_path('repro.py', run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-I", "-c", blocker], cwd=directory, capture_output=True, text=True,
                          env=env, timeout=300)


def _export(run_file: Path, lane: str, out: Path) -> Path:
    done = tfparity("repro", CASE, lane, "--out", str(out), "--results-dir", str(run_file.parent))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.mark.parametrize("lane", ["tflite-xnnpack", "tf-cpu"])
def test_repro_runs_alone_and_reproduces_the_record(run_file, tmp_path, lane):
    out = _export(run_file, lane, tmp_path / "repro")
    assert {p.name for p in out.iterdir()} >= {"repro.py", "repro.json", "inputs.npz", "expected.npz"}
    assert (out / ("model.tflite" if lane.startswith("tflite") else "saved_model")).exists()
    alone = _run_alone(out)
    assert alone.returncode == 0, alone.stdout + alone.stderr[-2000:]
    assert "REPRODUCED" in alone.stdout and "DIFFERENT" not in alone.stdout
    assert "max_norm" in alone.stdout and "latency median" in alone.stdout


def test_repro_says_when_the_record_does_not_reproduce(run_file, tmp_path):
    out = _export(run_file, "tflite-xnnpack", tmp_path / "repro")
    spec = json.loads((out / "repro.json").read_text())
    spec["recorded"]["metrics"]["max_norm"] = 0.25  # a record the model does not produce
    (out / "repro.json").write_text(json.dumps(spec))
    edited = _run_alone(out)
    assert edited.returncode == 1 and "NOT REPRODUCED" in edited.stdout and "DIFFERENT" in edited.stdout


def test_repro_judges_special_values_as_check_does(tmp_path):
    """A case with NaN and ±Inf planted: the standalone script compares the special values exactly and the rest by
    their error, so the passing record reproduces (NaN metrics would make every comparison DIFFERENT)."""
    case = "relu[in=2x7x7x16,scale=2,special=nan]"
    results = tmp_path / "results"
    done = tfparity("run", "--ops", "relu", "-k", "special=nan", "--lanes", "tflite-xnnpack", "--no-timing",
                    "--threads", "1", "--results-dir", str(results))
    assert done.returncode == 0, done.stdout[-2000:]
    out = tmp_path / "repro"
    exported = tfparity("repro", case, "tflite-xnnpack", "--out", str(out), "--results-dir", str(results))
    assert exported.returncode == 0, exported.stderr[-2000:]
    alone = _run_alone(out)
    assert alone.returncode == 0, alone.stdout + alone.stderr[-2000:]
    assert "special_mismatch" in alone.stdout and "DIFFERENT" not in alone.stdout
