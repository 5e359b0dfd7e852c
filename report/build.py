"""Build the static report: ``index.html`` (lane summary, conformance matrix, runs) and one page
per op (accuracy-vs-speed scatter, case table per lane), from every run file via pandas.

Self-contained and offline: plotly.js is copied next to the pages, nothing loads from a CDN.
Every string from a result is HTML-escaped (Jinja2 autoescape; chart JSON escapes ``</``).
Pages are written to a temporary directory that replaces the previous report only when complete.
"""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from report import history, inside
from report.format import SOFTWARE_GPU, col, fmt, lane_label, pareto, plot_js, seconds
from report.models import field, model_rows
from report.models import pages as model_pages
from report.models import render as render_models
from tfparity import results

HERE = Path(__file__).parent
OUTCOMES = ("pass", "fail", "xfail", "unsupported", "error", "crash", "skip", "baseline")
ERROR_FLOOR = 1e-12


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    return env


def _adapter(facts: dict) -> str:
    """A GPU lane's adapter as text (name, type, driver, backend); empty for a lane without one."""
    if "adapter" not in facts:
        return ""
    adapter = facts["adapter"] or {}
    return "adapter: " + (" · ".join(str(adapter[k]) for k in ("name", "type", "driver", "backend") if adapter.get(k))
                          or "unknown")





def _op_seconds(rows: pd.DataFrame) -> pd.Series:
    """Per record, the op's own time: TF's in-graph time (``kernel_timing``) where measured, else the per-call
    median (a LiteRT ``invoke()`` costs microseconds beyond its kernels: the lane's overhead floor)."""
    return col(rows, "kernel_timing.median_s").where(lambda s: s > 0).fillna(col(rows, "timing.median_s"))


def _speedup(base: pd.Series, rows: pd.DataFrame, seconds: pd.Series) -> str:
    """Geometric mean over the cases timed on both of ``base`` (tf-cpu's seconds by case) / the lane's seconds."""
    ratio = (base / seconds.set_axis(rows.case_id)).dropna()
    ratio = ratio[(ratio > 0) & np.isfinite(ratio)]
    return f"{math.exp(np.log(ratio).mean()):.2f}" if len(ratio) else ""


def _lane_summary(latest: pd.DataFrame, lanes: list[str], header: dict, software: set[str]) -> list[dict]:
    tf_cpu = latest[latest.lane == "tf-cpu"]
    per_call_base = col(tf_cpu, "timing.median_s").set_axis(tf_cpu.case_id)
    op_base = _op_seconds(tf_cpu).set_axis(tf_cpu.case_id)
    floors = header.get("overhead_floor_s") or {}
    summary = []
    for lane in lanes:
        rows = latest[latest.lane == lane]
        counts = rows.outcome.value_counts().to_dict()
        checked = rows[rows.outcome.isin(["pass", "fail", "xfail"])]
        worst = fmt(col(checked, "metrics.max_norm").max()) if len(checked) else ""
        floor = floors.get(lane)
        summary.append({"name": lane, "counts": counts, "worst": worst,
                        "speed": _speedup(per_call_base, rows, col(rows, "timing.median_s")),
                        "op_speed": _speedup(op_base, rows, _op_seconds(rows)),
                        "floor": seconds(floor) if isinstance(floor, float) else "",
                        "floor_reason": floor if isinstance(floor, str) else "",
                        "bound": int(col(rows, "overhead_bound").fillna(False).astype(bool).sum()),
                        "scaling": inside.lane_scaling(model_rows(rows), field),
                        "note": SOFTWARE_GPU if lane in software else "",
                        "status": header.get("lane_status", {}).get(lane, ""),
                        "adapter": _adapter((header.get("lane_environments") or {}).get(lane) or {})})
    return summary


