"""pytest integration: ``pytest suites/ --lanes=... --profile=...`` runs and records the suites.

Options: ``--lanes`` (names, or ``all``), ``--profile``, ``--ops``, ``--select`` (a ``-k``-style
expression over ``<case id>-<lane>`` that, unlike pytest's ``-k``, accepts ``=`` and ``,``), ``--limit``
(first N cases per op), ``--seed``, ``--threads``, ``--results-dir``, ``--run-id``.
A suite module names its op in ``OP`` and has one test taking ``case``, ``lane`` and
``tfparity_check``; this plugin parametrizes it over the registry's cases x lanes (marks: the
lane and the op, ``-`` -> ``_``) and records each result as it finishes.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TF import; `--verbose` in the CLI clears it

import pytest  # noqa: E402

from tfparity import results  # noqa: E402
from tfparity.cases import PROFILES  # noqa: E402

OUTCOME_KEY = pytest.StashKey[Counter]()


def pytest_addoption(parser):
    group = parser.getgroup("tfparity")
    group.addoption("--lanes", default="default", help="lanes: names, or a group: default, float, quant, all")
    group.addoption("--profile", default="quick", choices=PROFILES, help="case grid size (default: quick)")
    group.addoption("--ops", default=None, help="comma-separated op names (default: every op of the suite)")
    group.addoption("--select", default=None, help='cases: -k style expression, e.g. "conv2d and pad=SAME"')
    group.addoption("--limit", type=int, default=None, help="only the first N cases of each op")
    group.addoption("--seed", type=int, default=0, help="run seed; each case derives its own (default: 0)")
    group.addoption("--threads", type=int, default=os.cpu_count() or 1, help="interpreter / TF intra-op threads")
    group.addoption("--results-dir", default="results", help="where the run file goes (default: results/)")
    group.addoption("--run-id", default=None, help="run id (default: UTC time + random suffix)")


def _marker(name: str) -> str:
    return name.replace("-", "_")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config):
    from tfparity.cases import matches
    from tfparity.lanes import LANES, parse_lanes
    from tfparity.ops import REGISTRY
    from tfparity.timing import BENCHMARK_SETTINGS

    try:
        config.tfparity_lanes = parse_lanes(config.getoption("lanes"))
        ops = config.getoption("ops")
        config.tfparity_ops = [o.strip() for o in ops.split(",") if o.strip()] if ops else None
        REGISTRY.select(config.getoption("profile"), 0, ops=config.tfparity_ops)  # validates op names
        matches("", config.getoption("select"))  # validates the expression
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("threads") < 1:
        raise pytest.UsageError("--threads must be at least 1")
    for name in list(LANES) + list(REGISTRY.specs):
        config.addinivalue_line("markers", f"{_marker(name)}: tfparity lane or op {name}")
    given = " ".join(config.invocation_params.args)
    for dest, value in BENCHMARK_SETTINGS[config.getoption("profile")].items():
        if "--" + dest.replace("_", "-") not in given:
            setattr(config.option, dest, value)
    config.stash[OUTCOME_KEY] = Counter()
    config.tfparity_writer = None


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    from tfparity.cases import matches
    from tfparity.ops import REGISTRY

    config = metafunc.config
    op = metafunc.module.OP
    wanted = config.tfparity_ops is None or op in config.tfparity_ops
    cases = REGISTRY.select(config.getoption("profile"), config.getoption("seed"), ops=[op],
                            limit=config.getoption("limit")) if wanted else []
    expr = config.getoption("select")
    metafunc.parametrize(("case", "lane"), [
        pytest.param(case, lane, id=f"{case.id}-{lane}",
                     marks=[getattr(pytest.mark, _marker(lane)), getattr(pytest.mark, _marker(op))])
        for case in cases for lane in config.tfparity_lanes if matches(f"{case.id}-{lane}", expr)])


def pytest_collection_modifyitems(config, items):
    """Suites with no selected (case, lane) are deselected, not reported as skipped."""
    from tfparity.cases import Case

    empty = [item for item in items if "case" in getattr(item, "fixturenames", ())
             and not isinstance(getattr(item, "callspec", None) and item.callspec.params.get("case"), Case)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


def _writer(config):
    """The run file, opened (and its header written) when the first case finishes."""
    if config.tfparity_writer is None:
        from tfparity import lanes, machine, timing

        threads = config.getoption("threads")
        lanes.configure_tf_threads(threads)
        header = {
            "type": "run", "schema_version": results.SCHEMA_VERSION,
            "run_id": config.getoption("run_id") or results.new_run_id(),
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": machine.git_commit(), "profile": config.getoption("profile"),
            "seed": config.getoption("seed"), "threads": threads, "lanes": config.tfparity_lanes,
            "lane_status": {name: reason or "available" for name, (ok, reason) in _availability(config).items()},
            "parallel": False, "machine": machine.machine(), "versions": machine.versions(),
            "peak_gflops": timing.peak_gflops(),
        }
        config.tfparity_header = header
        config.tfparity_writer = results.RunWriter(config.getoption("results_dir"), header)
    return config.tfparity_writer


def _availability(config) -> dict:
    if not hasattr(config, "tfparity_availability"):
        from tfparity.lanes import LANES

        config.tfparity_availability = {name: LANES[name].available() for name in config.tfparity_lanes}
    return config.tfparity_availability


@pytest.fixture
def tfparity_check(request, benchmark):
    """Check (case, lane), append the record, and map its outcome onto pytest's."""
    from tfparity.check import check

    def run(case, lane):
        config = request.config
        writer = _writer(config)
        record = check(case, lane, benchmark=benchmark, run_id=writer.run_id, threads=config.getoption("threads"),
                       peak_gflops=config.tfparity_header["peak_gflops"], availability=_availability(config)[lane],
                       results_dir=writer.path.parent)
        writer.write(record)
        if lane == config.tfparity_lanes[-1]:
            case.release()
        config.stash[OUTCOME_KEY][(lane, record["outcome"])] += 1
        outcome, reason = record["outcome"], record["reason"]
        if outcome in ("fail", "error"):
            pytest.fail(f"{outcome}: {reason}", pytrace=False)
        if outcome == "xfail":
            pytest.xfail(reason)
        if outcome in ("unsupported", "skip"):
            pytest.skip(f"{outcome}: {reason}")

    return run


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    # Run files hold every timing; pytest-benchmark's own table of thousands of rows is noise.
    # (This wrapper runs before pytest-benchmark's, which turns its list into that table.)
    bench_session = getattr(config, "_benchmarksession", None)
    if bench_session is not None:
        bench_session.benchmarks.clear()
    writer = getattr(config, "tfparity_writer", None)
    if writer is not None:
        writer.close()
        counts = config.stash[OUTCOME_KEY]
        if counts and all(outcome == "skip" for _, outcome in counts):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return (yield)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    writer = getattr(config, "tfparity_writer", None)
    if writer is None:
        return
    counts = config.stash[OUTCOME_KEY]
    tr = terminalreporter
    tr.section("tfparity")
    outcomes = ("pass", "fail", "xfail", "unsupported", "error", "crash", "skip")
    tr.write_line(f"{'lane':<22}" + "".join(f"{o:>12}" for o in outcomes))
    for lane in config.tfparity_lanes:
        tr.write_line(f"{lane:<22}" + "".join(f"{counts.get((lane, o), 0):>12}" for o in outcomes))
    tr.write_line(f"run file: {writer.path}")
    if counts and all(outcome == "skip" for _, outcome in counts):
        tr.write_line("EVERY CASE SKIPPED: nothing was checked on this machine (see lane reasons above)", red=True,
                      bold=True)
