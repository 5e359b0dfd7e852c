"""Seconds per phase of a record (tfparity.phases): each phase counts its own time, nested phases apart."""

from tfparity import phases


def test_nested_phases_count_their_own_time_only(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(phases.time, "perf_counter", lambda: clock[0])
    with phases.recording() as spent:
        with phases.phase("load"):
            clock[0] += 1.0
            with phases.phase("convert"):
                clock[0] += 5.0
            clock[0] += 2.0
        with phases.phase("timing"):
            clock[0] += 0.5
    assert spent == {"load": 3.0, "convert": 5.0, "timing": 0.5}
    with phases.phase("load"):  # outside a recording: counted nowhere
        clock[0] += 1.0
    assert spent == {"load": 3.0, "convert": 5.0, "timing": 0.5}
