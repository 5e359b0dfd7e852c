"""tfparity's median latency on a ``.tflite`` against LiteRT's own benchmark tool, interleaved.

The tool is ``ai_edge_litert/tools/benchmark_litert_model.py`` from the installed wheel: it runs the model
with the ``CompiledModel`` API (CPU accelerator, ``--num_threads``), ``--warmup_runs`` then ``--num_runs``
timed ``run_by_name`` calls, and reports their median. tfparity's number is the median that
``python -m tfparity run --model M --lanes tflite-xnnpack`` records (the ``Interpreter`` API with the default
XNNPACK delegate, timed by pytest-benchmark). Rounds alternate the two (each a fresh process), same model and
threads; the ratio of their medians over rounds is printed (the two should agree within 10 %).

Where they differ, the third measurement says whether it is the runtime APIs and not the harnesses: in one
process, the same ``perf_counter`` loop times ``Interpreter.invoke`` and ``CompiledModel.run_by_name``,
interleaved call by call.

    .venv/bin/python benchmarks/bench_litert_tool.py [--model mtcnn_onet | PATH.tflite] [--threads 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tool_path() -> Path:
    import ai_edge_litert

    path = Path(ai_edge_litert.__file__).parent / "tools" / "benchmark_litert_model.py"
    if not path.exists():
        sys.exit(f"{path} is not in the installed ai-edge-litert wheel")
    return path


def model_file(name: str, work: Path) -> Path:
    """A path as given, or the float conversion of a built-in model (through tfparity's cache)."""
    if name.endswith(".tflite"):
        return Path(name).resolve()
    from tfparity.convert import convert
    from tfparity.models import MODELS

    path = work / f"{name}.tflite"
    path.write_bytes(convert(MODELS.select("quick", 0, ops=[name])[0], "float"))
    return path


def tool_median(model: Path, threads: int, runs: int, work: Path) -> float:
    out = work / "tool.json"
    subprocess.run([sys.executable, str(tool_path()), f"--model={model}", f"--num_threads={threads}",
                    f"--num_runs={runs}", "--warmup_runs=20", f"--result_json={out}"], check=True,
                   capture_output=True)
    return json.loads(out.read_text())["latency"]["median_ms"] / 1e3


def tfparity_median(model: Path, threads: int, work: Path) -> float:
    results = work / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "tfparity", "run", "--model", str(model), "--lanes", "tflite-xnnpack",
                    "--threads", str(threads), "--results-dir", str(results)], check=True, capture_output=True, env=env)
    newest = max(results.glob("run-*.jsonl"), key=lambda p: p.stat().st_mtime)
    record = [json.loads(line) for line in newest.read_text().splitlines()][-1]
    return record["timing"]["median_s"]


def same_loop(model: Path, threads: int, runs: int) -> tuple[float, float]:
    """Medians (s) of Interpreter.invoke and CompiledModel.run_by_name timed by one loop, interleaved."""
    import numpy as np
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.options import CpuOptions, Options

    it = Interpreter(model_path=str(model), num_threads=threads)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        it.set_tensor(d["index"], rng.uniform(-1, 1, d["shape"]).astype(d["dtype"]))
    compiled = CompiledModel.from_file(str(model), options=Options(hardware_accelerators=HardwareAccelerator.CPU,
                                                                  cpu_options=CpuOptions(num_threads=threads)))
    key = list(compiled.get_signature_list())[0]
    ins = {n: compiled.create_input_buffer_by_name(key, n) for n in compiled.get_input_tensor_details(key)}
    outs = {n: compiled.create_output_buffer_by_name(key, n) for n in compiled.get_output_tensor_details(key)}
    for name, buf in ins.items():
        shape = compiled.get_input_tensor_details(key)[name]["shape"]
        buf.write(rng.uniform(-1, 1, shape).astype(np.float32))
    calls = {"interpreter": it.invoke, "compiled_model": lambda: compiled.run_by_name(key, ins, outs)}
    times = {name: [] for name in calls}
    for _ in range(20):  # warm-up
        for call in calls.values():
            call()
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["interpreter"]), statistics.median(times["compiled_model"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mtcnn_onet", help="a built-in model name or a .tflite path")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200, help="timed calls per tool run and per same-loop API")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = model_file(args.model, work)
        ours, tools = [], []
        for _ in range(args.rounds):
            ours.append(tfparity_median(model, args.threads, work))
            tools.append(tool_median(model, args.threads, args.runs, work))
        interpreter, compiled = same_loop(model, args.threads, args.runs)
        size = model.stat().st_size
    a, b = statistics.median(ours), statistics.median(tools)
    print(f"model {args.model} ({size} bytes), {args.threads} thread(s), "
          f"{args.rounds} interleaved rounds")
    print(f"tfparity (Interpreter, XNNPACK)  median {a * 1e3:.4g} ms  rounds {[round(x * 1e3, 4) for x in ours]}")
    print(f"LiteRT tool (CompiledModel, CPU) median {b * 1e3:.4g} ms  rounds {[round(x * 1e3, 4) for x in tools]}")
    print(f"ratio tfparity / tool: {a / b:.3f} ({'within' if abs(a / b - 1) <= 0.10 else 'OUTSIDE'} 10 %)")
    print(f"same loop, one process: Interpreter.invoke {interpreter * 1e3:.4g} ms, CompiledModel.run_by_name "
          f"{compiled * 1e3:.4g} ms, ratio {interpreter / compiled:.3f}")


if __name__ == "__main__":
    main()
