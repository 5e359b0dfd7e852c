"""A GPU lane on a software adapter (llvmpipe): every latency of it in the report says it is not GPU speed."""

import json

import pandas as pd
import pytest

from report.build import _env, _write, build
from report.format import SOFTWARE_GPU
from report.models import render
from tests.test_report_history import _record
from tests.test_results import _header

ADAPTER = {"name": "llvmpipe (LLVM 15.0.6, 256 bits)", "type": "CPU / Software", "driver": "mesa",
           "backend": "Vulkan", "arch": "software"}


def _report(directory, software):
    """One run of op[a] and op[b] on tf-cpu and litert-gpu, whose adapter is ``software`` or not."""
    records = [dict(_record("r1", case), lane=lane) for case in ("op[a]", "op[b]") for lane in ("tf-cpu", "litert-gpu")]
    header = _header("r1", lanes=["tf-cpu", "litert-gpu"],
                     lane_environments={"litert-gpu": {"adapter": dict(ADAPTER, software=software)}})
    (directory / "run-r1.jsonl").write_text("\n".join(json.dumps(line) for line in [header, *records]) + "\n")
    out = build(directory, directory / "report")
    drill = (out / "data" / "op.js").read_text().removeprefix("window.TFPARITY = ").rstrip().removesuffix(";")
    lanes = (out / "index.html").read_text().split("<h2>Lanes</h2>")[1].split("<h2>")[0]
    row = {lane: next(r for r in lanes.split("<tr>") if f">{lane}</td>" in r) for lane in ("tf-cpu", "litert-gpu")}
    return row, (out / "ops" / "op.html").read_text(), json.loads(drill), (out / "versions.html").read_text()


def test_a_software_gpu_lane_is_marked_wherever_its_latency_shows(tmp_path):
    row, op, drill, versions = _report(tmp_path, software=True)
    assert SOFTWARE_GPU in row["litert-gpu"] and SOFTWARE_GPU not in row["tf-cpu"]
    assert "llvmpipe (LLVM 15.0.6, 256 bits) · CPU / Software · mesa · Vulkan" in row["litert-gpu"]
    assert f'<h2 id="lane-litert-gpu">litert-gpu <small class="note">{SOFTWARE_GPU}</small></h2>' in op
    assert '<h2 id="lane-tf-cpu">tf-cpu</h2>' in op
    assert f'"name":"litert-gpu ({SOFTWARE_GPU})"' in op  # the accuracy-vs-speed trace
    notes = {lane: r["speed_note"] for case in drill["cases"] for lane, r in case["lanes"].items()}
    assert notes == {"litert-gpu": SOFTWARE_GPU, "tf-cpu": ""}
    assert drill["runs"][0]["software_gpu"] == ["litert-gpu"]
    assert SOFTWARE_GPU in versions


@pytest.mark.parametrize("software", [False, None])
def test_a_hardware_or_unknown_adapter_is_not_marked(tmp_path, software):
    row, op, drill, versions = _report(tmp_path, software=software)
    assert "adapter: llvmpipe" in row["litert-gpu"]
    assert not any(SOFTWARE_GPU in page for page in (*row.values(), op, versions))
    assert {r["speed_note"] for case in drill["cases"] for r in case["lanes"].values()} == {""}
    assert drill["runs"][0]["software_gpu"] == []


def test_model_page_marks_the_software_gpu_lane(tmp_path):
    latest = pd.DataFrame([{"case_id": "m[x]", "lane": lane, "outcome": "pass", "reason": "", "model.name": "m",
                            "model.task": {"rel_rmse": 0.01}, "timing.median_s": 1e-3} for lane in ("tf-cpu", "gpu")])
    common = {"nav_ops": [], "nav_models": ["m"], "run": {}, "has_quant": False}
    render(_env(), latest, ["tf-cpu", "gpu"], _write, tmp_path, common, {"gpu"})
    rows = (tmp_path / "models" / "m.html").read_text().split("<tr>")
    marked = [SOFTWARE_GPU in next(r for r in rows if f">{lane}</td>" in r) for lane in ("tf-cpu", "gpu")]
    assert marked == [False, True]
