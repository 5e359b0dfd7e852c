"""History across runs for the report: the run table (one row per run, with its machine, versions and
pass rate), the latest run per machine and what regressed since the previous one there
(``tfparity.regress.compare_runs``), the pass-rate trend, one sparkline per conformance-matrix cell, the
version view (one machine across TF / LiteRT releases) and the per-op data the drill-down pages render.

``frame`` is :func:`tfparity.results.load`'s DataFrame with a ``machine`` column
(:func:`tfparity.regress.machine_of`). Everything is computed with whole-frame pandas operations;
nothing here is per record × run.
"""

from __future__ import annotations

import json
import math
import shlex

import numpy as np
import pandas as pd

from report.format import SOFTWARE_GPU, col, lane_label, plot_js, seconds, software_gpu_lanes

CHECKED = ("pass", "fail", "xfail", "error", "crash")
SPARK_RUNS = 30  # sparklines show at most this many of the latest runs of the machine
SPARK_WIDTH, SPARK_HEIGHT = 60, 14
SAMPLE_POINTS = 500  # a drill-down draws at most this many quantiles of a record's timing samples


def run_table(frame: pd.DataFrame, headers: list[dict] = ()) -> pd.DataFrame:
    """One row per run, oldest first: run_id, started_utc, machine, cpu, tensorflow, litert, profile, threads,
    records, passed, checked, pass_rate (passed / checked; NaN when nothing was checked), version_change
    (the TF or LiteRT version differs from the machine's previous run) and software_gpu (the lanes of the run
    on a software GPU, from its ``headers``: :func:`report.format.software_gpu_lanes`)."""
    rows = frame.assign(passed=frame.outcome.eq("pass"), checked=frame.outcome.isin(CHECKED),
                        tensorflow=col(frame, "versions.tensorflow"), litert=col(frame, "versions.ai_edge_litert"),
                        cpu=col(frame, "machine.cpu"))
    table = rows.groupby("run_id", sort=False).agg(
        started_utc=("started_utc", "first"), machine=("machine", "first"), cpu=("cpu", "first"),
        tensorflow=("tensorflow", "first"), litert=("litert", "first"), profile=("profile", "first"),
        threads=("threads", "first"), records=("outcome", "size"), passed=("passed", "sum"),
        checked=("checked", "sum")).reset_index().sort_values("started_utc", kind="stable", ignore_index=True)
    table["pass_rate"] = table.passed / table.checked.where(table.checked > 0)
    versions = table.tensorflow.astype(str) + " / " + table.litert.astype(str)
    previous = versions.groupby(table.machine).shift()
    table["version_change"] = previous.notna() & (previous != versions)
    software: dict[str, set[str]] = {}
    for header in headers:
        software.setdefault(header["run_id"], set()).update(software_gpu_lanes(header))
    table["software_gpu"] = [frozenset(software.get(run, ())) for run in table.run_id]
    return table


def latest_per_machine(table: pd.DataFrame) -> pd.DataFrame:
    """The latest run of each machine, newest first."""
    return table.groupby("machine", sort=False).tail(1).iloc[::-1]


def regressions(frame: pd.DataFrame, table: pd.DataFrame) -> list[dict]:
    """Per machine with two runs or more: the latest run compared with the previous one there; the rows
    ``compare_runs`` judges a regression, how many (case, lane) pairs it compared and how many of its rows
    (latency, accuracy, outcome) are improvements. A latency row of a lane on a software GPU in either run
    carries :data:`report.format.SOFTWARE_GPU` as its note."""
    from tfparity.regress import compare_runs

    out = []
    for machine, part in table.groupby("machine", sort=False):
        if len(part) < 2:
            continue
        before, after = part.run_id.iloc[-2], part.run_id.iloc[-1]
        changes = compare_runs(frame, before, after)
        flagged = changes[changes.verdict == "regression"]
        software = part.software_gpu.iloc[-2] | part.software_gpu.iloc[-1]
        out.append({"machine": machine, "before": before, "after": after,
                    "compared": len(changes[["case_id", "lane"]].drop_duplicates()),
                    "improved": int((changes.verdict == "improvement").sum()),
                    "rows": [dict(_row_text(r), note=SOFTWARE_GPU if r["kind"] == "latency" and r["lane"] in software
                                  else "") for r in flagged.to_dict("records")]})
    return out


