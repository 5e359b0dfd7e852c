"""The HTML report from run files: pictures of mismatches, escaping of strings from results,
and the previous report kept when a build fails."""

import json

import pytest

from report.build import build
from tests.test_check import _check, _nearest, _resize_spec
from tests.test_results import _header
from tfparity import results


@pytest.fixture
def run_dir(tmp_path, benchmark):
    record = _check(_resize_spec("wrong_resize", _nearest), "tf-cpu", benchmark, tmp_path)
    record["run_id"] = "r1"
    hostile = dict(record, case_id='resize[<script>alert("x")</script>]', outcome="error",
                   reason="<img src=x onerror=alert(1)>", picture=None)
    hostile.pop("picture")
    (tmp_path / "run-r1.jsonl").write_text("\n".join(json.dumps(line) for line in (_header(), record, hostile)))
    return tmp_path


def test_mismatch_pictures_are_shown_on_the_op_page(run_dir):
    page = (build(run_dir, run_dir / "report") / "ops" / "wrong_resize.html").read_text()
    assert "Mismatches, pictured" in page
    (picture,) = (run_dir / "report" / "pictures").glob("*.png")
    assert f'src="../pictures/{picture.name}"' in page


def test_strings_from_results_are_escaped(run_dir):
    out = build(run_dir, run_dir / "report")
    for page in [out / "index.html", out / "ops" / "wrong_resize.html"]:
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in (out / "ops" / "wrong_resize.html").read_text()


def test_a_failed_build_keeps_the_previous_report(run_dir):
    out = build(run_dir, run_dir / "report")
    before = (out / "index.html").read_text()
    (run_dir / "run-r2.jsonl").write_text("{not json\n" + json.dumps(_header("r2")) + "\n")
    with pytest.raises(results.ResultsError):
        build(run_dir, run_dir / "report")
    assert (out / "index.html").read_text() == before
