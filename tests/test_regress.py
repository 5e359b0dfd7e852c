"""tfparity.regress on synthetic runs: the statistics must stay quiet on A/A and flag real moves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tfparity.regress import COLUMNS, DEFAULT, compare_runs, history_changes, smallest_p

LANES = ("tf-cpu", "tflite-xnnpack")
CASES = [f"conv2d[{i}]" for i in range(12)]


def _run(run_id: str, day: int, rng, *, slow: dict | None = None, error: dict | None = None,
         outcome: dict | None = None, load: float = 1.0, machine: str = "box", rounds: int = 200) -> list[dict]:
    """One run: per (case, lane) ``rounds`` lognormal timing samples around a per-case median (times ``load``, a
    machine-wide factor, times ``slow[case]``), an error metric and an outcome."""
    rows = []
    for i, case in enumerate(CASES):
        for lane in LANES:
            median = 1e-4 * (1 + i) * load * (slow or {}).get(case, 1.0)
            samples = median * rng.lognormal(0, 0.05, rounds)
            max_norm = (error or {}).get(case, 1e-7)
            rows.append({"run_id": run_id, "started_utc": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day),
                         "case_id": case, "op": "conv2d", "lane": lane, "machine.hostname": machine,
                         "machine.cpu": "cpu", "outcome": (outcome or {}).get(case, "pass"), "reason": "",
                         "timing.median_s": float(np.median(samples)), "timing.samples": samples,
                         "metrics.max_norm": max_norm, "metrics.tol_used": max_norm / 1e-5})
    return rows


def _frame(*runs) -> pd.DataFrame:
    return pd.DataFrame([row for run in runs for row in run])


def _flagged(changes: pd.DataFrame, kind: str) -> pd.DataFrame:
    return changes[(changes.kind == kind) & (changes.verdict != "same")]


def test_a_a_raises_no_alarm():
    rng = np.random.default_rng(0)
    changes = compare_runs(_frame(_run("a", 0, rng), _run("b", 1, rng)), "a", "b")
    assert list(changes.columns) == COLUMNS
    assert set(changes.kind) == {"latency", "accuracy", "outcome"}
    assert len(changes) == 3 * len(CASES) * len(LANES)
    assert (changes.verdict == "same").all(), changes[changes.verdict != "same"]


def test_shifted_distribution_is_flagged_with_its_statistics():
    rng = np.random.default_rng(1)
    frame = _frame(_run("a", 0, rng), _run("b", 1, rng, slow={"conv2d[3]": 1.6, "conv2d[5]": 0.5}))
    latency = _flagged(compare_runs(frame, "a", "b"), "latency").set_index(["case_id", "verdict"])
    assert set(latency.index) == {("conv2d[3]", "regression"), ("conv2d[5]", "improvement")}
    regression = latency.loc[("conv2d[3]", "regression")]
    assert (regression.p_value < DEFAULT.alpha).all() and (regression.ratio > 1.5).all()
    assert (regression.effect > 0.9).all()  # Cliff's delta: nearly every sample of B slower than every one of A


def test_small_shift_below_minimum_effect_is_not_flagged():
    rng = np.random.default_rng(2)
    frame = _frame(_run("a", 0, rng), _run("b", 1, rng, slow={"conv2d[3]": 1.1}))
    row = compare_runs(frame, "a", "b").query("kind == 'latency' and case_id == 'conv2d[3]'")
    assert (row.verdict == "same").all()  # significant with 200 samples, but a 10 % move is below min_ratio


def test_machine_wide_wobble_is_not_blamed_on_cases_but_a_case_beyond_it_is():
    rng = np.random.default_rng(3)  # every case 1.15x (below min_ratio); conv2d[2] 1.30x, but only 1.13x beyond that
    frame = _frame(_run("a", 0, rng), _run("b", 1, rng, load=1.15, slow={"conv2d[2]": 1.13, "conv2d[7]": 3.0}))
    latency = _flagged(compare_runs(frame, "a", "b"), "latency")
    assert set(latency.case_id) == {"conv2d[7]"} and set(latency.verdict) == {"regression"}


def test_a_lane_wide_slowdown_is_flagged_case_by_case():
    rng = np.random.default_rng(3)  # every case of both lanes 1.5x slower: threads taken away, a slower release
    frame = _frame(_run("a", 0, rng), _run("b", 1, rng, load=1.5))
    latency = _flagged(compare_runs(frame, "a", "b"), "latency")
    assert len(latency) == len(CASES) * len(LANES) and set(latency.verdict) == {"regression"}


def test_outcome_and_error_changes_are_flagged():
    rng = np.random.default_rng(4)
    frame = _frame(_run("a", 0, rng, outcome={"conv2d[2]": "fail"}),
                   _run("b", 1, rng, outcome={"conv2d[1]": "fail", "conv2d[2]": "pass"},
                        error={"conv2d[4]": 5e-6, "conv2d[6]": 3e-7}))
    changes = compare_runs(frame, "a", "b")
    outcome = _flagged(changes, "outcome").set_index("case_id").verdict
    assert outcome.to_dict() == {"conv2d[1]": "regression", "conv2d[2]": "improvement"}
    accuracy = _flagged(changes, "accuracy")
    # conv2d[4]: 50x the error, half the tolerance more: flagged; conv2d[6]: 3x, but only 0.02 of the tolerance
    assert set(accuracy.case_id) == {"conv2d[4]"} and set(accuracy.verdict) == {"regression"}


def test_unknown_run_is_a_value_error():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="no records"):
        compare_runs(_frame(_run("a", 0, rng)), "a", "nope")


def test_history_flags_a_lasting_step_once_where_it_starts():
    rng = np.random.default_rng(6)
    runs = [_run(f"r{d}", d, rng, load=rng.uniform(0.95, 1.05), slow={"conv2d[3]": 2.0} if d >= 8 else None,
                 error={"conv2d[4]": 5e-6} if d >= 9 else None) for d in range(14)]
    changes = history_changes(_frame(*runs))
    assert list(changes.columns) == [*COLUMNS, "run_id"]
    flagged = {(r.case_id, r.kind, r.run_id, r.verdict) for r in changes.itertuples()}
    assert flagged == {("conv2d[3]", "latency", "r8", "regression"), ("conv2d[4]", "accuracy", "r9", "regression")}


def test_history_of_noise_only_is_quiet():
    rng = np.random.default_rng(7)
    runs = [_run(f"r{d}", d, rng, load=rng.uniform(0.9, 1.1)) for d in range(20)]
    assert history_changes(_frame(*runs)).empty


@pytest.mark.parametrize("rounds", [7, 10, 200])
def test_a_3x_slower_case_is_flagged_at_every_recorded_sample_size(rounds):
    """The quick profile times a slow model in as few as 7 rounds: the exact test must still be able to fire
    (at 5 rounds its smallest p-value, 0.0079, could never pass alpha = 0.001)."""
    rng = np.random.default_rng(7)
    frame = _frame(_run("a", 0, rng, rounds=rounds), _run("b", 1, rng, rounds=rounds, slow={"conv2d[11]": 3.0}))
    flagged = _flagged(compare_runs(frame, "a", "b"), "latency")
    assert set(zip(flagged.case_id, flagged.verdict)) == {("conv2d[11]", "regression")}, flagged


def test_too_few_samples_are_reported_as_untestable_not_as_same():
    rng = np.random.default_rng(8)
    frame = _frame(_run("a", 0, rng, rounds=5), _run("b", 1, rng, rounds=5, slow={"conv2d[11]": 3.0}))
    changes = compare_runs(frame, "a", "b")
    row = changes[(changes.kind == "latency") & (changes.case_id == "conv2d[11]")]
    assert set(row.verdict) == {"untestable"} and row.reason.str.contains("cannot reach p < 0.001").all()
    assert smallest_p(5, 5) > DEFAULT.alpha > smallest_p(DEFAULT.min_samples, DEFAULT.min_samples)
    assert smallest_p(6, 6) > DEFAULT.alpha  # 7 is the fewest that can


def test_a_case_missing_from_the_newer_run_is_a_regression():
    rng = np.random.default_rng(9)
    later = [row for row in _run("b", 1, rng) if row["case_id"] != "conv2d[4]"]
    changes = compare_runs(_frame(_run("a", 0, rng), later), "a", "b")
    missing = changes[changes.after == "missing"]
    assert set(zip(missing.case_id, missing.lane, missing.verdict)) == {("conv2d[4]", lane, "regression")
                                                                         for lane in LANES}


def test_every_profile_times_enough_rounds_for_the_gate():
    from tfparity.timing import BENCHMARK_SETTINGS

    for profile, settings in BENCHMARK_SETTINGS.items():
        assert settings["benchmark_min_rounds"] >= DEFAULT.min_samples, profile
