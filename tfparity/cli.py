"""``python -m tfparity``: run | report | list | compare | repro. ``run`` is a thin wrapper over pytest.

Bad input (unknown lane, op or profile, a malformed option, an unwritable results directory)
prints one line to stderr and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from tfparity import machine

ROOT = Path(__file__).resolve().parents[1]
SUITES = {"ops": [ROOT / "suites" / "test_ops.py"], "models": [ROOT / "suites" / "test_models.py"],
          "all": [ROOT / "suites" / "test_ops.py", ROOT / "suites" / "test_models.py"]}


class UsageError(Exception):
    """A one-line user error: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)

# --group: the op cases' benchmark groups, as the -k term that selects them (layer shapes' ids end in network=NAME)
GROUPS = {"layers": "network=", "grid": "not network="}
GROUP_HELP = ("layers: the layer shapes of real networks (MobileNetV2, ResNet50, MTCNN, BlazeFace-style); "
              "grid: the sampled and corner cases (combined with -k by 'and')")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _jobs(text: str) -> int:
    return os.cpu_count() or 1 if text == "auto" else _positive(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= value < 1e6:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 1e6, got {text}")
    return value


def _between(low: float, high: float, what: str):
    """An argparse type: a number strictly between ``low`` and ``high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_above_one = _between(1, 1e6, "a number above 1")
_probability = _between(0, 1, "a probability between 0 and 1")


def _run_id(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", text):
        raise argparse.ArgumentTypeError(f"expected letters, digits, - and _ only, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    from tfparity import registries

    parser = _Parser(prog="python -m tfparity", description="TensorFlow / LiteRT conformance and benchmark suite")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log output")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run suites, append a run file under --results-dir")
    run.add_argument("--profile", default="quick", choices=("quick", "full"))
    run.add_argument("--lanes", default="default",
                     help="comma-separated lane names, or a group: default, float, quant, all")
    run.add_argument("--suite", default="all", choices=sorted(SUITES),
                     help="ops, models (whole networks) or all (default)")
    run.add_argument("--model", default=None,
                     help="run this .tflite / .keras / SavedModel / frozen graph .pb (implies --suite models)")
    run.add_argument("--inputs", default=None, help="with --model: the inputs as a .npz (default: seeded draws)")
    for option, text in registries.FROZEN_OPTIONS.items():
        run.add_argument(option, default=None, help=text)
    run.add_argument("--ops", default=None, help="comma-separated op names (default: all)")
    run.add_argument("-k", dest="keyword", default=None,
                     help='select cases: and/or/not over substrings of "<case id>-<lane>", e.g. "conv2d and pad=SAME"')
    run.add_argument("--limit", type=_positive, default=None, help="only the first N cases of each op (smoke runs)")
    run.add_argument("--group", choices=sorted(GROUPS), default=None, help=GROUP_HELP)
    run.add_argument("--threads", type=machine.thread_counts, default=None,
                     help="interpreter / TF intra-op threads per worker (default: the cores shared among --jobs); a "
                          "list (1,2) also measures whole models' lifecycle at each count (thread scaling)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--results-dir", default="results")
    run.add_argument("--jobs", type=_jobs, default=1,
                     help="worker processes (default 1; auto: one per core); more than 1 checks conformance only, "
                          "in parallel, with timing off")
    run.add_argument("--no-timing", action="store_true", help="conformance only: no timing (records say timing null)")
    run.add_argument("--timeout", type=_seconds, default=None,
                     help="per-case time limit in seconds (default: 120 quick, 900 full; 0: none); "
                          "a case over it is recorded as crash")
    run.add_argument("--shard", default=None, help="I/N: only the I-th of N deterministic parts of the cases")
    run.add_argument("--run-id", type=_run_id, default=None, help="run id (default: UTC time + random suffix); "
                     "the shards of one run share it")

    report = sub.add_parser("report", help="render the HTML report from every run file")
    report.add_argument("--results-dir", default="results")
    report.add_argument("--out", default=None, help="output directory (default: RESULTS_DIR/report)")

    compare = sub.add_parser("compare", help="what changed from run A to run B; exit 1 on a regression (a CI gate)")
    compare.add_argument("run_a", metavar="RUN_A", help="the earlier run: a run id in --results-dir or a run file")
    compare.add_argument("run_b", metavar="RUN_B", nargs="?", help="the later run (not with --lanes)")
    compare.add_argument("--lanes", nargs=2, metavar=("LANE_A", "LANE_B"), help="compare two lanes of RUN_A instead, "
                         "e.g. a lane and its pinned twin: tflite-xnnpack tflite-xnnpack@ai-edge-litert==2.1.6")
    compare.add_argument("--results-dir", default="results")
    compare.add_argument("--min-ratio", type=_above_one, help="latency: least ratio of medians that counts "
                         "(default: tfparity.regress.DEFAULT)")
    compare.add_argument("--alpha", type=_probability, help="latency: Mann-Whitney p-value below which a shift "
                         "is significant")
    compare.add_argument("--error-ratio", type=_above_one, help="accuracy: least factor on max_norm that counts")

    repro = sub.add_parser("repro", help="export a standalone reproduction of one record (script, model, inputs)")
    repro.add_argument("case_id", metavar="CASE_ID")
    repro.add_argument("lane", metavar="LANE")
    repro.add_argument("--out", required=True, help="directory to write (created; must be empty if it exists)")
    repro.add_argument("--results-dir", default="results")
    repro.add_argument("--run", default=None, help="the run whose record to reproduce (default: the latest with it)")

    export = sub.add_parser("export-mtcnn", help="write MTCNN as a frozen TF1 graph (pnet/, rnet/, onet/ in one .pb)")
    export.add_argument("out", metavar="OUT.pb")
    export.add_argument("--prelu", default="maxmin", choices=("maxmin", "neg"),
                        help="PReLU as max(x,0)+a*min(x,0) (quantizes) or relu(x)+a*-relu(-x) (the TF1 port's Neg)")

    listing = sub.add_parser("list", help="list lanes or cases")
    listing.add_argument("what", choices=("lanes", "cases"))
    listing.add_argument("--profile", default="quick", choices=("quick", "full"))
    listing.add_argument("--ops", default=None)
    listing.add_argument("-k", dest="keyword", default=None, help="select cases (as for run)")
    listing.add_argument("--limit", type=_positive, default=None, help="only the first N cases of each op")
    listing.add_argument("--group", choices=sorted(GROUPS), default=None, help=GROUP_HELP)
    return parser


def _ops(text: str | None) -> list[str] | None:
    return [o.strip() for o in text.split(",") if o.strip()] if text else None


def _writable(directory: str) -> None:
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"results directory {directory} is not writable: {exc.strerror or exc}") from None


def cmd_list(args) -> int:
    from tfparity import registries
    from tfparity.cases import matches
    from tfparity.lanes import LANE_GROUPS, LANES

    if args.what == "lanes":
        for name, lane in LANES.items():
            ok, reason = lane.available()
            extra = "" if name in LANE_GROUPS["default"] else " (not in the default group)"
            print(f"{name:<22} {lane.kind:<10} {'available' if ok else 'skipped: ' + reason}{extra}  - {lane.doc}")
        return 0
    cases = registries.select("all", args.profile, 0, _ops(args.ops), args.limit)
    shown = [c for c in cases if matches(c.id, args.keyword)]
    for case in shown:
        print(case.id)
    print(f"{len(shown)} cases ({args.profile} profile)", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    import pytest

    from tfparity import registries, results
    from tfparity.cases import matches
    from tfparity.lanes import parse_lanes
    from tfparity.sharding import in_shard, parse_shard, shard_name

    lanes = parse_lanes(args.lanes)
    ops = _ops(args.ops)
    if args.inputs and not args.model:
        raise UsageError("--inputs needs --model")
    arrays = registries.frozen_arrays(lambda dest: getattr(args, dest))
    if any(arrays.values()) and not args.model:
        raise UsageError("--input-arrays, --output-arrays and --input-shapes need --model")
    if args.model:  # a bad path or file is a one-line error here
        args.suite, ops = "models", [registries.add_given_model(args.model, args.inputs, arrays)]
    shard = parse_shard(args.shard)
    pairs = [(c, lane) for c in registries.select(args.suite, args.profile, args.seed, ops, args.limit)
             for lane in lanes
             if in_shard(c.id, shard) and matches(f"{c.id}-{lane}", args.keyword)]
    _writable(args.results_dir)
    run_id = args.run_id or results.new_run_id()
    path = results.run_path(args.results_dir, run_id, shard_name(shard))
    if path.exists():
        raise UsageError(f"{path} exists already: give another --run-id")
    timing = not args.no_timing and args.jobs == 1
    args.threads = args.threads or (max(1, (os.cpu_count() or 1) // args.jobs),)
    # full: ResNet50 at 224 px on the reference kernels takes 318 s timed (10 rounds of 7.8 s, each op alone, lifecycle)
    timeout = args.timeout if args.timeout is not None else {"quick": 120, "full": 900}[args.profile]
    argv = [*map(str, SUITES[args.suite]), f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), "-q",
            "-p", "no:cacheprovider", "--profile", args.profile, "--lanes", args.lanes,
            "--threads", ",".join(map(str, args.threads)), "--seed", str(args.seed), "--results-dir", args.results_dir,
            "--run-id", run_id, "-n", str(args.jobs), "--dist", "load", "--max-worker-restart", str(len(pairs)),
            "--case-timeout", str(timeout)]
    if shard:
        argv += ["--shard", shard_name(shard)]
    if not timing:
        argv += ["--no-timing"]
    if args.model:
        argv += ["--model", str(Path(args.model).resolve())] + (["--inputs", args.inputs] if args.inputs else [])
        argv += [item for key, value in arrays.items() if value for item in (f"--{key.replace('_', '-')}", value)]
    elif ops:
        argv += ["--ops", ",".join(ops)]
    if args.keyword:
        argv += ["--select", args.keyword]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    print(f"tfparity: {len({c.id for c, _ in pairs})} cases, {len(pairs)} (case, lane) checks on {len(lanes)} lanes "
          f"({args.profile} profile, {args.threads[0]} threads, {args.jobs} worker process{'es' * (args.jobs > 1)}, "
          f"timing {'on' if timing else 'off'})", file=sys.stderr)
    status = pytest.main(argv)
    if not path.exists():
        print("tfparity: no case was selected; nothing was run", file=sys.stderr)
        return 2 if status == pytest.ExitCode.NO_TESTS_COLLECTED else int(status)
    print(f"tfparity: run file {path}", file=sys.stderr)  # the plugin failed the run if it checked nothing
    return 0 if status in (pytest.ExitCode.OK,) else int(status)


def cmd_report(args) -> int:
    from report.build import build

    try:
        out = build(args.results_dir, args.out, asv_conf=ROOT / "asv.conf.json")
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a record field of the wrong shape
        raise UsageError(f"cannot build the report from {args.results_dir}: a record has a malformed field "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    print(out / "index.html")
    return 0


def cmd_compare(args) -> int:
    from dataclasses import replace

    from tfparity import regress, results

    if (args.run_b is None) == (args.lanes is None):
        raise UsageError("compare takes RUN_A RUN_B, or RUN --lanes LANE_A LANE_B")
    given = {k: getattr(args, k) for k in ("min_ratio", "alpha", "error_ratio") if getattr(args, k) is not None}
    thresholds = replace(regress.DEFAULT, **given)
    if args.lanes:
        frame, before, after = _lanes_as_runs(args.run_a, args.results_dir, *args.lanes)
    else:
        files = [results.find_run(spec, args.results_dir) for spec in (args.run_a, args.run_b)]
        before, after = (results.header(paths[0]) for paths in files)
        frame = results.load_files(list(dict.fromkeys(files[0] + files[1])))
    changes = regress.compare_runs(frame, before["run_id"], after["run_id"], thresholds=thresholds)
    print(regress.render(changes, before, after, thresholds))
    return 1 if (changes.verdict == "regression").any() else 0


def _lanes_as_runs(run: str, results_dir: str, lane_a: str, lane_b: str):
    """One run's records of two lanes as two runs of one lane named ``A vs B`` (so ``compare_runs`` pairs their
    cases), with the run's header for each."""
    import pandas as pd

    from tfparity import results

    files = results.find_run(run, results_dir)
    header = results.header(files[0])
    frame = results.load_files(files)
    missing = [lane for lane in (lane_a, lane_b) if lane not in set(frame.lane)]
    if missing:
        raise UsageError(f"run {header['run_id']} has no records of lane {', '.join(missing)}")
    pair = f"{lane_a} vs {lane_b}"
    ids = [f"{header['run_id']}:{lane}" for lane in (lane_a, lane_b)]
    parts = [frame[frame.lane == lane].assign(run_id=run_id, lane=pair) for lane, run_id in zip((lane_a, lane_b), ids)]
    return pd.concat(parts, ignore_index=True), {**header, "run_id": ids[0]}, {**header, "run_id": ids[1]}


