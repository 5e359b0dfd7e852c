"""The report under hostile or broken run files: markup in any string from a result renders inert (checked
in the page structure and in a real headless Chromium), and a build that fails mid-way leaves the previous
report intact and no half-written pages behind."""

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from report.build import build
from tests.test_results import _header, _result
from tfparity.cli import main

MARK = "data-pwned"
PAYLOADS = [f'<img src=x onerror="document.body.setAttribute(\'{MARK}\',1)">',
            f"</script><script>document.body.setAttribute('{MARK}',2)</script>",
            "{{ 7 * 7 }}"]  # not a template: must show as typed


def _hostile(i: int, payload: str) -> dict:
    record = _result(f"op[{payload}]")
    record.update(reason=payload, tflite_ops=[payload, "CONV_2D"], params={"p": payload}, group=payload,
                  outcome=["error", "fail", "unsupported"][i], picture=f"../../{payload}.png")
    record["metrics"] = {"max_norm": 0.5, "max_abs": 0.5}
    record["timing"] = {"median_s": 1e-3, "iqr_s": 1e-4, "min_s": 1e-3, "rounds": 5, "unit": "s"}
    return record


@pytest.fixture
def hostile_dir(tmp_path):
    lines = [_header()] + [_hostile(i, p) for i, p in enumerate(PAYLOADS)]
    (tmp_path / "run-r1.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    return tmp_path


class _Structure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.handlers, self.inline_scripts, self.images, self._in_script = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.images += [dict(attrs).get("src") for _ in [0] if tag == "img"]
        self._in_script = tag == "script" and not dict(attrs).get("src")
        if self._in_script:
            self.inline_scripts.append("")

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts[-1] += data

    def handle_endtag(self, tag):
        self._in_script = False


def test_markup_from_results_is_inert_in_the_page_structure(hostile_dir):
    out = build(hostile_dir, hostile_dir / "report")
    pages = [out / "index.html", out / "ops" / "op.html"]
    for page in pages:
        structure = _Structure()
        structure.feed(page.read_text())
        assert structure.handlers == [] and structure.images == []
        # the only inline scripts are our chart bootstraps; a payload's </script> did not end them
        assert all(s.strip().startswith("(function(){var f=") for s in structure.inline_scripts)
    op_page = (out / "ops" / "op.html").read_text()
    assert "{{ 7 * 7 }}" in op_page and "&lt;img src=x" in op_page


@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium on this machine (Debian package chromium)")
def test_markup_from_results_does_not_run_in_a_browser(hostile_dir):
    out = build(hostile_dir, hostile_dir / "report")
    for page in [out / "index.html", out / "ops" / "op.html"]:
        dom = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={hostile_dir / 'chromium'}", "--virtual-time-budget=3000", "--dump-dom",
             page.as_uri()], capture_output=True, text=True, timeout=120).stdout
        assert "</body>" in dom and (page.name == "index.html" or "op[" in dom)  # rendered, the case listed
        assert MARK + '="' not in dom  # no payload ran: nothing set the attribute


def test_a_build_failing_mid_way_keeps_the_previous_report(hostile_dir, capsys):
    out = build(hostile_dir, hostile_dir / "report")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = dict(_result("op[q]"), run_id="r2", lane="tflite-int8", metrics={"lsb_hist": "not a histogram"})
    (hostile_dir / "run-r2.jsonl").write_text("\n".join(map(json.dumps, [_header("r2", started_utc=
                                              "2026-02-01T00:00:00+00:00"), broken])) + "\n")
    assert main(["report", "--results-dir", str(hostile_dir), "--out", str(out)]) == 2
    assert "malformed field" in capsys.readouterr().err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in hostile_dir.iterdir() if p.is_dir()) == ["report"]  # no staging left over


def test_results_are_only_ever_parsed_as_json():
    """Static guard: the code that reads run files and renders reports has no unpickling or evaluation."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [root / "tfparity" / "results.py", *sorted((root / "report").glob("*.py"))]
    for source in sources:
        text = source.read_text()
        for danger in ("import pickle", "pickle.load", "marshal", "eval(", "exec(", "yaml.load", "allow_pickle=True"):
            assert danger not in text, f"{source.name} uses {danger}"
