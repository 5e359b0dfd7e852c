"""Report pages of whole models (``--suite models``): ``models/<page>.html``, one per model or per group of related
models sharing a page (``model.page``: MTCNN's nets, its frozen graph, pyramid and detector on ``models/mtcnn.html``).

Per case of the model: a lane table (outcome, task metric, median and p90 latency, size, load and first
inference, memory, first divergent layer), accuracy versus latency per lane with the Pareto front marked
(no other lane is both faster and more accurate), model size per lane, and for integer lanes the per-layer
error (RMSE ÷ scale against the float model, and the op-alone LSB error) with the first divergent layer marked.
Pipelines (the P-Net pyramid) add each lane's latency per pyramid scale; the detector its stage counts. Inside the
model (:mod:`report.inside`): where each op ran, each op alone (latency share x error), lifecycle and thread scaling,
the culprit op of a failing lane, quantization-parameter findings.
"""

from __future__ import annotations

import math

import pandas as pd

from report import inside
from report.format import SOFTWARE_GPU, fmt, lane_label, pareto, plot_js, seconds

FLOOR = 1e-6  # a task error of zero is drawn here on the log axis


def model_rows(latest: pd.DataFrame) -> pd.DataFrame:
    """The records of whole models in a run (they carry a ``model.name``)."""
    if "model.name" not in latest:
        return latest.iloc[0:0]
    return latest[latest["model.name"].notna()]


def pages(rows: pd.DataFrame) -> list[str]:
    """The model pages of a run's model records, in record order."""
    return list(dict.fromkeys(_page_column(rows))) if len(rows) else []


def _page_column(rows: pd.DataFrame) -> pd.Series:
    return rows["model.page"].fillna(rows["model.name"]) if "model.page" in rows else rows["model.name"]


def field(row, key):
    """A record's field (``key`` dotted, as the frame's columns are), None where it is missing or NaN."""
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _lane_rows(rows: pd.DataFrame, metric: str, software: set[str]) -> list[dict]:
    out = []
    for _, row in rows.iterrows():
        task = field(row, "model.task") or {}
        first = field(row, "model.first_divergent")
        size = field(row, "model.size_bytes")
        out.append({"lane": row.lane, "note": SOFTWARE_GPU if row.lane in software else "", "outcome": row.outcome,
                    "reason": row.reason, "metric": task.get(metric),
                    "median": field(row, "timing.median_s"), "size": size,
                    "task": " · ".join(f"{k} {fmt(v)}" for k, v in task.items()),
                    "text": {"metric": fmt(task.get(metric)), "median": seconds(field(row, "timing.median_s")),
                             "p90": seconds(field(row, "model.p90_s")), "load": seconds(field(row, "model.load_s")),
                             "first": seconds(field(row, "model.first_inference_s")),
                             "size": f"{size / 1024:.1f} KiB" if size is not None else "",
                             "memory": fmt(field(row, "model.memory_mb"), ".1f")},
                    "divergent": "; ".join(filter(None, [
                        f"#{first['index']} {first['op']}: {first['exceeds']}" if first else "",
                        f"in float: {', '.join(field(row, 'model.float_ops'))}" if field(row, "model.float_ops")
                        else "", inside.culprit_text(_culprit(row))])),
                    "resize": field(row, "model.resize") or "",
                    "stages": _stages(field(row, "model.stage_counts"))})
    return out


def _culprit(row) -> dict | None:
    """The record's ``culprit`` (flattened one level into ``culprit.*`` columns), or None. Its counts come back as
    integers: a column that some record lacks holds floats (4.0)."""
    found = field(row, "culprit.found")
    if found is None:
        return None
    keys = ("found", "index", "op", "how", "detail", "alone", "runs", "reason")
    culprit = {key: field(row, f"culprit.{key}") for key in keys}
    return {key: int(value) if key in ("index", "runs") and value is not None else value
            for key, value in culprit.items()}


def _stages(counts: dict | None) -> str:
    """``lane 12 → 3 → 1 · reference 12 → 3 → 1``: the detector's candidates after each stage."""
    if not counts:
        return ""
    return " · ".join(f"{who} {' → '.join(str(v) for v in stages.values())}" for who, stages in counts.items())


