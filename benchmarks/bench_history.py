"""History at scale: ``results.load`` and the report over 100 runs × 2,000 records (issue 6: at most 10 s).

Synthesizes the history (once, under --dir): 3 machines taking turns, TensorFlow / LiteRT versions
changing every 30 runs, each run one record per case of the full op registry (first --records, lanes
taking turns), with an outcome, error metrics and raw timing samples as a quick-profile run records
them (as many rounds as fit the quick profile's ``benchmark_max_time``, 5 to 6,000, of which at most
``timing.MAX_SAMPLES`` are kept; ``--round-time`` sets another window).
Then times the first load (every JSON line parsed, the per-run cache written) once, and later loads
(cache read) and the report build --repeats times each.

    .venv/bin/python benchmarks/bench_history.py [--dir /tmp/tfparity-history] [--runs 100] [--records 2000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from tfparity.timing import BENCHMARK_SETTINGS, kept_samples

LANES = ["tf-cpu", "tf-xla", "tflite-xnnpack", "tflite-builtin", "tflite-ref", "tflite-fp16", "tflite-int8"]
OUTCOMES = (["pass"] * 90 + ["fail"] * 4 + ["xfail"] * 3 + ["unsupported"] * 2 + ["error"])
MACHINES = [{"cpu": f"CPU model {i}", "arch": "x86_64", "cores": 2 * (i + 1), "memory_gb": 16.0, "gpu": None,
             "hostname": f"bench-{i}"} for i in range(3)]
TF_VERSIONS, LITERT_VERSIONS = ["2.19.0", "2.20.0", "2.21.0", "2.21.0"], ["1.4.0", "2.0.2", "2.1.0", "2.3.0"]


def synthesize(directory: Path, runs: int, records: int, window: float, seed: int = 0) -> float:
    """Write ``runs`` run files of ``records`` results each into ``directory``; the mean samples kept per record."""
    from tfparity.ops import REGISTRY
    from tfparity.results import SCHEMA_VERSION, run_path

    cases = REGISTRY.select("full", 0)[:records]
    rng = np.random.default_rng(seed)
    lanes = [LANES[i % len(LANES)] for i in range(len(cases))]
    overhead = np.array([60e-6 if lane.startswith("tf-") else 2e-6 for lane in lanes])  # a TF call costs more
    per_call = overhead + np.array([c.flops for c in cases], float) / 5e9 * rng.uniform(0.5, 2.0, len(cases))
    counts = np.clip((window / per_call).astype(int), 5, 6000)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    directory.mkdir(parents=True, exist_ok=True)
    for r in range(runs):
        run_id = f"{(start + timedelta(days=r)):%Y%m%dT%H%M%SZ}-{r:06x}"
        era = min(r * len(TF_VERSIONS) // runs, len(TF_VERSIONS) - 1)
        header = {"type": "run", "schema_version": SCHEMA_VERSION, "run_id": run_id,
                  "started_utc": (start + timedelta(days=r)).isoformat(), "git_commit": f"{r:040x}",
                  "profile": "quick", "seed": 0, "threads": 2, "lanes": LANES, "machine": MACHINES[r % 3],
                  "versions": {"python": "3.11.7", "numpy": "2.4.6", "tensorflow": TF_VERSIONS[era],
                               "ai_edge_litert": LITERT_VERSIONS[era]}, "peak_gflops": 50.0}
        lines = [orjson.dumps(header)]
        for i, case in enumerate(cases):
            median = per_call[i] * (1 + 0.3 * (r % 3))
            rounds = median * rng.lognormal(0, 0.05, counts[i])
            samples, stride = kept_samples(rounds)
            error = float(rng.lognormal(-16, 1))
            lines.append(orjson.dumps({
                "type": "result", "run_id": run_id, "case_id": case.id, "op": case.op.name, "params": case.params,
                "seed": case.seed, "lane": lanes[i], "outcome": OUTCOMES[rng.integers(len(OUTCOMES))],
                "reason": "", "tolerance": {"atol": 0.0, "rtol": 1e-5, "scale": "|ref|"},
                "metrics": {"max_abs": error, "max_rel": error * 3, "rmse": error / 4, "cosine": 1.0,
                            "max_norm": error, "tol_used": error / 1e-5},
                "timing": {"median_s": float(np.median(rounds)), "iqr_s": float(np.subtract(
                    *np.percentile(rounds, [75, 25]))), "min_s": float(rounds.min()), "rounds": int(counts[i]),
                    "iterations": 1, "unit": "s", "samples": samples, "samples_stride": stride},
                "flops": case.flops, "gflops": case.flops / median / 1e9, "pct_peak": case.flops / median / 5e8,
                "tflite_ops": ["CONV_2D"], "settings": {"device": "CPU"}, "duration_s": 0.1},
                option=orjson.OPT_SERIALIZE_NUMPY))
        run_path(directory, run_id).write_bytes(b"\n".join(lines) + b"\n")
    return float(np.mean([len(kept_samples(np.empty(n))[0]) for n in counts]))


def timed(fn) -> float:
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (a first load's worker processes), user and system."""
    return sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/tfparity-history"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--round-time", type=float, default=BENCHMARK_SETTINGS["quick"]["benchmark_max_time"],
                        help="seconds of timed rounds per record (default: the quick profile's)")
    args = parser.parse_args()

    from report.build import build
    from tfparity import results

    data, stamp = args.dir / "results", args.dir / "synthesized"
    made = f"{args.runs} runs x {args.records} records, {args.round_time:g} s of rounds"
    if not stamp.is_file() or stamp.read_text() != made:
        shutil.rmtree(data, ignore_errors=True)
        mean = synthesize(data, args.runs, args.records, args.round_time)
        stamp.write_text(made)
        print(f"synthesized {made}: {mean:.0f} timing samples per record")
    size = sum(p.stat().st_size for p in results.run_files(data)) / 2**30
    results.clear_cache(data)
    cpu = cpu_seconds()
    cold = timed(lambda: results.load(data))
    cpu = cpu_seconds() - cpu
    warm = [timed(lambda: results.load(data)) for _ in range(args.repeats)]
    report = [timed(lambda: build(data, args.dir / "report")) for _ in range(args.repeats)]
    frame = results.load(data)
    print(f"{len(results.run_files(data))} run files, {size:.2f} GiB of JSON, {len(frame)} records")
    print(f"{'first load (parse, write cache)':<34} {cold:6.2f} s ({cpu:.2f} s CPU, workers included)")
    for name, times in (("load (cached)", warm), ("report build (incl. load)", report)):
        print(f"{name:<34} {statistics.median(times):6.2f} s median (of {', '.join(f'{t:.2f}' for t in times)})")

if __name__ == "__main__":
    main()