def _cell(rows: pd.DataFrame, lane: str) -> dict:
    counts = rows.outcome.value_counts().to_dict()
    if not counts:
        return {"lane": lane, "status": "skip", "text": "–", "title": "not run"}
    checked = sum(counts.get(o, 0) for o in ("pass", "fail", "xfail", "error", "crash"))
    for status in ("error", "crash", "fail"):
        if counts.get(status):
            break
    else:
        status = "pass" if counts.get("pass") == len(rows) else next(
            (o for o in ("xfail", "unsupported", "skip", "baseline") if counts.get(o) == len(rows)), "mixed")
        if status == "mixed" and counts.get("pass", 0) == checked and checked:
            status = "pass" if not counts.get("xfail") else "mixed"
    text = f"{counts.get('pass', 0)}/{checked}" if checked else next(o for o in OUTCOMES if counts.get(o))
    others = [f"{counts[o]} {o}" for o in ("xfail", "unsupported", "skip") if counts.get(o) and checked]
    title = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts.get(o))
    return {"lane": lane, "status": status, "text": text, "title": title, "sub": ", ".join(others)}


def _scatter_js(rows: pd.DataFrame, lanes: list[str], software: set[str]) -> str:
    """Every timed case per lane, and each lane as a whole (geometric-mean latency and median error over
    the cases it timed) with the Pareto front of those: no other lane both faster and more accurate.
    A lane on a software GPU (``software``) is named with :data:`SOFTWARE_GPU`."""
    import plotly.graph_objects as go


    fig, summary = go.Figure(), []
    timed = rows.dropna(subset=["timing.median_s"]) if "timing.median_s" in rows else rows.iloc[:0]
    for lane in lanes:
        part = timed[timed.lane == lane]
        if part.empty:
            continue
        name = lane_label(lane, software)
        fig.add_trace(go.Scatter(
            x=part["timing.median_s"], y=col(part, "metrics.max_norm").clip(lower=ERROR_FLOOR), mode="markers",
            name=name, text=part.case_id + " · " + part.outcome,
            hovertemplate="%{text}<br>median %{x:.3s}s<br>max_norm %{y:.3g}<extra>" + name + "</extra>"))
        error = col(part, "metrics.max_norm").clip(lower=ERROR_FLOOR).median()
        if not np.isnan(error):
            summary.append((name, math.exp(np.log(part["timing.median_s"]).mean()), error))
    front = sorted((t, e, name) for name, t, e in summary if name in pareto(summary))
    fig.add_trace(go.Scatter(
        x=[t for _, t, _ in summary], y=[e for _, _, e in summary], text=[n for n, _, _ in summary],
        mode="markers+text", textposition="top center", name="lanes (geomean latency, median error)",
        marker={"symbol": "diamond", "size": 12, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "#333"}}))
    fig.add_trace(go.Scatter(x=[t for t, _, _ in front], y=[e for _, e, _ in front], text=[n for _, _, n in front],
                             mode="lines+markers", name="Pareto front", line={"color": "#c0392b", "dash": "dot"},
                             marker={"symbol": "diamond", "size": 12, "color": "#c0392b"}))
    fig.update_layout(xaxis={"type": "log", "title": "median latency (s)"},
                      yaxis={"type": "log", "title": "max_norm error", "exponentformat": "power"},
                      margin={"l": 60, "r": 20, "t": 20, "b": 50}, height=420, legend={"orientation": "v"})
    return plot_js("scatter", fig)


def _group_matrix(rows: pd.DataFrame, lanes: list[str]) -> list[dict]:
    """Configuration (record ``group``) × lane: worst max_norm among checked cases, coloured by outcome."""
    if "group" not in rows or rows["group"].isna().all():
        return []
    matrix = []
    for group, part in rows.groupby("group", sort=False):
        cells = []
        for lane in lanes:
            cell = _cell(part[part.lane == lane], lane)
            checked = part[(part.lane == lane) & part.outcome.isin(["pass", "fail", "xfail"])]
            worst = col(checked, "metrics.max_norm").max() if len(checked) else np.nan
            cell["text"] = fmt(worst) if not np.isnan(worst) else cell["text"]
            cells.append(cell)
        matrix.append({"group": group, "cells": cells})
    return matrix


