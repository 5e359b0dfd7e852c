"""pytest integration: ``pytest suites/ --lanes=... --profile=...`` runs and records the suites.

Options: ``--lanes`` (names, or ``all``), ``--profile``, ``--ops``, ``--select`` (a ``-k``-style
expression over ``<case id>-<lane>`` that, unlike pytest's ``-k``, accepts ``=`` and ``,``), ``--limit``
(first N cases per op), ``--seed``, ``--threads``, ``--results-dir``, ``--run-id``, ``--shard I/N``,
``--no-timing`` (conformance only) and ``--case-timeout`` (seconds; enforced in xdist workers).
Under pytest-xdist (``-n N``; the CLI always uses it) cases run in worker processes, so a crash costs one
case (:mod:`tfparity.isolation`): the controller writes the header and any ``crash`` record, workers append
their results to the same run file. Timing runs need ``-n 1``: with more workers timing is off.
A suite module names its registry in ``REGISTRY`` (``ops`` or ``models``) and has one test taking ``case``,
``lane`` and ``tfparity_check``; this plugin parametrizes it over the registry's selected cases x lanes (marks:
the lane and the op, ``-`` -> ``_``) and records each result as it finishes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TF import; `--verbose` in the CLI clears it

import pytest  # noqa: E402

from tfparity import isolation, phases, registries, results  # noqa: E402
from tfparity.cases import PROFILES  # noqa: E402
from tfparity.machine import thread_counts  # noqa: E402
from tfparity.sharding import in_shard, parse_shard, shard_name  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("tfparity")
    group.addoption("--lanes", default="default", help="lanes: names, or a group: default, float, quant, all")
    group.addoption("--profile", default="quick", choices=PROFILES, help="case grid size (default: quick)")
    group.addoption("--ops", default=None, help="comma-separated op names (default: every op of the suite)")
    group.addoption("--select", default=None, help='cases: -k style expression, e.g. "conv2d and pad=SAME"')
    group.addoption("--limit", type=int, default=None, help="only the first N cases of each op")
    group.addoption("--seed", type=int, default=0, help="run seed; each case derives its own (default: 0)")
    group.addoption("--threads", type=thread_counts, default=(os.cpu_count() or 1,),
                    help="interpreter / TF intra-op threads; a list (1,2): whole models' lifecycle at each count, "
                         "everything else at the first")
    group.addoption("--results-dir", default="results", help="where the run file goes (default: results/)")
    group.addoption("--run-id", default=None, help="run id (default: UTC time + random suffix)")
    group.addoption("--shard", default=None, help="I/N: run only the I-th of N deterministic parts of the cases")
    group.addoption("--no-timing", action="store_true", help="conformance only: no timing (timing: null)")
    group.addoption("--case-timeout", type=float, default=0, help="per-case limit in seconds in xdist workers "
                    "(0: none); a case over it ends as a crash record")
    group.addoption("--model", default=None, help="a .tflite, .keras or SavedModel to run (suites/test_models.py)")
    group.addoption("--inputs", default=None, help="with --model: its inputs as a .npz (default: seeded draws)")
    for option, text in registries.FROZEN_OPTIONS.items():
        group.addoption(option, default=None, help=text)


def threads(config) -> int:
    """The run's thread count: the first of ``--threads``."""
    return config.getoption("threads")[0]


def _lifecycle(config) -> tuple[int, ...]:
    """Thread counts whose whole-model lifecycle is measured (a fresh worker each): every count of ``--threads 1,2``;
    the full profile's one count; none in a quick run with one count (it would add a worker start per model and
    lane)."""
    counts = config.getoption("threads")
    return counts if len(counts) > 1 or config.getoption("profile") == "full" else ()