def _charts(lanes: list[dict], rows: pd.DataFrame, metric: str, div: str, software: set[str]) -> tuple[str, set]:
    """The page's plotly calls (:func:`report.format.plot_js`) and the names of the charts drawn (``scatter``,
    ``sizes``, ``layers``, ``scales``, ``profile``); lanes on a software GPU (``software``) are labelled so."""
    import plotly.graph_objects as go

    timed = [(lane_label(r["lane"], software), r["median"], max(r["metric"], FLOOR))
             for r in lanes if r["median"] is not None and r["metric"] is not None]
    front = set(pareto(timed))
    scatter = go.Figure()
    scatter.add_trace(go.Scatter(x=[t for _, t, _ in timed], y=[e for _, _, e in timed], text=[n for n, _, _ in timed],
                                 mode="markers+text", textposition="top center", name="lanes",
                                 marker={"size": 9, "color": ["#c0392b" if n in front else "#7f8c8d"
                                                              for n, _, _ in timed]}))
    line = sorted((t, e) for n, t, e in timed if n in front)
    scatter.add_trace(go.Scatter(x=[t for t, _ in line], y=[e for _, e in line], mode="lines", name="Pareto front",
                                 line={"color": "#c0392b", "dash": "dot"}))
    scatter.update_layout(xaxis={"type": "log", "title": "median latency (s)"},
                          yaxis={"type": "log", "title": f"{metric} (lower is better)"}, height=420)
    sized = [r for r in lanes if r["size"] is not None]
    sizes = go.Figure(go.Bar(x=[r["lane"] for r in sized], y=[r["size"] / 1024 for r in sized]))
    sizes.update_layout(yaxis={"title": "model size (KiB)"}, height=320)
    layers = go.Figure()
    marks = []
    for _, row in rows.iterrows():
        table = field(row, "model.layers")
        if not table:
            continue
        labels = [f"#{r['index']} {r['op']}" for r in table]
        layers.add_trace(go.Scatter(x=labels, y=[r["rmse_over_scale"] for r in table], mode="lines+markers",
                                    name=f"{row.lane} RMSE÷scale vs float"))
        layers.add_trace(go.Bar(x=labels, y=[r["max_lsb_isolated"] for r in table], name=f"{row.lane} op-alone LSB",
                                opacity=0.4))
        first = field(row, "model.first_divergent")
        if first:
            marks.append({"x": f"#{first['index']} {first['op']}", "y": first["rmse_over_scale"] or 0,
                          "text": f"{row.lane}: first divergent", "showarrow": True, "arrowhead": 2})
    layers.update_layout(annotations=marks, yaxis={"title": "LSB of the tensor's scale"}, height=420,
                         barmode="group")
    scales = go.Figure()
    for _, row in rows.iterrows():
        per_scale = field(row, "model.per_scale")
        if per_scale and all("median_s" in r for r in per_scale):
            scales.add_trace(go.Scatter(x=[f"{r['shape'][0]}x{r['shape'][1]}" for r in per_scale],
                                        y=[r["median_s"] for r in per_scale], mode="lines+markers",
                                        name=lane_label(row.lane, software)))
    scales.update_layout(xaxis={"title": "P-Net input (pyramid scale)"},
                         yaxis={"type": "log", "title": "median latency (s)"}, height=380)
    charts = [("scatter", scatter)] + ([("sizes", sizes)] if sized else [])
    charts += [("layers", layers)] if layers.data else []
    charts += [("scales", scales)] if scales.data else []
    profile = inside.profile_figure(rows, field)
    charts += [("profile", profile)] if profile.data else []
    return "\n".join(plot_js(f"{div}-{name}", fig) for name, fig in charts), {name for name, _ in charts}


def render(env, latest: pd.DataFrame, lanes: list[str], write, staging, common: dict, software: set[str]) -> list[str]:
    """Write ``models/<page>.html`` for every model page of the run (``software``: its lanes on a software GPU, whose
    latencies say :data:`report.format.SOFTWARE_GPU`); returns the page names."""
    rows = model_rows(latest)
    names = pages(rows)
    for name in names:
        cases = []
        for number, (case_id, case_rows) in enumerate(rows[_page_column(rows) == name].groupby("case_id", sort=False)):
            case_rows = case_rows.assign(order=case_rows.lane.map({lane: i for i, lane in enumerate(lanes)}))
            case_rows = case_rows.sort_values("order")
            spec_metric = _budget_metric(case_rows)
            lane_rows = _lane_rows(case_rows, spec_metric, software)
            js, charts = _charts(lane_rows, case_rows, spec_metric, f"c{number}", software)
            cases.append({"id": case_id, "div": f"c{number}", "lanes": lane_rows, "metric": spec_metric, "js": js,
                          "charts": charts, "source": case_rows.iloc[0].get("model.source", ""),
                          "placement": inside.placement_rows(case_rows, field),
                          "profile": inside.profile_rows(case_rows, field),
                          "lifecycle": inside.lifecycle_rows(case_rows, field),
                          "lint": inside.lint_rows(case_rows, field),
                          "pipeline": any(r["resize"] for r in lane_rows)})
        write(staging / "models" / f"{name}.html", env.get_template("model.html").render(
            title=name, root="../", charts=True, cases=cases, **common))
    return names


def _budget_metric(rows: pd.DataFrame) -> str:
    """The model's task metric, as its records name it (``model.budget``: metric, limit)."""
    budgets = rows["model.budget"].dropna() if "model.budget" in rows else pd.Series(dtype=object)
    return budgets.iloc[-1][0] if len(budgets) else "rel_rmse"
