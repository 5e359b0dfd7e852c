"""The report in a real browser: Debian's headless Chromium driven by Playwright opens the report built from
two small real runs and checks that no page logs a console error, that every chart is drawn, and that clicking
each conformance-matrix cell opens that op and lane's drill-down with its charts. Saves screenshots."""

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from report.build import build
from tests.test_end_to_end import _run
from tests.test_report_safety import MARK, PAYLOADS, _hostile
from tests.test_results import _header
from tfparity import results

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # no network here: Chromium must not try to reach one

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: `make browser` installs it")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Two quick real runs (two cases each of conv2d and softmax on a float, a delegate and an int8 lane)."""
    out = tmp_path_factory.mktemp("browser")
    for _ in range(2):
        _run(out, "--ops", "conv2d,softmax", "--limit", "2", "--lanes", "tf-cpu,tflite-xnnpack,tflite-int8")
    return build(out, out / "report")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page that collects console errors and uncaught exceptions into ``page.problems``."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"exception: {e}"))
    page.on("request", lambda r: r.url.startswith(("file:", "data:", "blob:", "about:"))
            or page.problems.append(f"network request: {r.url}"))  # the report loads nothing from the network
    yield page
    page.close()


def _charts_drawn(page) -> int:
    """Wait until every chart div holds plotly's svg; the number of charts."""
    page.wait_for_function("[...document.querySelectorAll('div.chart')].every(d => d.querySelector('svg.main-svg'))",
                           timeout=20_000)
    return page.locator("div.chart").count()


def _worst_first(record):
    """The order in which a cell's drill-down picks its case: the worst outcome, then the largest error."""
    severity = ["crash", "error", "fail", "xfail", "unsupported", "pass", "baseline", "skip"].index(record["outcome"])
    return severity, -((record["metrics"] or {}).get("max_norm") or 0)


def test_every_page_draws_its_charts_without_console_errors(report, page):
    pages = sorted(report.glob("*.html")) + sorted(report.glob("ops/*.html")) + sorted(report.glob("drill/*.html"))
    assert {p.name for p in pages} >= {"index.html", "versions.html", "conv2d.html", "softmax.html"}
    drawn = {}
    for path in pages:
        page.goto(path.as_uri())
        drawn[str(path.relative_to(report))] = _charts_drawn(page)
    assert page.problems == []
    assert drawn["index.html"] == 1 and drawn["versions.html"] >= 1  # the pass-rate trend; one per machine
    assert all(drawn[f"ops/{op}.html"] == 1 for op in ("conv2d", "softmax"))
    assert all(drawn[f"drill/{op}.html"] >= 3 for op in ("conv2d", "softmax"))  # latency, error, timing
    page.goto((report / "ops" / "conv2d.html").as_uri())
    _charts_drawn(page)
    traces = page.evaluate("document.getElementById('scatter').data.map(t => t.name)")
    assert "Pareto front" in traces and {"tf-cpu", "tflite-xnnpack", "tflite-int8"} <= set(traces)


def test_clicking_a_matrix_cell_opens_its_drill_down(report, page, tmp_path):
    latest = [json.loads(line) for line in max(results.run_files(report.parent)).read_text().splitlines()[1:]]
    page.goto((report / "index.html").as_uri())
    cells = page.locator("table a.cell")
    assert page.locator("svg.spark").count() == cells.count() > 0  # two runs: every cell has a history
    page.screenshot(path=tmp_path / "index.png", full_page=True)
    for i in range(cells.count()):
        page.goto((report / "index.html").as_uri())
        cell = page.locator("table a.cell").nth(i)
        op = cell.get_attribute("href").split("/")[1].split(".")[0]
        cell.click()
        page.wait_for_selector("#case-title")
        _charts_drawn(page)
        lane = page.locator("#lane-tabs a.active").inner_text()
        title = page.locator("#case-title").inner_text()
        cell_records = [r for r in latest if r["op"] == op and r["lane"] == lane]
        record = next(r for r in cell_records if r["case_id"] == title)
        assert page.url.endswith(f"#lane={lane}") and record == min(cell_records, key=_worst_first)
        assert page.locator("pre.repro").inner_text().startswith("python -m tfparity repro ")
        assert page.locator("#lsb").count() == (lane == "tflite-int8" and record["outcome"] == "pass")
    assert page.problems == []
    page.screenshot(path=tmp_path / "drill.png", full_page=True)
    print(f"screenshots: {tmp_path / 'index.png'} {tmp_path / 'drill.png'}")