def _marker(name: str) -> str:
    return name.replace("-", "_")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config):
    from tfparity.cases import matches
    from tfparity.lanes import LANES, parse_lanes
    from tfparity.models import MODELS, byo
    from tfparity.ops import REGISTRY
    from tfparity.timing import BENCHMARK_SETTINGS

    try:
        config.tfparity_lanes = parse_lanes(config.getoption("lanes"))
        ops = config.getoption("ops")
        config.tfparity_ops = [o.strip() for o in ops.split(",") if o.strip()] if ops else None
        if config.getoption("model"):
            config.tfparity_ops = [registries.add_given_model(config.getoption("model"), config.getoption("inputs"),
                                                              registries.frozen_arrays(config.getoption))]
        registries.check_names(config.tfparity_ops)
        matches("", config.getoption("select"))  # validates the expression
        config.tfparity_shard = parse_shard(config.getoption("shard"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    for name in list(LANES) + list(REGISTRY.specs) + list(MODELS.specs) + [byo.NAME]:
        config.addinivalue_line("markers", f"{_marker(name)}: tfparity lane or op {name}")
    given = " ".join(config.invocation_params.args)
    for dest, value in BENCHMARK_SETTINGS[config.getoption("profile")].items():
        if "--" + dest.replace("_", "-") not in given:
            setattr(config.option, dest, value)
    if not _timing(config):
        config.option.benchmark_disable = True
    config.tfparity_writer = None
    if not hasattr(config, "workerinput"):  # this process owns the run file
        config.tfparity_run_id = config.getoption("run_id") or results.new_run_id()
        config.tfparity_run_path = results.run_path(config.getoption("results_dir"), config.tfparity_run_id,
                                                    shard_name(config.tfparity_shard))


def _jobs(config) -> int:
    """Processes running cases at once: xdist's worker count, 1 when not distributed."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workercount"] if workerinput else (config.getoption("numprocesses", None) or 1)


def _timing(config) -> bool:
    """Timing is on unless ``--no-timing``, or cases run in parallel (timings would be distorted)."""
    return not config.getoption("no_timing") and _jobs(config) == 1


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """pytest-benchmark turns itself off in every xdist worker; one worker alone (``-n 1``) times
    cases serially, as pytest does without xdist, so timing stays on there."""
    bench_session = getattr(session.config, "_benchmarksession", None)
    if bench_session is not None and _timing(session.config):
        bench_session.disabled = bench_session.xdist_warning = False


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    from tfparity.cases import matches
    from tfparity.models import MODELS
    from tfparity.ops import REGISTRY

    config = metafunc.config
    registry = {"ops": REGISTRY, "models": MODELS}[metafunc.module.REGISTRY]  # suites/test_ops.py, test_models.py
    names = [name for name in registry.specs if config.tfparity_ops is None or name in config.tfparity_ops]
    cases = registry.select(config.getoption("profile"), config.getoption("seed"), ops=names,
                            limit=config.getoption("limit")) if names else []
    expr = config.getoption("select")
    metafunc.parametrize(("case", "lane"), [
        pytest.param(case, lane, id=f"{case.id}-{lane}",
                     marks=[getattr(pytest.mark, _marker(lane)), getattr(pytest.mark, _marker(case.op.name))])
        for case in cases if in_shard(case.id, config.tfparity_shard)
        for lane in config.tfparity_lanes if matches(f"{case.id}-{lane}", expr)])


def pytest_collection_modifyitems(config, items):
    """Suites with no selected (case, lane) are deselected, not reported as skipped."""
    from tfparity.cases import Case

    empty = [item for item in items if "case" in getattr(item, "fixturenames", ())
             and not isinstance(getattr(item, "callspec", None) and item.callspec.params.get("case"), Case)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


def _writer(config):
    """The run file. The process owning the run (pytest, or xdist's controller once cases are collected)
    creates it with its header; xdist workers join it (its path comes in ``workerinput``)."""
    if config.tfparity_writer is None:
        from tfparity import lanes

        lanes.configure_tf_threads(threads(config))
        workerinput = getattr(config, "workerinput", None)
        config.tfparity_writer = (results.RunWriter(workerinput["tfparity_run_path"]) if workerinput
                                  else results.RunWriter(config.tfparity_run_path, _header(config)))
        config.tfparity_header = config.tfparity_writer.header
    return config.tfparity_writer


def _header(config) -> dict:
    from tfparity import machine

    jobs, isolated = _jobs(config), bool(config.getoption("numprocesses", None))
    return {
        "type": "run", "schema_version": results.SCHEMA_VERSION, "run_id": config.tfparity_run_id,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": machine.git_commit(), "profile": config.getoption("profile"),
        "seed": config.getoption("seed"), "threads": threads(config),
        **({"thread_sweep": list(config.getoption("threads"))} if len(config.getoption("threads")) > 1 else {}),
        "lanes": config.tfparity_lanes,
        "lane_status": {name: reason or "available" for name, (ok, reason) in _availability(config).items()},
        "parallel": jobs if jobs > 1 else False, "timing": _timing(config), "isolated": isolated,
        "case_timeout_s": config.getoption("case_timeout") if isolated else 0,
        "shard": shard_name(config.tfparity_shard),
        "machine": machine.machine(), "versions": machine.versions(),
        "lane_environments": _environments(config), **_speed(config),
    }


def _speed(config) -> dict:
    """``peaks`` and, when timing, each available lane's ``overhead_floor_s`` and the measured GEMMs, at the lanes'
    thread count (:mod:`tfparity.probes`); ``peak_gflops``: the float32 peak."""
    from tfparity import peaks, probes
    from tfparity.lanes import LANES

    count, started = threads(config), time.perf_counter()
    if _timing(config):
        found = probes.header({name: LANES[name] for name, (ok, _) in _availability(config).items() if ok}, count)
    else:
        found = {"peaks": peaks.combine(peaks.theoretical(count), {})}
    return {**found, "peak_gflops": found["peaks"]["float32"]["peak"], "probes_s": time.perf_counter() - started}


def _environments(config) -> dict:
    """Each available lane's own facts (a worker's environment and versions, a GPU lane's adapter)."""
    from tfparity.lanes import LANES

    found = {name: LANES[name].facts() for name, (ok, _) in _availability(config).items() if ok}
    return {name: facts for name, facts in found.items() if facts is not None}


def _availability(config) -> dict:
    if not hasattr(config, "tfparity_availability"):
        from tfparity.lanes import LANES

        config.tfparity_availability = {name: LANES[name].available() for name in config.tfparity_lanes}
    return config.tfparity_availability


@pytest.fixture
def tfparity_check(request, benchmark):
    """Check (case, lane) (a whole model: :func:`tfparity.models.check.check_model`), append the record, and
    map its outcome onto pytest's."""
    from tfparity.check import check
    from tfparity.models.check import check_model
    from tfparity.models.spec import ModelSpec

    def run(case, lane):
        config = request.config
        writer = _writer(config)
        previous, config.tfparity_last_case = getattr(config, "tfparity_last_case", case), case
        if previous is not case:  # a process holds one case's arrays at a time, whichever lanes it runs
            previous.release()
        limit = config.getoption("case_timeout") if hasattr(config, "workerinput") else 0
        with isolation.time_limit(limit), phases.recording() as spent:
            if isinstance(case.op, ModelSpec):
                record = check_model(case, lane, benchmark=benchmark, run_id=writer.run_id, threads=threads(config),
                                     availability=_availability(config)[lane], lifecycle=_lifecycle(config))
            else:
                record = check(case, lane, benchmark=benchmark, run_id=writer.run_id,
                               threads=threads(config), speed=config.tfparity_header,
                               availability=_availability(config)[lane], results_dir=writer.path.parent)
        record["phases"] = {name: round(seconds, 4) for name, seconds in spent.items()}
        writer.write(record)
        outcome, reason = record["outcome"], record["reason"]
        if outcome in ("fail", "error"):
            pytest.fail(f"{outcome}: {reason}", pytrace=False)
        if outcome == "xfail":
            pytest.xfail(reason)
        if outcome in ("unsupported", "skip"):
            pytest.skip(f"{outcome}: {reason}")

    return run


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: tell each worker (replacements too) which run file to append to."""
    node.workerinput["tfparity_run_path"] = str(node.config.tfparity_run_path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """xdist controller: write the header once cases are collected, before any is scheduled."""
    if ids:
        _writer(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem, report, sched):
    """xdist controller: a worker died running ``crashitem``; record that case as ``crash``. A whole model's record
    keeps its ``model`` field (its page shows it) and names the op that crashes the lane
    (:func:`tfparity.models.check.find_culprit`, bisecting in a worker of its own; not after the time limit, which no
    case limit would bound here)."""
    from tfparity.check import base_record
    from tfparity.lanes import LANES
    from tfparity.models.check import find_culprit, model_record
    from tfparity.models.spec import ModelSpec

    config = report.node.config
    case_id, lane = isolation.split_test_id(crashitem, config.tfparity_lanes)
    op = case_id.split("[", 1)[0]
    case = next(c for c in registries.select("all", config.getoption("profile"), config.getoption("seed"), [op])
                if c.id == case_id)
    status = isolation.exit_status(report.node)
    reason = isolation.crash_reason(status, config.getoption("case_timeout"))
    writer = _writer(config)
    model = isinstance(case.op, ModelSpec)
    record = {**(model_record if model else base_record)(case, lane, writer.run_id), "outcome": "crash",
              "reason": reason}
    if model and lane in LANES and not isolation.timed_out(status):
        find_culprit(record, case, LANES[lane], threads(config))
    writer.write(record)
    report.longrepr = f"crash: {reason} ({report.longrepr})"


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
    if writer is not None and not hasattr(config, "workerinput"):
        records = results.read_run(writer.path)[1]
        config.tfparity_counts = counts = Counter((r["lane"], r["outcome"]) for r in records)
        config.tfparity_split = _split(records, config.tfparity_header)
        config.tfparity_unchecked = _unchecked(config, counts)
        if config.tfparity_unchecked:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return (yield)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    writer = getattr(config, "tfparity_writer", None)
    if writer is None or hasattr(config, "workerinput"):
        return
    counts = config.tfparity_counts
    tr = terminalreporter
    tr.section("tfparity")
    outcomes = ("pass", "fail", "xfail", "unsupported", "error", "crash", "skip", "baseline")
    width = max(22, *(len(lane) + 2 for lane in config.tfparity_lanes))  # pinned lanes have long names
    tr.write_line(f"{'lane':<{width}}" + "".join(f"{o:>12}" for o in outcomes))
    for lane in config.tfparity_lanes:
        tr.write_line(f"{lane:<{width}}" + "".join(f"{counts.get((lane, o), 0):>12}" for o in outcomes))
    tr.write_line(config.tfparity_split)
    tr.write_line(f"run file: {writer.path}")
    for line in config.tfparity_unchecked:
        tr.write_line(line, red=True, bold=True)


def _split(records: list[dict], header: dict) -> str:
    """Where the run's time went: the run-start probes, then the records' seconds per phase (:mod:`tfparity.phases`),
    largest first, and what no phase names."""
    spent = Counter()
    for record in records:
        spent.update(record.get("phases") or {})
    total = sum(r.get("duration_s", 0) for r in records)
    parts = [f"{name} {seconds:.0f} s" for name, seconds in spent.most_common()]
    return (f"time: probes {header.get('probes_s', 0):.0f} s; cases {total:.0f} s: " + ", ".join(
        parts + [f"judging and the rest {max(total - sum(spent.values()), 0):.0f} s"]))


def _unchecked(config, counts: Counter) -> list[str]:
    """Why a run without failures still fails: a lane named on the command line (not through a group) that could
    not run here, or no (case, lane) checked at all (every record a skip or the numpy-ref speed baseline)."""
    from tfparity.lanes import LANE_GROUPS

    lines = []
    if (config.getoption("lanes") or "default") not in LANE_GROUPS:
        lines += [f"REQUESTED LANE {name} COULD NOT RUN: {reason}"
                  for name, (ok, reason) in _availability(config).items() if not ok]
    if counts and all(outcome in ("skip", "baseline") for _, outcome in counts):
        lines.append("NOTHING CHECKED: every case was skipped or only timed as a baseline (see lane reasons above)")
    return lines
