"""Inside a model, on its page: where each op ran per lane, each op alone (latency share x error), the lifecycle and
thread scaling per lane, the culprit op of a failing lane, and the integer lanes' quantization-parameter findings.

Thread scaling of ``n`` threads against the fewest counted ``m``: ``efficiency = (p50(m) · m) / (p50(n) · n)`` (1:
linear). A lane is flagged ``slower`` when ``p50(n) > SLOWER · p50(m)`` and ``flat`` when ``p50(n)`` is within
``FLAT`` of ``p50(m)`` (the setting is ignored, or the model is too small to split).
"""

from __future__ import annotations

import numpy as np

from report.format import fmt, seconds

SLOWER = 1.10
FLAT = 0.10
COLOURS = {"builtin": "#e67e22", "xnnpack": "#27ae60", "gpu": "#2980b9"}


def placement_rows(rows, value) -> list[dict]:
    """Per lane with ``partitions``: its ops as cells (op, where, colour) and its counts."""
    out = []
    for _, row in rows.iterrows():
        ops = value(row, "partitions.ops")
        if not ops:
            continue
        cells = [{"label": f"#{o['index']} {o['op']}", "where": o["where"],
                  "colour": COLOURS.get(o["where"], "#95a5a6")} for o in ops]
        counts = {key: int(value(row, f"partitions.{key}")) for key in ("partitions", "builtin", "delegated")}
        off = sorted({o["op"] for o in ops if o["where"] == "builtin"}) if counts["delegated"] else []
        out.append({"lane": row.lane, "cells": cells, **counts, "off": ", ".join(off)})
    return out


def profile_rows(rows, value) -> list[dict]:
    """Per lane with an ``op_profile``: its top three ops by latency share, and the ops' summed latency against the
    whole model's median."""
    out = []
    for _, row in rows.iterrows():
        profile = value(row, "op_profile")
        if not profile:
            continue
        timed = sorted((r for r in profile if r["share"] is not None), key=lambda r: -r["share"])
        total = sum(r["latency_s"] for r in timed)
        out.append({"lane": row.lane, "sum": seconds(total), "model": seconds(value(row, "timing.median_s")),
                    "top": [f"#{r['index']} {r['op']} ({r['where'] or '?'}) {r['share']:.0%}" for r in timed[:3]]})
    return out


def profile_figure(rows, value):
    """Latency share (x) against the op's error alone (y, log; LSB or relative), one trace per lane."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for _, row in rows.iterrows():
        profile = [r for r in value(row, "op_profile") or [] if r["share"] is not None]
        if profile:
            figure.add_trace(go.Scatter(
                x=[r["share"] for r in profile], y=[max(r["error_alone"] or 0.0, 1e-9) for r in profile],
                text=[f"#{r['index']} {r['op']} ({r['where'] or '?'})" for r in profile], mode="markers",
                name=f"{row.lane} ({profile[0]['unit']})", hovertemplate="%{text}<br>share %{x:.1%}<br>error %{y:.3g}"))
    figure.update_layout(xaxis={"title": "share of the ops' summed latency", "tickformat": ".0%"},
                         yaxis={"type": "log", "title": "error of the op alone (LSB, or relative on float lanes)"},
                         height=420)
    return figure


SLOWER_FLAG = "slower with more threads"
FLAT_FLAG = "no speed-up: the setting is ignored or the model too small to split"


def _measured(row, value) -> list[dict]:
    """A record's lifecycle entries that were measured, by thread count."""
    return sorted((e for e in value(row, "lifecycle") or [] if "reason" not in e), key=lambda e: e["threads"])


def scaling(base: dict, entry: dict) -> tuple[float | None, str]:
    """``entry``'s efficiency against ``base`` (the fewest threads counted; module doc) and its flag (or "")."""
    if entry is base or not base["p50_s"] or not entry["p50_s"]:
        return None, ""
    ratio = entry["p50_s"] / base["p50_s"]
    flag = SLOWER_FLAG if ratio > SLOWER else FLAT_FLAG if abs(ratio - 1) <= FLAT else ""
    return base["p50_s"] * base["threads"] / (entry["p50_s"] * entry["threads"]), flag


def lifecycle_rows(rows, value) -> list[dict]:
    """Per lane and thread count: load, first invoke, p50, p99, peak memory, model bytes, scaling and its flag."""
    out = []
    for _, row in rows.iterrows():
        out += [{"lane": row.lane, "threads": e["threads"], "flag": e["reason"]}
                for e in value(row, "lifecycle") or [] if "reason" in e]
        entries = _measured(row, value)
        for entry in entries:
            efficiency, flag = scaling(entries[0], entry)
            out.append({"lane": row.lane, "threads": entry["threads"], "load": seconds(entry["load_s"]),
                        "first": seconds(entry["first_s"]), "p50": seconds(entry["p50_s"]),
                        "p99": seconds(entry["p99_s"]), "peak": fmt(entry["peak_rss_mb"], ".1f"),
                        "base": fmt(entry.get("base_rss_mb"), ".1f"), "bytes": f"{entry['model_bytes'] / 1024:.1f} KiB",
                        "scaling": fmt(efficiency, ".2f") if efficiency is not None else "", "flag": flag})
    return out


def lane_scaling(rows, value) -> str:
    """One lane's models measured at two or more thread counts, in one line: the median efficiency at the most
    threads, over how many models, and how many are flagged slower or flat; "" where none was."""
    found = []
    for _, row in rows.iterrows():
        entries = _measured(row, value)
        if len(entries) > 1:
            found.append((entries[-1]["threads"], *scaling(entries[0], entries[-1])))
    found = [f for f in found if f[1] is not None]
    if not found:
        return ""
    flags = [flag for _, _, flag in found]
    text = (f"{float(np.median([e for _, e, _ in found])):.2f} at {max(t for t, _, _ in found)} threads "
            f"({len(found)} model{'s' if len(found) > 1 else ''})")
    return text + "".join(f"; {flags.count(flag)} {word}" for flag, word in ((SLOWER_FLAG, "slower"),
                                                                             (FLAT_FLAG, "flat"))
                          if flags.count(flag))


def culprit_text(found: dict | None) -> str:
    """One line: the culprit op and how it fails, or why none was named."""
    if not found:
        return ""
    if not found.get("found"):
        return f"no culprit: {found.get('reason', '')}"
    alone = "alone too" if found.get("alone") else "only after the ops before it"
    return f"culprit #{found['index']} {found['op']} ({found['how']}, {alone}; {found['runs']} runs): {found['detail']}"


def lint_rows(rows, value) -> list[dict]:
    """Per integer lane, each quantization-parameter finding with the measured error of the layers it affects."""
    out = []
    for _, row in rows.iterrows():
        layers = {r["tensor"]: r for r in value(row, "model.layers") or []}
        for finding in value(row, "model.quant_lint") or []:
            layer = layers.get(finding["tensor"])
            out.append({"lane": row.lane, "kind": finding["kind"], "tensor": finding["tensor"],
                        "ops": ", ".join(finding["ops"]), "detail": finding["detail"],
                        "error": "" if layer is None else f"op alone {layer['max_lsb_isolated']} LSB · RMSE "
                                                          f"{fmt(layer['rmse_over_scale'])} LSB vs float"})
    return out
