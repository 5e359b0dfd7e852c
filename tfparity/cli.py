"""``python -m tfparity``: run | report | list (DESIGN §2.5). ``run`` is a thin wrapper over pytest.

Bad input (unknown lane, op or profile, a malformed option, an unwritable results directory)
prints one line to stderr and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = {"ops": ROOT / "suites" / "ops"}


class UsageError(Exception):
    """A one-line user error: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tfparity", description="TensorFlow / LiteRT conformance and benchmark suite")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log output")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run suites, append a run file under --results-dir")
    run.add_argument("--profile", default="quick", choices=("quick", "full"))
    run.add_argument("--lanes", default="default",
                     help="comma-separated lane names, or a group: default, float, quant, all")
    run.add_argument("--suite", default="ops", choices=sorted(SUITES))
    run.add_argument("--ops", default=None, help="comma-separated op names (default: all)")
    run.add_argument("-k", dest="keyword", default=None,
                     help='select cases: and/or/not over substrings of "<case id>-<lane>", e.g. "conv2d and pad=SAME"')
    run.add_argument("--limit", type=_positive, default=None, help="only the first N cases of each op (smoke runs)")
    run.add_argument("--threads", type=_positive, default=os.cpu_count() or 1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--results-dir", default="results")

    report = sub.add_parser("report", help="render the HTML report from every run file")
    report.add_argument("--results-dir", default="results")
    report.add_argument("--out", default=None, help="output directory (default: RESULTS_DIR/report)")

    listing = sub.add_parser("list", help="list lanes or cases")
    listing.add_argument("what", choices=("lanes", "cases"))
    listing.add_argument("--profile", default="quick", choices=("quick", "full"))
    listing.add_argument("--ops", default=None)
    listing.add_argument("-k", dest="keyword", default=None, help="select cases (as for run)")
    listing.add_argument("--limit", type=_positive, default=None, help="only the first N cases of each op")
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
    from tfparity.cases import matches
    from tfparity.lanes import LANE_GROUPS, LANES
    from tfparity.ops import REGISTRY

    if args.what == "lanes":
        for name, lane in LANES.items():
            ok, reason = lane.available()
            extra = "" if name in LANE_GROUPS["default"] else " (not in the default group)"
            print(f"{name:<22} {lane.kind:<10} {'available' if ok else 'skipped: ' + reason}{extra}  - {lane.doc}")
        return 0
    cases = REGISTRY.select(args.profile, 0, ops=_ops(args.ops), limit=args.limit)
    shown = [c for c in cases if matches(c.id, args.keyword)]
    for case in shown:
        print(case.id)
    print(f"{len(shown)} cases ({args.profile} profile)", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    import pytest

    from tfparity import results
    from tfparity.cases import matches
    from tfparity.lanes import parse_lanes
    from tfparity.ops import REGISTRY

    lanes = parse_lanes(args.lanes)
    ops = _ops(args.ops)
    pairs = [(c, lane) for c in REGISTRY.select(args.profile, args.seed, ops=ops, limit=args.limit) for lane in lanes
             if matches(f"{c.id}-{lane}", args.keyword)]
    _writable(args.results_dir)
    run_id = results.new_run_id()
    argv = [str(SUITES[args.suite]), f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), "-q",
            "-p", "no:cacheprovider", "--profile", args.profile, "--lanes", ",".join(lanes),
            "--threads", str(args.threads), "--seed", str(args.seed), "--results-dir", args.results_dir,
            "--run-id", run_id]
    if ops:
        argv += ["--ops", ",".join(ops)]
    if args.keyword:
        argv += ["--select", args.keyword]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    print(f"tfparity: {len({c.id for c, _ in pairs})} cases, {len(pairs)} (case, lane) checks on {len(lanes)} lanes "
          f"({args.profile} profile, {args.threads} threads)", file=sys.stderr)
    status = pytest.main(argv)
    path = Path(args.results_dir) / f"run-{run_id}.jsonl"
    if not path.exists():
        print("tfparity: no case was selected; nothing was run", file=sys.stderr)
        return 2 if status == pytest.ExitCode.NO_TESTS_COLLECTED else int(status)
    _, records = results.read_run(path)
    if records and all(r["outcome"] == "skip" for r in records):
        print("tfparity: EVERY CASE SKIPPED: no lane could run here; this run checked nothing", file=sys.stderr)
        return 1
    print(f"tfparity: run file {path}", file=sys.stderr)
    return 0 if status in (pytest.ExitCode.OK,) else int(status)


def cmd_report(args) -> int:
    from report.build import build

    out = build(args.results_dir, args.out)
    print(out / "index.html")
    return 0


COMMANDS = {"run": cmd_run, "report": cmd_report, "list": cmd_list}


def main(argv: list[str] | None = None) -> int:
    from tfparity.results import ResultsError

    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        return COMMANDS[args.command](args)
    except (UsageError, ValueError, ResultsError) as exc:
        print(f"tfparity: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfparity: interrupted; records written so far are kept", file=sys.stderr)
        return 130