def _rate(value, pct, dtype) -> str:
    """``12.3 GFLOP/s · 7.9 %`` (GOP/s for an integer peak)."""
    if pd.isna(value):
        return ""
    unit = "GOP/s" if dtype == "int8" else "GFLOP/s"
    return f"{value:.3g} {unit}" + (f" · {pct:.2g} %" if not pd.isna(pct) else "")


def _layer_cell(record: dict) -> str:
    """A layer-shape table cell: the record's rate and % of peak, ⚑ when overhead-bound."""
    text = _rate(record.get("gflops", np.nan), record.get("pct_peak", np.nan), record.get("peak_dtype"))
    return text + (" ⚑" if record.get("overhead_bound") is True else "")


def _layer_view(rows: pd.DataFrame, lanes: list[str], software: set[str], threads) -> tuple[str, list[dict]] | None:
    """The layer-shaped group (cases with a ``network``): accuracy versus % of peak per lane (TF lanes twice: per call
    and in-graph), and a table of layer x lane rates."""
    if "params.network" not in rows or rows["params.network"].isna().all():
        return None
    import plotly.graph_objects as go

    part = rows[rows["params.network"].notna()]
    fig, table = go.Figure(), []
    for lane in lanes:
        timed = part[(part.lane == lane) & col(part, "pct_peak").notna()]
        for label, prefix in (("", ""), (" in-graph", "kernel_timing.")):
            pct = col(timed, f"{prefix}pct_peak")
            if pct.isna().all():
                continue
            name = lane_label(lane + label, software)
            text = [f"{c} · {_rate(g, q, d)}" for c, g, q, d in zip(timed.case_id, col(timed, f"{prefix}gflops"), pct,
                                                                   col(timed, "peak_dtype"))]
            fig.add_trace(go.Scatter(x=pct, y=col(timed, "metrics.max_norm").clip(lower=ERROR_FLOOR), mode="markers",
                                     name=name, text=text, marker={"symbol": "circle-open" if label else "circle"},
                                     hovertemplate="%{text}<br>max_norm %{y:.3g}<extra>" + name + "</extra>"))
    for case_id, case_rows in part.groupby("case_id", sort=False):
        by_lane = {r["lane"]: r for r in case_rows.to_dict("records")}
        first = case_rows.iloc[0]
        table.append({"case_id": case_id, "layer": f"{first['params.network']} · {first.get('params.layer', '')}",
                      "cells": [_layer_cell(by_lane.get(lane, {})) for lane in lanes]})
    fig.update_layout(xaxis={"type": "log", "title": f"% of the lane's peak at {threads} threads"},
                      yaxis={"type": "log", "title": "max_norm error", "exponentformat": "power"},
                      margin={"l": 60, "r": 20, "t": 20, "b": 50}, height=420)
    return plot_js("layers-chart", fig), table


def _pictures(rows: pd.DataFrame, results_dir: Path, staging: Path) -> list[dict]:
    """Copy the run's mismatch pictures next to the page; one entry per picture."""
    if "picture" not in rows:
        return []
    found = []
    for r in rows.dropna(subset=["picture"]).to_dict("records"):
        source = (Path(results_dir) / r["picture"]).resolve()
        if not source.is_file() or Path(results_dir).resolve() not in source.parents:
            continue
        target = staging / "pictures" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        found.append({"src": f"../pictures/{source.name}", "case_id": r["case_id"], "lane": r["lane"],
                      "outcome": r["outcome"], "reason": r.get("reason") or ""})
    return found


