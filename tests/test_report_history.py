"""The report's history: run table, sparklines, version view and regressions on the index, from run files
written here with known values (expected numbers worked out by hand)."""

import json

import pytest

from report import history
from report.build import _copy_asv, build
from tests.test_results import _header, _result
from tfparity import results
from tfparity.regress import machine_of


def _record(run_id, case_id, outcome="pass", median=1e-3, max_norm=1e-7):
    record = _result(case_id)
    record.update(run_id=run_id, outcome=outcome, metrics={"max_norm": max_norm, "tol_used": 0.01},
                  timing={"median_s": median, "iqr_s": 0.0, "min_s": median, "rounds": 20, "unit": "s",
                          "samples": [median * (1 + i / 1000) for i in range(20)]})
    return record


def _write(directory, run_id, hour, tensorflow, records, host="a"):
    header = _header(run_id, started_utc=f"2026-01-01T{hour:02d}:00:00+00:00",
                     machine={"cpu": "x", "cores": 1, "memory_gb": 1.0, "gpu": None, "hostname": host},
                     versions={"python": "3.11", "numpy": "2", "tensorflow": tensorflow, "ai_edge_litert": "2.3.0"})
    (directory / f"run-{run_id}.jsonl").write_text("\n".join(json.dumps(line) for line in [header, *records]) + "\n")


@pytest.fixture
def history_dir(tmp_path):
    """Machine a: r1 (tf 2.20, both cases pass, 1 ms), r2 (tf 2.21, both 2 ms, op[b] fails), r3 (tf 2.21, op[b]
    passes again at 2 ms, op[a] at 8 ms). Machine b: one run."""
    _write(tmp_path, "r1", 1, "2.20.0", [_record("r1", "op[a]"), _record("r1", "op[b]")])
    _write(tmp_path, "r2", 2, "2.21.0",
           [_record("r2", "op[a]", median=2e-3), _record("r2", "op[b]", "fail", median=2e-3)])
    _write(tmp_path, "r3", 3, "2.21.0", [_record("r3", "op[a]", median=8e-3), _record("r3", "op[b]", median=2e-3)])
    _write(tmp_path, "s1", 4, "2.21.0", [_record("s1", "op[a]")], host="b")
    return tmp_path


def _frame(directory):
    frame = results.load(directory)
    return frame.assign(machine=machine_of(frame))


def test_run_table_counts_and_version_changes(history_dir):
    table = history.run_table(_frame(history_dir))
    assert table.run_id.tolist() == ["r1", "r2", "r3", "s1"]
    assert table.pass_rate.tolist() == [1.0, 0.5, 1.0, 1.0]
    assert table.version_change.tolist() == [False, True, False, False]  # s1 is the first run of machine b
    assert history.latest_per_machine(table).run_id.tolist() == ["s1", "r3"]


def test_sparkline_draws_the_pass_rate_of_each_run(history_dir):
    frame = _frame(history_dir)
    spark = history.sparklines(frame, history.run_table(frame), "a")[("op", "tf-cpu")]
    # x: 0, 30, 60 over three runs; y: 1 at 100 %, 13 at 0 % (height 14, 1 px margins), 7 at 50 %
    assert spark["points"] == "0.0,1.0 30.0,7.0 60.0,1.0" and spark["last"] == ["60.0", "1.0"]
    assert history.sparklines(frame, history.run_table(frame), "b") == {}  # one run: no history to draw


def test_version_view_relates_latency_to_the_first_versions(history_dir):
    frame = _frame(history_dir)
    (machine_a, _) = history.version_view(frame, history.run_table(frame))
    first, latest = machine_a["rows"]
    assert (first["run_id"], latest["run_id"]) == ("r1", "r3")  # the latest run of each version pair
    # op[a]: 8 ms / 1 ms, op[b]: 2 ms / 1 ms -> geometric mean sqrt(16) = 4
    assert first["cells"][0]["ratio"] == "1.00" and latest["cells"][0]["ratio"] == "4.00"
    assert latest["cells"][0]["passed"] == 2


def test_index_lists_regressions_since_the_previous_run(history_dir):
    index = (build(history_dir, history_dir / "report") / "index.html").read_text()
    assert "a: 1 regression from r2 to r3" in index  # op[a] 2 ms -> 8 ms; op[b] fail -> pass improved
    assert "b: " not in index.split("<h2>Regressions")[1].split("<h2>")[0]  # one run: nothing to compare
    drill = (history_dir / "report" / "data" / "op.js").read_text()
    data = json.loads(drill.removeprefix("window.TFPARITY = ").rstrip().removesuffix(";"))
    (case,) = [c for c in data["cases"] if c["id"] == "op[a]"]
    lane = case["lanes"]["tf-cpu"]
    assert [data["runs"][i]["run_id"] for i in lane["history"]["run"]] == ["r1", "r2", "r3", "s1"]
    assert lane["history"]["median"] == [1e-3, 2e-3, 8e-3, 1e-3]
    assert lane["repro"] == "python -m tfparity repro 'op[a]' tf-cpu --out repro --run s1"


def test_asv_pages_are_copied_in_only_when_published(tmp_path):
    conf = tmp_path / "asv.conf.json"
    conf.write_text('{"version": 1, // asv allows comments\n "html_dir": "published"}')
    assert not _copy_asv(tmp_path / "report", conf) and not (tmp_path / "report").exists()
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "index.html").write_text("<title>airspeed velocity</title>")
    assert _copy_asv(tmp_path / "report", conf)
    assert (tmp_path / "report" / "asv" / "index.html").read_text() == "<title>airspeed velocity</title>"
