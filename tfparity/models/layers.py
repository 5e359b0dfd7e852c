"""Per-layer error of a quantized model on one lane: where does the error start?

For every op output of the integer model, in execution order: the lane's value (an interpreter built with
``experimental_preserve_all_tensors=True``), the exact integer pipeline's value (``reference.tflite.run_all``
on the same integer inputs) and the float64 reference's value of the same-named tensor of the float
conversion (``run_all(..., float64=True)`` on the float inputs). In units of the tensor's scale ``s``:
``max_lsb_vs_exact`` (the lane against the exact pipeline, differences propagated from earlier layers
included), ``max_lsb_isolated`` (the op alone: the executor's kernel fed the lane's own input tensors, so
only this op's rounding shows), ``rmse_over_scale`` and ``max_lsb_vs_float`` (quantization error against
the float model; ≈0.29 is ideal rounding).

A tensor exceeds its bound when ``max_lsb_isolated > quant.PATH_LSB`` (0 on the exact lanes: the kernel
rounds off the exact pipeline by more than one LSB, quant.py's LSB policy; :mod:`tfparity.models.check` judges
this bound) or ``rmse_over_scale > RMSE_RED_FLAG`` on an 8-bit tensor (quantization noise well above rounding,
reported: it measures the quantized model; an int16 tensor's LSB is far below the error its int8 weights carry,
so only its kernel bound applies). ``first_divergent`` is the first such tensor.
"""

from __future__ import annotations

import numpy as np

from tfparity.quant import EXACT_LANES, PATH_LSB, RMSE_RED_FLAG


def table(lane, model: bytes, q_inputs: list[np.ndarray], float_tensors: dict[str, np.ndarray],
          threads: int) -> dict:
    """``{"layers": [row, ...], "first_divergent": row or None, "unmatched": [tensor names], "float_ops": [...]}``
    for ``model`` on ``lane`` (a lane with per-layer capability); ``unmatched``: integer tensors without a
    same-named, same-shaped tensor in the float conversion, whose error against float could not be measured;
    ``float_ops``: ``#index OP`` of the ops that compute in float inside the integer model (e.g. a ``NEG`` the
    converter left between ``DEQUANTIZE`` and ``QUANTIZE``)."""
    import reference.tflite
    from reference.tflite import KERNELS
    from reference.tflite.executor import Context

    graph = reference.tflite.load(model)
    it = lane.interpreter(model, threads, preserve_all_tensors=True)
    for detail, x in zip(it.get_input_details(), q_inputs):
        it.set_tensor(detail["index"], x)
    it.invoke()
    _, exact = reference.tflite.run_all(graph, q_inputs)
    lane_values = Context(graph, float64=False)
    lane_values.values.update({i: it.get_tensor(i) for op in graph.operators for i in (*op.inputs, *op.outputs)
                               if i >= 0 and graph.tensors[i].data is None})
    lsb_bound = 0 if lane.judged_as in EXACT_LANES else PATH_LSB
    rows, first, unmatched = [], None, []
    for position, op in enumerate(graph.operators):
        tensor = graph.tensors[op.outputs[0]]
        if not tensor.quantized or tensor.dtype not in (np.int8, np.uint8, np.int16):
            continue
        scale, zero = float(tensor.scale[0]), int(tensor.zero_point[0])
        got = it.get_tensor(op.outputs[0]).astype(np.int64)
        row = {"index": position, "op": op.name, "tensor": tensor.name, "scale": scale,
               "max_lsb_vs_exact": int(np.abs(got - exact[tensor.name].astype(np.int64)).max(initial=0)),
               "max_lsb_isolated": int(np.abs(got - KERNELS[op.name](lane_values, op).astype(np.int64)).max(initial=0)),
               "rmse_over_scale": None, "max_lsb_vs_float": None}
        reference_value = float_tensors.get(tensor.name)
        if reference_value is not None and reference_value.shape == got.shape:
            lsb = ((got - zero) * scale - reference_value) / scale
            row.update(rmse_over_scale=float(np.sqrt(np.mean(lsb**2))), max_lsb_vs_float=float(np.abs(lsb).max()))
        else:  # the float conversion named or shaped this tensor otherwise: said, not silently skipped
            unmatched.append(tensor.name)
        exceeded = []
        if row["max_lsb_isolated"] > lsb_bound:
            exceeded.append(f"the op alone is {row['max_lsb_isolated']} LSB from the exact kernel (bound {lsb_bound})")
        if tensor.dtype != np.int16 and row["rmse_over_scale"] is not None and row["rmse_over_scale"] > RMSE_RED_FLAG:
            exceeded.append(f"RMSE {row['rmse_over_scale']:.3g} LSB vs float (bound {RMSE_RED_FLAG})")
        row["exceeds"] = "; ".join(exceeded)
        if exceeded and first is None:
            first = row
        rows.append(row)
    float_ops = [f"#{i} {op.name}" for i, op in enumerate(graph.operators)
                 if op.name != "DEQUANTIZE" and not graph.tensors[op.outputs[0]].quantized]
    return {"layers": rows, "first_divergent": first, "unmatched": unmatched, "float_ops": float_ops}
