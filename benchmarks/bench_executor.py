"""reference.tflite vs LiteRT's reference kernels (BUILTIN_REF) on a conv-heavy int8 model.

Builds a 4-layer 3x3 conv stack (32-64 channels at 56x56, ReLU) from seeded weights, converts it to
full-integer int8, checks both give the same output, then times them interleaved (median of N runs
each) and prints both medians and their ratio. The interpreter runs on 1 thread; numpy's BLAS too,
unless --blas-threads says otherwise (it must be set before numpy loads, hence the environment).

    .venv/bin/python benchmarks/bench_executor.py [--runs 7] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

WIDTHS = [(3, 32), (32, 32), (32, 64), (64, 64)]


def build_model(size: int = 56) -> bytes:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernels = [tf.constant((rng.standard_normal((3, 3, i, o)) / np.sqrt(9 * i)).astype(np.float32)) for i, o in WIDTHS]

    def net(x):
        for k in kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, k, 1, "SAME"))
        return x

    shape = (1, size, size, 3)
    fn = tf.function(net, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = [[rng.standard_normal(shape).astype(np.float32)] for _ in range(8)]
    converter.representative_dataset = lambda: iter(samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--blas-threads", type=int, default=1, help="threads for numpy's BLAS (default 1)")
    args = parser.parse_args()
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.blas_threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    import reference.tflite as rt

    model = build_model()
    graph = rt.load(model)
    x = np.random.default_rng(1).integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    it = Interpreter(model_content=model, num_threads=1, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    it.set_tensor(inp, x)

    def litert():
        it.invoke()
        return it.get_tensor(out)

    def executor():
        return rt.run(graph, [x])[0]

    if not np.array_equal(litert(), executor()):
        raise SystemExit("outputs differ: the executor is not bit-exact on this model")
    times = {"executor": [], "BUILTIN_REF": []}
    for _ in range(args.runs):  # interleaved, so drift affects both alike
        for name, fn in (("executor", executor), ("BUILTIN_REF", litert)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"model: {len(WIDTHS)} x conv3x3 ({WIDTHS[0][1]}-{WIDTHS[-1][1]} ch) at 56x56, int8, bit-exact: yes; "
          f"{args.runs} interleaved runs each; interpreter 1 thread, BLAS {args.blas_threads} thread(s)")
    for name, value in med.items():
        print(f"{name:>12}: median {value * 1e3:8.1f} ms")
    print(f"BUILTIN_REF / executor = {med['BUILTIN_REF'] / med['executor']:.2f}x")


if __name__ == "__main__":
    main()