def _quantization(latest: pd.DataFrame) -> tuple[list[dict], str] | None:
    """Per op and integer lane: LSB error against the float reference and against the exact
    integer pipeline (reference.tflite), and the histogram of integer differences as a chart."""
    if "metrics.lsb_hist" not in latest:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    judged = latest.dropna(subset=["metrics.lsb_hist"])
    if judged.empty:
        return None
    rows, ops = [], list(dict.fromkeys(judged.op))
    fig = make_subplots(rows=len(ops), cols=1, subplot_titles=ops, vertical_spacing=min(0.3 / len(ops), 0.08))
    for i, op in enumerate(ops, 1):
        part = judged[judged.op == op]
        for lane, lane_rows in part.groupby("lane", sort=False):
            hist: dict[int, int] = {}
            for h in lane_rows["metrics.lsb_hist"]:
                for k, v in h.items():
                    hist[int(k)] = hist.get(int(k), 0) + int(v)
            total = sum(hist.values())
            rows.append({"op": op, "lane": lane, "cases": len(lane_rows),
                         "lsb_float": fmt(lane_rows["metrics.max_lsb_vs_float"].max()),
                         "rmse": fmt(lane_rows["metrics.rmse_over_scale"].max()),
                         "rmse_flag": bool(lane_rows["metrics.rmse_over_scale"].max() > 0.7),
                         "snr": fmt(lane_rows["metrics.snr_db"].replace(np.inf, np.nan).min(), ".3g"),
                         "lsb_exact": fmt(lane_rows["metrics.max_lsb_vs_exact"].max()),
                         "disagree": f"{100 * (total - hist.get(0, 0)) / total:.2f} %" if total else ""})
            keys = sorted(hist)
            fig.add_trace(go.Bar(x=keys, y=[hist[k] for k in keys], name=lane, legendgroup=lane, showlegend=i == 1),
                          row=i, col=1)
        fig.update_yaxes(type="log", title_text="outputs", row=i, col=1)
        fig.update_xaxes(title_text="lane − reference kernels (LSB)", dtick=1, row=i, col=1)
    fig.update_layout(height=260 * len(ops), barmode="group", margin={"l": 60, "r": 20, "t": 40, "b": 40})
    return rows, plot_js("lsbhist", fig)


