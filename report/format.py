"""Formatting shared by the report's pages: numbers and durations as text, the software-GPU note, plotly calls,
the Pareto front. Imports nothing from the rest of the report (so its modules import each other one way)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SOFTWARE_GPU = "software GPU (CPU): correctness only, not GPU speed"


def fmt(value, spec=".3g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, spec)


def seconds(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    for unit, factor in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def lane_label(lane: str, software: set[str]) -> str:
    """A lane's name where its latency is drawn, with :data:`SOFTWARE_GPU` when it ran on a software GPU."""
    return f"{lane} ({SOFTWARE_GPU})" if lane in software else lane


def software_gpu_lanes(header: dict) -> set[str]:
    """The lanes whose GPU adapter in this run header is a software one (llvmpipe): their latency is CPU time."""
    return {lane for lane, facts in (header.get("lane_environments") or {}).items()
            if ((facts or {}).get("adapter") or {}).get("software") is True}


def col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)


def plot_js(div: str, fig) -> str:
    """The call that draws a plotly figure into the element with id ``div`` (one of ours, never from a result),
    safe inside a ``<script>`` element."""
    import plotly.io as pio

    spec = pio.to_json(fig).replace("</", "<\\/")
    return f"(function(){{var f={spec};Plotly.newPlot('{div}',f.data,f.layout,{{responsive:true}});}})();"


def pareto(points: list[tuple[str, float, float]]) -> list[str]:
    """Names of the points no other point beats on both latency and error (ties do not dominate)."""
    return [name for name, t, e in points
            if not any((t2 <= t and e2 <= e) and (t2 < t or e2 < e) for _, t2, e2 in points)]