def _row_text(row: dict) -> dict:
    """A ``compare_runs`` row as the index shows it: latencies in s / ms / µs, other numbers to 3 digits."""
    def text(key):
        value = row.get(key)
        if not _present(value):
            return ""
        if isinstance(value, float):
            return seconds(value) if row["kind"] == "latency" and key in ("before", "after") else format(value, ".3g")
        return str(value)

    return {k: text(k) for k in ("case_id", "op", "lane", "kind", "before", "after", "ratio", "p_value", "reason")}


def _version_label(row) -> str:
    return f"tf {row.tensorflow} · litert {row.litert}"


def pass_rate_js(table: pd.DataFrame, div: str = "passrate") -> str:
    """Pass rate of every run over time, one line per machine; a star where the TF / LiteRT version changed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for machine, part in table.groupby("machine", sort=False):
        fig.add_trace(go.Scatter(
            x=part.started_utc, y=100 * part.pass_rate, mode="lines+markers", name=machine,
            text=[f"{r.run_id}<br>{_version_label(r)}<br>{r.passed}/{r.checked} passed" for r in part.itertuples()],
            marker={"symbol": np.where(part.version_change, "star", "circle"),
                    "size": np.where(part.version_change, 13, 7)},
            hovertemplate="%{text}<br>%{y:.1f} %<extra>%{fullData.name}</extra>"))
    fig.update_layout(yaxis={"title": "passed / checked (%)", "rangemode": "tozero"},
                      xaxis={"title": "run start (UTC)"}, height=320, margin={"l": 60, "r": 20, "t": 20, "b": 50})
    return plot_js(div, fig)


def sparklines(frame: pd.DataFrame, table: pd.DataFrame, machine: str) -> dict[tuple[str, str], dict]:
    """Per (op, lane): the pass rate over the machine's latest runs as SVG polyline points (y up = 100 %)
    and a one-line title; runs where the cell checked nothing leave a gap in x but draw no point."""
    runs = table[table.machine == machine].run_id.tail(SPARK_RUNS).tolist()
    if len(runs) < 2:
        return {}
    position = {run: i for i, run in enumerate(runs)}
    part = frame.loc[frame.run_id.isin(position), ["op", "lane", "run_id", "outcome"]]
    counts = part.assign(passed=part.outcome.eq("pass"), checked=part.outcome.isin(CHECKED)).groupby(
        ["op", "lane", "run_id"], sort=False)[["passed", "checked"]].sum()
    counts = counts[counts.checked > 0]
    step = SPARK_WIDTH / (len(runs) - 1)
    out = {}
    for (op, lane), cell in counts.groupby(level=["op", "lane"], sort=False):
        order = sorted(zip((position[r] for r in cell.index.get_level_values("run_id")), cell.passed / cell.checked))
        points = " ".join(f"{x * step:.1f},{(1 - rate) * (SPARK_HEIGHT - 2) + 1:.1f}" for x, rate in order)
        out[op, lane] = {"points": points, "last": points.rsplit(" ", 1)[-1].split(","),
                         "title": f"pass rate over {len(order)} of the last {len(runs)} runs on {machine}: "
                                  + " → ".join(f"{100 * rate:.0f} %" for _, rate in order[-5:])}
    return out


def version_view(frame: pd.DataFrame, table: pd.DataFrame) -> list[dict]:
    """Per machine: the latest run of each (TF, LiteRT) version pair in order of appearance, with per lane
    passed / checked and the geometric mean, over the (case, lane) pairs timed in both, of the median
    latency relative to the machine's first version pair (with :data:`report.format.SOFTWARE_GPU` where the lane
    ran on a software GPU); and a chart of those ratios."""
    import plotly.graph_objects as go

    view = []
    for number, (machine, part) in enumerate(table.groupby("machine", sort=False)):
        combos = part.groupby(["tensorflow", "litert"], sort=False, dropna=False).tail(1)
        combos = combos.sort_values("started_utc", kind="stable")
        rows = frame.loc[frame.run_id.isin(combos.run_id), _present_columns(frame, "timing.median_s")]
        medians = rows.pivot_table(index=["case_id", "lane"], columns="run_id", values="timing.median_s",
                                   aggfunc="first") if "timing.median_s" in rows else pd.DataFrame()
        base = combos.run_id.iloc[0]
        if base in medians:
            relative = medians.div(medians[base], axis=0)
            geomean = np.exp(np.log(relative.where(relative > 0)).groupby(level="lane").mean())
        else:
            geomean = pd.DataFrame()
        outcome = rows.assign(passed=rows.outcome.eq("pass"), checked=rows.outcome.isin(CHECKED)).groupby(
            ["run_id", "lane"])[["passed", "checked"]].sum()
        lanes = list(dict.fromkeys(rows.lane))
        entries, fig, ratios = [], go.Figure(), {}
        for combo in combos.itertuples():
            cells = []
            for lane in lanes:
                ratio = geomean.at[lane, combo.run_id] if lane in geomean.index and combo.run_id in geomean else np.nan
                ratios.setdefault(lane, []).append(ratio)
                passed, checked = outcome.loc[(combo.run_id, lane)] if (combo.run_id, lane) in outcome.index else (0, 0)
                cells.append({"lane": lane, "passed": int(passed), "checked": int(checked),
                              "ratio": "" if np.isnan(ratio) else f"{ratio:.2f}",
                              "note": SOFTWARE_GPU if lane in combo.software_gpu else ""})
            entries.append({"run_id": combo.run_id, "label": _version_label(combo),
                            "started_utc": str(combo.started_utc), "cells": cells})
        software = frozenset().union(*combos.software_gpu)
        for lane, values in ratios.items():
            fig.add_trace(go.Scatter(x=[e["label"] for e in entries], y=values, mode="lines+markers",
                                     name=lane_label(lane, software)))
        fig.update_layout(yaxis={"title": "median latency ÷ first versions (geomean)"}, height=320,
                          margin={"l": 60, "r": 20, "t": 20, "b": 80})
        view.append({"machine": machine, "lanes": lanes, "rows": entries, "div": f"versions{number}",
                     "js": plot_js(f"versions{number}", fig)})
    return view


def repro_command(case_id: str, lane: str, run_id: str) -> str:
    """The command that exports this record as a standalone reproduction (:mod:`tfparity.repro`)."""
    return shlex.join(["python", "-m", "tfparity", "repro", case_id, lane, "--out", "repro", "--run", run_id])


def _distribution(samples) -> list[float]:
    """The timing samples to draw: all of them, or ``SAMPLE_POINTS`` evenly spaced quantiles; rounded to
    4 significant digits of their largest value."""
    if not isinstance(samples, list | np.ndarray) or not len(samples):
        return []
    values = np.asarray(samples, dtype=float)
    if len(values) > SAMPLE_POINTS:
        values = np.quantile(values, np.linspace(0, 1, SAMPLE_POINTS))
    top = np.abs(values).max()
    return np.round(values, 3 - int(np.floor(np.log10(top))) if top > 0 else 0).tolist()


def _nullable(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


def _value(value):
    """A scalar as JSON takes it: missing or NaN as None, numpy scalars as Python ones."""
    return None if not _present(value) else value.item() if isinstance(value, np.generic) else value


def drill_data(frame: pd.DataFrame, latest: pd.DataFrame, table: pd.DataFrame) -> dict[str, str]:
    """Per op of ``latest``: the JavaScript data file its drill-down page renders (``window.TFPARITY``):
    the run table, and per case of the latest run its params, seed and per lane the latest record (metrics,
    LSB histogram, timing distribution, converted ops, the repro command) plus its history over every run:
    run index, median latency, max_norm and outcome, oldest first. A run lists its lanes on a software GPU, and a
    record of such a lane carries :data:`report.format.SOFTWARE_GPU` as its ``speed_note``."""
    runs = table.assign(started_utc=table.started_utc.astype(str), software_gpu=table.software_gpu.map(sorted))[
        ["run_id", "started_utc", "machine", "tensorflow", "litert", "version_change", "software_gpu"]]
    software = table.set_index("run_id").software_gpu
    position = pd.Series(range(len(table)), index=table.run_id)
    pairs = pd.MultiIndex.from_frame(latest[["case_id", "lane"]])
    past = frame.loc[pd.MultiIndex.from_frame(frame[["case_id", "lane"]]).isin(pairs),
                     _present_columns(frame, "timing.median_s", "metrics.max_norm")]
    past = past.assign(run=past.run_id.map(position), median=_nullable(col(past, "timing.median_s")),
                       error=_nullable(col(past, "metrics.max_norm"))).sort_values("run", kind="stable")
    history = past.groupby(["case_id", "lane"], sort=False)[["run", "median", "error", "outcome"]].agg(list)
    history = history.to_dict("index")
    params = sorted(c for c in latest if c.startswith("params."))
    metrics = sorted(c for c in latest if c.startswith("metrics.") and c != "metrics.lsb_hist")
    files = {}
    for op, rows in latest.groupby("op", sort=False):
        cases: dict[str, dict] = {}
        for r in rows.to_dict("records"):
            case = cases.setdefault(r["case_id"], {
                "id": r["case_id"], "seed": _value(r.get("seed")), "lanes": {},
                "params": {c[7:]: _value(r[c]) for c in params if _present(r.get(c))}})
            case["lanes"][r["lane"]] = {
                "outcome": r["outcome"], "reason": r.get("reason") or "",
                "metrics": {c[8:]: _value(r[c]) for c in metrics if _present(r.get(c))},
                "tolerance": {k: _value(r.get(f"tolerance.{k}")) for k in ("atol", "rtol", "scale")},
                "lsb_hist": r.get("metrics.lsb_hist") if isinstance(r.get("metrics.lsb_hist"), dict) else None,
                "samples": _distribution(r.get("timing.samples")),
                **{k: _value(r.get(c)) for k, c in (("median", "timing.median_s"), ("iqr", "timing.iqr_s"),
                                                    ("rounds", "timing.rounds"), ("gflops", "gflops"))},
                "ops": list(r["tflite_ops"]) if isinstance(r.get("tflite_ops"), list | np.ndarray) else None,
                "repro": repro_command(r["case_id"], r["lane"], r["run_id"]),
                "speed_note": SOFTWARE_GPU if r["lane"] in software[r["run_id"]] else "",
                "history": history[r["case_id"], r["lane"]]}
        data = {"op": op, "runs": runs.to_dict("records"), "lanes": list(dict.fromkeys(rows.lane)),
                "cases": list(cases.values()), "software_gpu_note": SOFTWARE_GPU}
        # missing values are null already; an infinite error stays Infinity, which this JavaScript file may hold
        text = json.dumps(data, default=lambda o: o.item())
        files[op] = "window.TFPARITY = " + text.replace("<", "\\u003c") + ";\n"
    return files


def _present_columns(frame: pd.DataFrame, *optional: str) -> list[str]:
    """The columns a history computation reads (selected first, so the timing samples are not copied)."""
    return ["run_id", "case_id", "op", "lane", "outcome"] + [c for c in optional if c in frame]


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