def _op_rows(rows: pd.DataFrame) -> list[dict]:
    out = []
    for r in rows.to_dict("records"):
        ops = r.get("tflite_ops")
        out.append({
            "case_id": r["case_id"], "outcome": r["outcome"], "reason": r.get("reason") or "",
            "max_abs": fmt(r.get("metrics.max_abs")), "max_rel": fmt(r.get("metrics.max_rel")),
            "max_norm": fmt(r.get("metrics.max_norm")),
            "tolerance": "" if pd.isna(r.get("tolerance.atol", np.nan)) else
            f"{r['tolerance.atol']:.2g} / {r['tolerance.rtol']:.2g}",
            "median": seconds(r.get("timing.median_s")), "iqr": seconds(r.get("timing.iqr_s")),
            "gflops": fmt(r.get("gflops"), ".3g"), "pct_peak": fmt(r.get("pct_peak"), ".2g"),
            "peak_dtype": r.get("peak_dtype") if isinstance(r.get("peak_dtype"), str) else "",
            "bound": r.get("overhead_bound") is True,
            "in_graph": seconds(r.get("kernel_timing.median_s"))
            + (" ⚑" if r.get("kernel_timing.overhead_bound") is True else ""),
            "ops": " ".join(ops) if isinstance(ops, list) else "",
            "lsb": " / ".join(fmt(r.get(f"metrics.{k}"), ".2g") for k in ("max_lsb_vs_float", "max_lsb_vs_exact",
                                                                          "rmse_over_scale"))
            if not pd.isna(r.get("metrics.max_lsb_vs_float", np.nan)) else "",
        })
    return out


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build(results_dir: str | Path = "results", out: str | Path | None = None, asv_conf: Path | None = None) -> Path:
    """Render the report for every run under ``results_dir`` into ``out`` (default ``results_dir/report``); with
    ``asv_conf`` (an asv.conf.json), asv's pages published for it are copied in and linked."""
    from tfparity.regress import machine_of

    out = Path(out) if out else Path(results_dir) / "report"
    frame = results.load(results_dir)
    frame = frame.assign(machine=machine_of(frame))
    headers = results.headers(results_dir)
    if frame.empty or not headers:
        raise results.ResultsError(f"no results in {results_dir}: run `python -m tfparity run` first")
    header = max(headers, key=lambda h: h["started_utc"])
    latest = frame[frame.run_id == header["run_id"]]
    table = history.run_table(frame, headers)
    software = table.set_index("run_id").software_gpu[header["run_id"]]
    lanes = [lane for lane in header["lanes"] if lane in set(latest.lane)]
    ops = list(dict.fromkeys(latest.drop(model_rows(latest).index).op))  # whole models get report/models.py pages
    env = _env()
    out.parent.mkdir(parents=True, exist_ok=True)  # staging beside it: the swap is a rename on one file system
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        common = {"nav_ops": ops, "nav_models": model_pages(model_rows(latest)),
                  "run": header,
                  "has_quant": "metrics.lsb_hist" in latest and latest["metrics.lsb_hist"].notna().any()}
        matrix = [{"op": op, "cells": [_cell(latest[(latest.op == op) & (latest.lane == lane)], lane)
                                      for lane in lanes]} for op in ops]
        runs = table.iloc[::-1].to_dict("records")
        _write(staging / "index.html", env.get_template("index.html").render(
            title="tfparity report", root="", charts=True, lanes=_lane_summary(latest, lanes, header, software),
            outcomes=OUTCOMES, matrix=matrix, runs=runs, machines=history.latest_per_machine(table).to_dict("records"),
            regressions=history.regressions(frame, table), passrate_js=history.pass_rate_js(table),
            sparks=history.sparklines(frame, table, latest.machine.iloc[0]),
            asv=asv_conf is not None and _copy_asv(staging, asv_conf),
            all_skipped=bool(len(latest)) and latest.outcome.isin(["skip", "baseline"]).all(), **common))
        _write(staging / "versions.html", env.get_template("versions.html").render(
            title="Versions", root="", charts=True, machines=history.version_view(frame, table), **common))
        for op, data in history.drill_data(frame, latest[latest.op.isin(ops)], table).items():
            _write(staging / "data" / f"{op}.js", data)
            _write(staging / "drill" / f"{op}.html", env.get_template("drill.html").render(
                title=f"{op}: drill-down", root="../", charts=True, op=op, **common))
        for op in ops:
            rows = latest[latest.op == op]
            _write(staging / "ops" / f"{op}.html", env.get_template("op.html").render(
                title=op, root="../", charts=True, rows=rows, floor=ERROR_FLOOR,
                scatter_js=_scatter_js(rows, lanes, software), lanes=lanes, groups=_group_matrix(rows, lanes),
                layers=_layer_view(rows, lanes, software, header.get("threads")),
                pictures=_pictures(rows, results_dir, staging),
                by_lane=[(lane, _op_rows(rows[rows.lane == lane]), SOFTWARE_GPU if lane in software else "")
                         for lane in lanes], **common))
        render_models(env, latest, lanes, _write, staging, common, software)
        quant = _quantization(latest)
        if quant:
            _write(staging / "quantization.html", env.get_template("quantization.html").render(
                title="Quantized lanes", root="", charts=True, rows=quant[0], hist_js=quant[1], **common))
        static = staging / "static"
        shutil.copytree(HERE / "static", static)
        import plotly

        shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")
        _replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _copy_asv(staging: Path, conf: Path) -> bool:
    """Copy asv's published pages (``html_dir`` of the asv.conf.json ``conf``, else ``.asv/html`` beside it) into
    the report as ``asv/``, so the report links them and stays self-contained; False when none were published."""
    from asv.util import load_json

    html = conf.parent / (load_json(conf, js_comments=True).get("html_dir", ".asv/html") if conf.is_file()
                          else ".asv/html")
    if not (html / "index.html").is_file():
        return False
    shutil.copytree(html, staging / "asv")
    return True


def _replace(staging: Path, out: Path) -> None:
    """Swap the finished report in: the previous one stays intact until the new one is complete.
    Builds into the same place at once take turns (a lock file beside it)."""
    with open(out.with_name(f".{out.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