def test_markup_from_results_stays_text_on_the_drill_down(tmp_path, page):
    lines = [_header()] + [_hostile(i, p) for i, p in enumerate(PAYLOADS)]
    (tmp_path / "run-r1.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    report = build(tmp_path, tmp_path / "report")
    for payload in PAYLOADS:
        page.goto((report / "drill" / "op.html").as_uri() + "#lane=tf-cpu&case=" + quote(f"op[{payload}]"))
        page.wait_for_selector("#case-title")
        assert page.locator("#case-title").inner_text() == f"op[{payload}]"
        assert page.locator("pre.repro").inner_text().startswith("python -m tfparity repro 'op[")
        assert payload in page.locator("#detail").inner_text()  # reason, params and op list shown as typed
        assert page.evaluate(f"document.body.hasAttribute('{MARK}')") is False
    assert page.problems == []


def test_the_mtcnn_page_draws_the_pyramid_per_scale(tmp_path, page):
    """A real pyramid run: the MTCNN page shows each lane's latency per pyramid scale and how it resized."""
    _run(tmp_path, "--suite", "models", "--ops", "mtcnn_pyramid", "--lanes", "tflite-xnnpack,tflite-int8")
    report = build(tmp_path, tmp_path / "report")
    page.goto((report / "models" / "mtcnn.html").as_uri())
    assert _charts_drawn(page) == 2  # accuracy vs latency, latency per scale (no sizes: a pipeline has none)
    assert page.problems == []
    scales = page.locator("[id$='-scales'] .scatterlayer .trace")
    assert scales.count() == 2  # one line per lane
    assert page.get_by_text("resize_tensor_input").count() == 2
    page.screenshot(path=str(tmp_path / "mtcnn.png"), full_page=True)


def test_the_layer_shapes_chart_shows_percent_of_peak_and_the_lane_table_what_it_compares(tmp_path, page):
    """A real run of conv2d's quick layer shapes: its page draws them against % of peak (TF twice: per call and
    in-graph), the header holds each lane's overhead floor and the lane table says which figure a ratio compares."""
    _run(tmp_path, "--ops", "conv2d", "--group", "layers", "--lanes", "tf-cpu,tflite-xnnpack,tflite-int8")
    report = build(tmp_path, tmp_path / "report")
    page.goto((report / "ops" / "conv2d.html").as_uri())
    assert _charts_drawn(page) == 2  # the layer shapes, accuracy vs latency
    assert page.problems == []
    traces = page.evaluate("document.getElementById('layers-chart').data.map(t => t.name)")
    assert set(traces) == {"tf-cpu", "tf-cpu in-graph", "tflite-xnnpack", "tflite-int8"}
    axis = page.evaluate("document.getElementById('layers-chart').layout.xaxis.title.text")
    assert axis.startswith("% of the lane's peak at 2 threads")
    assert page.locator("#layers ~ div.scroll table tr").count() == 1 + 3  # one row per layer shape
    page.goto((report / "index.html").as_uri())
    header = page.locator("table").filter(has_text="overhead floor").first
    assert "per call" in header.inner_text() and "op time" in header.inner_text()
    floor = header.evaluate("t => [...t.rows].find(r => r.cells[0].innerText === 'tf-cpu').cells[11].innerText")
    assert floor.endswith((" µs", " ms"))  # tf-cpu's no-op call
    page.screenshot(path=str(tmp_path / "layers.png"), full_page=True)
