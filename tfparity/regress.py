"""What changed between runs: regression detection for latency, accuracy and outcomes.

Two questions, one vocabulary (every function returns rows with the columns of :data:`COLUMNS`):

- :func:`compare_runs` — run A against run B, per (case, lane) present in both. Latency: a two-sided
  Mann-Whitney U test on the raw timing samples *and* a minimum effect (the ratio of medians), since
  with thousands of samples any shift is "significant" and only a large enough one matters (asv's
  ``compare`` judges the same way), *and* a move that stands out from the comparison's run-to-run noise:
  samples within one run share its machine state, so the test alone cannot see that every case of a
  lane moved because the machine was busier (:func:`lane_noise`) — unless the lane moved as a whole, past
  the minimum effect and by a sign test over its cases, which is then reported case by case. Accuracy: the error metric
  ``metrics.max_norm`` must grow by a factor *and* use a further share of the tolerance
  (``metrics.tol_used``), so bit-level noise of an exact op (0 → 1e-9) is not a change. Outcome: the
  outcome's severity (:data:`SEVERITY`) goes up or down.
- :func:`history_changes` — change detection over each (case, lane, machine) series ordered by run
  start, as Conbench's lookback z-score: each run's value against the median of the previous
  ``lookback`` runs of that series, in units of their robust spread (MAD, floored so a perfectly
  flat history does not turn any wiggle into infinity), plus the same minimum effects.

``frame`` is :func:`tfparity.results.load`'s DataFrame; runs are identified by ``run_id``; a machine is the
run header's hostname (its CPU model where there is none), see :func:`machine_of`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tfparity.results import SAMPLES

COLUMNS = ["case_id", "op", "lane", "machine", "kind", "before", "after", "ratio", "p_value", "effect",
           "verdict", "reason"]
# Outcome severity: a move up is a regression, down an improvement. ``skip`` (lane unavailable) is not compared.
SEVERITY = {"pass": 0, "xfail": 0, "baseline": 0, "unsupported": 1, "fail": 2, "error": 2, "crash": 2,
            "skip": 2}  # a lane that ran and now cannot run checks nothing: as bad as a failure
LATENCY, ERROR, TOL_SHARE = "timing.median_s", "metrics.max_norm", "metrics.tol_used"


@dataclass(frozen=True)
class Thresholds:
    """When a difference counts. Latency: ``p_value < alpha`` and the median moved by ``min_ratio`` or
    more (either way); ``min_samples`` per side is the fewest at which the test can reach ``alpha``.
    Accuracy: ``max_norm`` moved by ``error_ratio`` or more and ``tol_used`` by ``tol_share`` or more (a share
    of the case's tolerance).
    Between two runs a latency change must also stand out from that comparison's run-to-run noise: its
    log ratio differs from the lane's median log ratio (the shift of every case: machine load, clocks) by
    ``noise_z`` robust standard deviations (1.4826 · MAD over the lane's pairs) and by ``min_ratio``; checked
    where the lane has ``min_pairs`` pairs or more. History: additionally
    ``|z| >= z`` against the previous ``lookback`` runs (at least ``min_history``)."""

    alpha: float = 0.001
    min_ratio: float = 1.2
    noise_z: float = 3.0
    min_pairs: int = 8
    min_samples: int = 7  # the fewest per side at which the exact test can reach alpha: see smallest_p
    error_ratio: float = 2.0
    tol_share: float = 0.1
    z: float = 4.0
    lookback: int = 5
    min_history: int = 3


DEFAULT = Thresholds()


def machine_of(frame: pd.DataFrame) -> pd.Series:
    """Per row: the run header's hostname, or its CPU model where the header has none."""
    def col(name):
        return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)

    return col("machine.hostname").fillna(col("machine.cpu")).astype(str)


def _pairs(frame: pd.DataFrame, run_id: str) -> pd.DataFrame:
    rows = frame[frame.run_id == run_id]
    if rows.empty:
        known = ", ".join(frame.run_id.drop_duplicates().tail(5))
        raise ValueError(f"run {run_id} has no records here (latest runs: {known or 'none'})")
    return rows.assign(machine=machine_of(rows)).drop_duplicates(["case_id", "lane"], keep="last")


def _verdict(worse: bool, better: bool) -> str:
    return "regression" if worse else "improvement" if better else "same"


def _get(row, name):
    value = row.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def smallest_p(n: int, m: int) -> float:
    """The smallest p-value the exact two-sided Mann-Whitney test can give with ``n`` and ``m`` samples (every sample
    of one side beyond every sample of the other): ``2 / C(n + m, n)``. Below ``alpha`` only from 7 vs 7 at
    alpha = 0.001 (2 / 3432 = 5.8e-4; 6 vs 6 gives 2.2e-3), hence the profiles' at least 7 timed rounds."""
    return min(1.0, 2 / math.comb(n + m, n))


def _latency(row, thresholds: Thresholds) -> dict | None:
    a, b = (np.asarray(row[f"{SAMPLES}_{s}"] if _get(row, f"{SAMPLES}_{s}") is not None else (), float)
            for s in ("a", "b"))
    if not (a.size and b.size):
        return None
    before, after = float(row[f"{LATENCY}_a"]), float(row[f"{LATENCY}_b"])  # the recorded medians of these samples
    ratio = after / before if before > 0 else math.inf
    common = {"kind": "latency", "before": before, "after": after, "ratio": ratio}
    medians = f"median {_ms(before)} → {_ms(after)} ({ratio:.2f}x)"
    if 1 / thresholds.min_ratio < ratio < thresholds.min_ratio:  # below the minimum effect: no test needed
        return {**common, "p_value": math.nan, "effect": math.nan, "verdict": "same",
                "reason": f"{medians}, within ±{thresholds.min_ratio - 1:.0%}, n={a.size}/{b.size}"}
    if smallest_p(a.size, b.size) >= thresholds.alpha:  # the test cannot fire: say so instead of passing silently
        return {**common, "p_value": math.nan, "effect": math.nan, "verdict": "untestable",
                "reason": f"{medians}, n={a.size}/{b.size} samples cannot reach p < {thresholds.alpha:g} "
                          f"(smallest p {smallest_p(a.size, b.size):.2g}): record at least {thresholds.min_samples}"}
    from scipy.stats import mannwhitneyu

    u, p = mannwhitneyu(b, a, alternative="two-sided")
    effect = 2 * u / (a.size * b.size) - 1  # Cliff's delta: +1 when every B sample is slower than every A sample
    significant = p < thresholds.alpha
    return {**common, "p_value": float(p), "effect": float(effect),
            "verdict": _verdict(significant and ratio > 1, significant and ratio < 1),
            "reason": f"{medians}, Mann-Whitney p={p:.2g}, Cliff's δ={effect:+.2f}, n={a.size}/{b.size}"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms"


def _accuracy(before: float, after: float, share_before, share_after, thresholds: Thresholds) -> dict:
    ratio = after / before if before > 0 else (math.inf if after > 0 else 1.0)
    shift = (share_after - share_before) if share_before is not None and share_after is not None else None
    moved = shift is None or abs(shift) >= thresholds.tol_share
    verdict = _verdict(moved and ratio >= thresholds.error_ratio, moved and ratio <= 1 / thresholds.error_ratio)
    share = "" if shift is None else f", tolerance used {share_before:.3g} → {share_after:.3g}"
    return {"kind": "accuracy", "before": before, "after": after, "ratio": ratio, "p_value": math.nan,
            "effect": math.nan if shift is None else shift, "verdict": verdict,
            "reason": f"max_norm {before:.3g} → {after:.3g} ({ratio:.3g}x){share}"}


def _outcome(before: str, after: str, reason_after: str) -> dict | None:
    if before == after == "skip":
        return None
    worse = SEVERITY.get(after, 2) - SEVERITY.get(before, 2)
    why = f": {reason_after.splitlines()[0][:120]}" if reason_after and before != after else ""
    return {"kind": "outcome", "before": before, "after": after, "ratio": math.nan, "p_value": math.nan,
            "effect": float(worse), "verdict": _verdict(worse > 0, worse < 0), "reason": f"{before} → {after}{why}"}


def compare_runs(frame: pd.DataFrame, run_a: str, run_b: str, *, thresholds: Thresholds = DEFAULT) -> pd.DataFrame:
    """Run ``run_a`` (before) against ``run_b`` (after): one row per (case_id, lane, kind) present in both runs,
    ``kind`` one of "outcome" (unless both are ``skip``), "accuracy" (both have ``max_norm``) and "latency"
    (both timed; "untestable" where too few samples to reach ``alpha``, :func:`smallest_p`), and an outcome
    regression for each (case_id, lane) of run A missing from run B. ``before`` / ``after``: outcome,
    ``max_norm`` or median seconds; ``ratio``: after / before; ``p_value``: Mann-Whitney (latency; NaN when the
    medians moved less than ``min_ratio``, as then the verdict is "same" whatever the test says); ``effect``:
    Cliff's delta (latency), change of tolerance share (accuracy) or of severity (outcome); ``verdict``:
    "regression", "improvement", "untestable" or "same"; ``reason``: one line. Regressions first. Raises
    ValueError if a run has no records."""
    a, b = _pairs(frame, run_a), _pairs(frame, run_b)
    wanted = ["case_id", "lane", "op", "machine", "outcome", "reason", LATENCY, ERROR, TOL_SHARE, SAMPLES]
    both = a.reindex(columns=wanted).merge(b.reindex(columns=wanted), on=["case_id", "lane"], suffixes=("_a", "_b"))
    rows = []
    for row in both.to_dict("records"):
        machine = row["machine_b"] if row["machine_a"] == row["machine_b"] else \
            f"{row['machine_a']} vs {row['machine_b']}"
        common = {"case_id": row["case_id"], "op": row["op_b"], "lane": row["lane"], "machine": machine}
        found = [_outcome(row["outcome_a"], row["outcome_b"], row["reason_b"] or "")]
        errors = [_get(row, f"{ERROR}_{s}") for s in ("a", "b")]
        if None not in errors:
            found.append(_accuracy(*errors, _get(row, f"{TOL_SHARE}_a"), _get(row, f"{TOL_SHARE}_b"), thresholds))
        found.append(_latency(row, thresholds))
        rows.extend({**common, **change} for change in found if change is not None)
    gone = a.merge(b[["case_id", "lane"]], on=["case_id", "lane"], how="left", indicator=True)
    rows.extend({"case_id": r.case_id, "op": r.op, "lane": r.lane, "machine": r.machine, "kind": "outcome",
                 "before": r.outcome, "after": "missing", "ratio": math.nan, "p_value": math.nan, "effect": math.nan,
                 "verdict": "regression", "reason": f"{r.outcome} → missing: not in the newer run"}
                for r in gone[gone["_merge"] == "left_only"].itertuples())
    return _ordered(_against_noise(pd.DataFrame(rows, columns=COLUMNS), thresholds))


def lane_noise(changes: pd.DataFrame, thresholds: Thresholds = DEFAULT) -> pd.DataFrame:
    """Per lane of ``compare_runs``' latency rows: ``pairs``, ``shift`` (the median ratio: what moved every
    case, such as the machine's load), ``spread`` (1.4826 · MAD of the log ratios, as a factor), ``p_sign``
    (two-sided sign test: as many cases slower as faster) and ``moved``: the lane as a whole moved, its shift
    past ``min_ratio`` (either way) with ``p_sign < alpha``."""
    from scipy.stats import binomtest

    latency = changes[(changes.kind == "latency") & (changes.ratio > 0)]
    logs = np.log(latency.ratio.astype(float))
    shift = logs.groupby(latency.lane).transform("median")
    mad = (logs - shift).abs().groupby(latency.lane).median()
    table = logs.groupby(latency.lane).agg(pairs="count", shift="median", slower=lambda v: int((v > 0).sum()),
                                           faster=lambda v: int((v < 0).sum()))
    table = table.assign(shift=np.exp(table["shift"]), spread=np.exp(1.4826 * mad))
    p_sign = [binomtest(int(up), int(up + down)).pvalue if up + down else 1.0
              for up, down in zip(table.slower, table.faster)]
    beyond = (table["shift"] >= thresholds.min_ratio) | (table["shift"] <= 1 / thresholds.min_ratio)
    return table.assign(p_sign=p_sign, moved=beyond & (np.asarray(p_sign) < thresholds.alpha))


def _against_noise(changes: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Latency verdicts that do not stand out from the lane's run-to-run noise become "same". A lane that
    moved as a whole (:func:`lane_noise`) keeps its verdicts: its shift is itself the change (threads, a
    release), which two runs alone cannot tell from a uniformly busier machine; :func:`history_changes`
    can, over a series."""
    noise = lane_noise(changes, thresholds)
    noise = noise[(noise.pairs >= thresholds.min_pairs) & ~noise.moved]
    lane = changes.lane.where(changes.lane.isin(noise.index))
    shift, spread = lane.map(noise["shift"]), lane.map(noise.spread)
    distance = np.abs(np.log(changes.ratio.where(changes.ratio > 0).astype(float)) - np.log(shift))
    hidden = ((changes.kind == "latency") & (changes.verdict != "same") & shift.notna()
              & (distance < np.maximum(thresholds.noise_z * np.log(spread), np.log(thresholds.min_ratio))))
    changes.loc[hidden, "reason"] = [
        f"{reason}; within the run-to-run noise of {lane_name} in this comparison "
        f"(all cases {noise.at[lane_name, 'shift']:.2f}x, spread ×/÷{noise.at[lane_name, 'spread']:.2f})"
        for reason, lane_name in zip(changes.reason[hidden], changes.lane[hidden])]
    changes.loc[hidden, "verdict"] = "same"
    return changes


def _ordered(changes: pd.DataFrame) -> pd.DataFrame:
    rank = changes.verdict.map({"regression": 0, "untestable": 1, "improvement": 2, "same": 3})
    return changes.assign(_rank=rank).sort_values(["_rank", "case_id", "lane", "kind"], kind="stable").drop(
        columns="_rank").reset_index(drop=True)


def history_changes(frame: pd.DataFrame, *, thresholds: Thresholds = DEFAULT) -> pd.DataFrame:
    """Change points over each (case, lane, machine) series, runs ordered by ``started_utc``: the columns of
    :func:`compare_runs` plus ``run_id`` (the run where the change starts), only rows whose verdict is not
    "same". Latency (median) and accuracy (``max_norm``): the run's value against the median of the
    previous ``lookback`` runs; flagged when ``|z| >= z`` (z = distance / (1.4826 · MAD), the MAD floored at
    5 % of the baseline) and the ratio passes ``min_ratio`` / ``error_ratio``; ``p_value`` is NaN and
    ``effect`` holds z. Outcome: the severity differs from the previous run's. A run that changed stays
    part of the later baselines, so a lasting step is flagged once, where it starts."""
    if frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, "run_id"])
    series = frame.assign(machine=machine_of(frame)).reindex(
        columns=["run_id", "started_utc", "case_id", "op", "lane", "machine", "outcome", "reason", LATENCY, ERROR,
                 TOL_SHARE])
    series = series.drop_duplicates(["run_id", "case_id", "lane"], keep="last")
    series = series.sort_values("started_utc", kind="stable")
    keys = ["case_id", "lane", "machine"]
    found = [_steps(series, keys, LATENCY, "latency", thresholds.min_ratio, thresholds),
             _steps(series, keys, ERROR, "accuracy", thresholds.error_ratio, thresholds),
             _outcome_steps(series, keys)]
    changes = pd.concat([f for f in found if not f.empty] or [pd.DataFrame(columns=[*COLUMNS, "run_id"])],
                        ignore_index=True)
    return _ordered(changes)[[*COLUMNS, "run_id"]]


def _steps(series: pd.DataFrame, keys: list[str], column: str, kind: str, min_ratio: float,
           thresholds: Thresholds) -> pd.DataFrame:
    data = series[series[column].notna()] if column in series else series.iloc[:0]
    if data.empty:
        return data.reindex(columns=[*COLUMNS, "run_id"])
    groups = [data[k] for k in keys]
    window = {"window": thresholds.lookback, "min_periods": thresholds.min_history}

    def baseline(values: pd.Series) -> pd.Series:  # median of the previous `lookback` values of the series
        previous = values.groupby(groups, sort=False).shift()
        rolled = previous.groupby(groups, sort=False).rolling(**window).median()
        return rolled.droplevel(list(range(len(keys)))).reindex(values.index)

    values = data[column].astype(float)
    base = baseline(values)
    spread = np.maximum(1.4826 * baseline((values - base).abs()), 0.05 * base.abs())
    z = (values - base) / spread.where(spread > 0)
    ratio = values / base.where(base > 0)
    moved = pd.Series(True, index=data.index)
    if kind == "accuracy":  # exact ops: 0 → 0 is no change; and the error must use a further share of the tolerance
        ratio = ratio.mask(base == 0, np.where(values > 0, np.inf, 1.0))
        z = z.mask(base == 0, np.where(values > 0, np.inf, 0.0))
        if TOL_SHARE in data:
            shares = data[TOL_SHARE].astype(float)
            moved = ~((shares - baseline(shares)).abs() < thresholds.tol_share)
    signal = pd.Series(np.select([(z >= thresholds.z) & (ratio >= min_ratio) & moved,
                                  (z <= -thresholds.z) & (ratio <= 1 / min_ratio) & moved], [1, -1], 0),
                       index=data.index)
    starts = (signal != 0) & (signal != signal.groupby(groups, sort=False).shift(fill_value=0))
    up = starts & (signal > 0)  # a step stays flagged until the baseline catches up: report where it starts
    hits = data.assign(before=base, after=values, ratio=ratio, effect=z)[starts]
    unit = _ms if kind == "latency" else (lambda v: f"{v:.3g}")
    return hits.assign(
        kind=kind, p_value=math.nan, verdict=np.where(up[starts], "regression", "improvement"),
        reason=[f"{kind} {unit(r.before)} (median of previous runs) → {unit(r.after)} "
                f"({r.ratio:.3g}x, z={r.effect:.1f})" for r in hits.itertuples()])[[*COLUMNS, "run_id"]]


def _outcome_steps(series: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    data = series[series.outcome != "skip"]
    previous = data.groupby(keys, sort=False).outcome.shift()
    severity = data.outcome.map(SEVERITY).fillna(2)
    delta = severity - previous.map(SEVERITY).fillna(2)
    hits = data.assign(before=previous, after=data.outcome, effect=delta)[previous.notna() & (delta != 0)]
    return hits.assign(kind="outcome", ratio=math.nan, p_value=math.nan,
                       verdict=np.where(hits.effect > 0, "regression", "improvement"),
                       reason=[f"{r.before} → {r.after}" for r in hits.itertuples()])[[*COLUMNS, "run_id"]]


def describe_run(header: dict) -> str:
    """One line naming a run: id, machine, versions, threads, profile."""
    machine, versions = header.get("machine", {}), header.get("versions", {})
    return (f"{header['run_id']} on {machine.get('hostname') or machine.get('cpu')} ({machine.get('cpu')}), "
            f"tensorflow {versions.get('tensorflow', '-')}, litert {versions.get('ai_edge_litert', '-')}, "
            f"{header.get('threads')} threads, {header.get('profile')} profile")


def render(changes: pd.DataFrame, before: dict, after: dict, thresholds: Thresholds = DEFAULT) -> str:
    """``compare_runs``'s result as text: the two runs, one line per regression or improvement (regressions
    first), and a count per kind and verdict."""
    lines = [f"before: {describe_run(before)}", f"after:  {describe_run(after)}"]
    if before.get("machine") != after.get("machine"):
        lines.append("note: the runs are from different machines; latency differences include the machines'")
    for row in lane_noise(changes, thresholds).itertuples():
        judged = (f"the lane moved as a whole (sign test p={row.p_sign:.2g}): each case is judged on its own"
                  if row.moved else "a case's latency change must stand out from both")
        lines.append(f"{row.Index}: all cases {row.shift:.2f}x (median of {row.pairs} pairs), run-to-run spread "
                     f"×/÷{row.spread:.2f}; {judged}")
    moved = changes[changes.verdict != "same"]
    if len(moved):
        width = {c: min(max(moved[c].astype(str).str.len().max(), len(c)), 70) for c in ("case_id", "lane")}
        lines.append("")
        lines.extend(f"{r.verdict.upper():<12} {r.kind:<9} {r.case_id:<{width['case_id']}} {r.lane:<{width['lane']}} "
                     f"{r.reason}" for r in moved.itertuples())
    pairs = changes[["case_id", "lane"]].drop_duplicates()
    counts = changes.groupby(["kind", "verdict"]).size()
    summary = ", ".join(f"{kind}: " + " / ".join(f"{n} {verdict}" for verdict, n in counts[kind].items())
                        for kind in ("outcome", "accuracy", "latency") if kind in counts.index.get_level_values(0))
    regressions = int((changes.verdict == "regression").sum())
    lines += ["", f"{len(pairs)} (case, lane) pairs in both runs; {summary or 'nothing comparable'}",
              f"{regressions} regression{'s' * (regressions != 1)}" + (" beyond the thresholds" if regressions else "")]
    return "\n".join(lines)
