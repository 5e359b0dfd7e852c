"""``python -m tfparity repro CASE_ID LANE --out DIR``: one record as a standalone reproduction.

Writes the script (``repro.py``, a copy of :mod:`tfparity.repro_script`), the model (``model.tflite`` as
the lane converted it, or the TF function as ``saved_model/``), ``inputs.npz``, ``expected.npz`` and
``repro.json`` (the record, the lane's runtime settings). The script needs only numpy and tensorflow
or ai-edge-litert, so the directory can be attached to an upstream bug report as it is.

The case is rebuilt from the registry (its id, the run's profile and seed) and must give the record's
case seed, so the inputs are those the record was measured on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tfparity import lanes, quant, results
from tfparity.check import float_bound, judges_zero_signs

NUMERIC = ("pass", "fail", "xfail")


def _record(case_id: str, lane: str, results_dir: str, run: str | None) -> tuple[dict, dict]:
    """Header and record of the latest (case_id, lane) result in ``results_dir`` (or in run ``run``)."""
    paths = results.find_run(run, results_dir) if run else results.run_files(results_dir)
    frame = results.load_files(paths)
    rows = frame[(frame.case_id == case_id) & (frame.lane == lane)]
    if rows.empty:
        raise ValueError(f"no record of {case_id} on {lane} in {run or results_dir}")
    row = rows.sort_values("started_utc", kind="stable").iloc[-1]
    if row.outcome not in NUMERIC:
        raise ValueError(f"the record is {row.outcome!r} ({row.reason}): only a pass, fail or xfail has "
                         "outputs to reproduce")
    header, records = results.read_run(next(p for p in paths if p.name == row.run_file))
    return header, [r for r in records if r["case_id"] == case_id and r["lane"] == lane][-1]


def _case(case_id: str, header: dict, record: dict):
    from tfparity.ops import REGISTRY

    op = record["op"]
    if op not in REGISTRY.specs:
        raise ValueError(f"{case_id}: repro covers the op registry; {op!r} is not an op there")
    for case in REGISTRY.select(header["profile"], header["seed"], ops=[op]):
        if case.id == case_id:
            if case.seed != record["seed"]:
                raise ValueError(f"{case_id}: the registry now gives seed {case.seed}, the record has "
                                 f"{record['seed']}: the case changed since the run")
            return case
    raise ValueError(f"{case_id}: no such case in the {header['profile']} profile of the registry any more")


def export(case_id: str, lane: str, out: str | Path, results_dir: str = "results", run: str | None = None) -> Path:
    """Write the reproduction of the latest record of (``case_id``, ``lane``) into ``out``; the script's path."""
    lane_spec = lanes.LANES.get(lane)
    if lane_spec is None or not lane_spec.capabilities.repro:
        raise ValueError(f"repro covers the TensorFlow and in-process LiteRT interpreter lanes, not {lane!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty")
    header, record = _record(case_id, lane, results_dir, run)
    case = _case(case_id, header, record)
    threads = int(header["threads"])
    graph = "graph" in lane_spec.capabilities.formats  # a TF lane: the function itself; else its .tflite
    if graph:
        lanes.configure_tf_threads(threads)
    runnable = lane_spec.prepare(case, threads)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"recorded": {**record, "timing": {k: v for k, v in (record.get("timing") or {}).items() if k != "samples"}},
            "threads": threads, "versions": header["versions"], "machine": header["machine"],
            "signed_zeros": judges_zero_signs(case)}
    inputs = case.arrays.inputs
    if graph:
        spec.update(runtime="tensorflow", device=f"/{lane_spec.device}:0")
        _save_function(case, lane_spec.xla, out / "saved_model")
    else:
        spec.update(runtime="tflite", resolver=lanes.RESOLVERS[lane_spec.resolver])
        if runnable.output_quant is not None:  # the integer lanes' per-element rule, as check() applied it
            against, allowed, allowed_rms, note = quant.rule(lane_spec.judged_as, case)
            spec.update(against=against, allowed_lsb=allowed, allowed_rms_lsb=allowed_rms, rule=note)
        (out / "model.tflite").write_bytes(runnable.model)
    np.savez(out / "inputs.npz", **{f"x{i}": x for i, x in enumerate(inputs)})
    np.savez(out / "expected.npz", **_expected(case, lane, runnable, spec))
    (out / "repro.json").write_text(json.dumps(spec, indent=1, allow_nan=True))
    script = out / "repro.py"
    shutil.copyfile(Path(__file__).with_name("repro_script.py"), script)
    return script


def _expected(case, lane: str, runnable, spec: dict) -> dict[str, np.ndarray]:
    """Reference output, error scale and allowed error as ``check`` judged them (integer models: on the
    inputs the model saw, with the exact integer output of ``reference.tflite``)."""
    import reference.tflite

    if runnable.output_quant is not None:
        q_inputs, expected, magnitude = quant.seen_reference(case, runnable)
        (exact,) = reference.tflite.run(runnable.model, q_inputs)
        spec["output_scale"] = runnable.output_quant.scale
        return {"expected": expected, "magnitude": np.broadcast_to(magnitude, expected.shape),
                "exact": exact.astype(np.int64)}
    expected, magnitude, atol, rtol, _ = float_bound(case, lanes.LANES[lane], runnable.model)
    return {"expected": expected, "magnitude": np.broadcast_to(magnitude, expected.shape),
            "allowed": np.broadcast_to(atol + rtol * magnitude, expected.shape)}


def _save_function(case, xla: bool, path: Path) -> None:
    """The lane's ``tf.function`` (constants captured, XLA-compiled for tf-xla) as a SavedModel with ``f``."""
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(case.op.tf(case.params, case.arrays.consts), jit_compile=xla,
                           input_signature=[tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)) for x in case.arrays.inputs])
    tf.saved_model.save(module, str(path))