def cmd_repro(args) -> int:
    from tfparity.repro import export

    print(export(args.case_id, args.lane, args.out, args.results_dir, args.run))
    return 0


def cmd_export_mtcnn(args) -> int:
    from tfparity.models.mtcnn_graph import INPUTS, OUTPUTS, write

    path = write(args.out, args.prelu)
    print(f"wrote {path} (PReLU as {args.prelu}); run it with:\n  python -m tfparity run --model {path} "
          f"--input-arrays {','.join(INPUTS.values())} --output-arrays {','.join(OUTPUTS)} "
          f"--input-shapes pnet/input=1x96x96x3")
    return 0


COMMANDS = {"run": cmd_run, "report": cmd_report, "list": cmd_list, "compare": cmd_compare, "repro": cmd_repro,
            "export-mtcnn": cmd_export_mtcnn}


def main(argv: list[str] | None = None) -> int:
    from tfparity.results import ResultsError

    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if getattr(args, "group", None):
            args.keyword = f"({args.keyword}) and {GROUPS[args.group]}" if args.keyword else GROUPS[args.group]
        return COMMANDS[args.command](args)
    except (UsageError, ValueError, ResultsError) as exc:
        print(f"tfparity: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfparity: interrupted; records written so far are kept", file=sys.stderr)
        return 130
