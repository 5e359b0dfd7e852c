"""Lanes: the backends a case runs on, and their registry.

A lane is small: ``available() -> (ok, reason)``, ``prepare(case, threads) -> Runnable`` and, for lanes that run
a .tflite, ``load(model, threads)``; what it accepts and where it runs is data (:class:`Capabilities`). A
:class:`Runnable` separates feeding inputs, the timed compute call and reading the output, so the timer sees
only the compute (TF results materialized, GPU synchronized; worker lanes time their own rounds).

- :mod:`tfparity.lanes.inprocess`: numpy-ref, TF (CPU, XLA, GPU), the LiteRT interpreter (XNNPACK, builtin,
  reference kernels; float, fp16, dynamic-range, int8, int16x8);
- :mod:`tfparity.lanes.remote`: lanes on the out-of-process worker (:mod:`tfparity.lanes.worker`): LiteRT's GPU
  accelerator, the legacy ``tflite-runtime``, and any TFLite lane pinned to another runtime release
  (``LANE@REQUIREMENT``), each in a virtual environment of its own (:mod:`tfparity.lanes.envs`).
"""

from __future__ import annotations

import dataclasses

from tfparity.lanes.base import Capabilities, Lane, Quantization, Refused, Runnable, converted, model_ops
from tfparity.lanes.inprocess import RESOLVERS, NumpyRefLane, TfLane, TfliteLane, configure_tf_threads, tensorflow
from tfparity.lanes.remote import WorkerCrashed, WorkerLane

__all__ = ["Capabilities", "Lane", "NumpyRefLane", "Quantization", "RESOLVERS", "Refused", "Runnable", "TfLane",
           "TfliteLane", "WorkerCrashed", "WorkerLane", "configure_tf_threads", "converted", "model_ops",
           "tensorflow", "LANES", "parse_lanes", "pinned"]

TFLITE_RUNTIME = ("tflite-runtime==2.14.0", "numpy==1.26.4")  # the legacy package's last release; it needs numpy < 2

LANES: dict[str, Lane] = {lane.name: lane for lane in (
    NumpyRefLane("numpy-ref", "reference", "float64 numpy reference"),
    TfLane("tf-cpu", "float", "tf.function on CPU", device="CPU"),
    TfLane("tf-xla", "float", "tf.function(jit_compile=True) on CPU", device="CPU", xla=True),
    TfLane("tf-gpu", "float", "tf.function on GPU, TF32 off", device="GPU"),
    TfliteLane("tflite-xnnpack", "float", "float TFLite, default XNNPACK delegate", resolver="xnnpack"),
    TfliteLane("tflite-builtin", "float", "float TFLite, builtin optimized kernels", resolver="builtin"),
    TfliteLane("tflite-ref", "float", "float TFLite, reference kernels", resolver="ref"),
    TfliteLane("tflite-fp16", "float", "float16 weights, default XNNPACK delegate", mode="fp16"),
    TfliteLane("tflite-dynamic", "quant", "dynamic-range int8 weights, default XNNPACK delegate", mode="dynamic"),
    TfliteLane("tflite-int8", "quant", "full-integer int8, default XNNPACK delegate", mode="int8"),
    TfliteLane("tflite-int8-builtin", "quant", "full-integer int8, builtin optimized kernels", mode="int8",
               resolver="builtin"),
    TfliteLane("tflite-int8-ref", "quant", "full-integer int8, reference kernels", mode="int8", resolver="ref"),
    TfliteLane("tflite-int16x8", "quant", "int16 activations, int8 weights, default resolver", mode="int16x8"),
    TfliteLane("tflite-uint8", "quant", "legacy uint8 (v1 converter, calibrated ranges), default XNNPACK delegate",
               mode="uint8"),
    TfliteLane("tflite-uint8-ref", "quant", "legacy uint8 (v1 converter, calibrated ranges), reference kernels",
               mode="uint8", resolver="ref"),
    TfliteLane("tflite-uint8-dummy", "quant", "legacy uint8 with dummy default_ranges_stats (-1, 1), default XNNPACK "
               "delegate", mode="uint8-dummy"),
    WorkerLane("litert-gpu", "float", "LiteRT CompiledModel on the GPU accelerator, its default (fp16) precision",
               runtime="compiled", accelerator="gpu"),
    WorkerLane("litert-gpu-f32", "float", "LiteRT CompiledModel on the GPU accelerator, enforce_f32",
               runtime="compiled", accelerator="gpu", precision="fp32"),
    WorkerLane("tflite-runtime", "float", "legacy tflite_runtime interpreter (own environment), default delegate",
               module="tflite_runtime.interpreter", requirements=TFLITE_RUNTIME),
)}

FLOAT_LANES = [name for name, lane in LANES.items() if lane.kind != "quant"]
QUANT_LANES = [name for name, lane in LANES.items() if lane.kind == "quant"]
LANE_GROUPS = {"default": list(LANES), "float": FLOAT_LANES, "quant": QUANT_LANES, "all": list(LANES)}
GPU_LANES = frozenset({"litert-gpu", "litert-gpu-f32"})  # LiteRT's GPU accelerator, for its deviations
# float models on XNNPACK (LiteRT 2.3's default delegate, tflite-runtime 2.14's), for its tolerances and deviations
XNNPACK_FLOAT_LANES = frozenset({"tflite-xnnpack", "tflite-fp16", "tflite-dynamic", "tflite-runtime"})
CONVERTED_LANES = frozenset(name for name, lane in LANES.items() if isinstance(lane, (TfliteLane, WorkerLane)))


def pinned(spec: str) -> Lane:
    """``LANE@REQUIREMENT`` (e.g. ``tflite-xnnpack@ai-edge-litert==2.1.6``): ``LANE`` on the worker in an
    environment holding ``REQUIREMENT`` (and numpy: tfparity's own version for ai-edge-litert, 1.26.4 for
    tflite-runtime). Conversion stays with tfparity's converter, so the pair isolates the runtime."""
    import re

    from packaging.requirements import InvalidRequirement, Requirement

    name, _, text = spec.partition("@")
    base = LANES.get(name)
    if base is None or not isinstance(base, TfliteLane | WorkerLane):
        raise ValueError(f"{spec}: only TFLite / LiteRT lanes can be pinned to a runtime release, not {name!r}")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{spec}: not a pip requirement after '@': {exc}") from None
    dist = re.sub(r"[-_.]+", "-", requirement.name).lower()
    if dist not in ("ai-edge-litert", "tflite-runtime"):
        raise ValueError(f"{spec}: a pinned lane needs ai-edge-litert or tflite-runtime, not {requirement.name}")
    import numpy

    numpy_pin = "numpy==1.26.4" if dist == "tflite-runtime" else f"numpy=={numpy.__version__}"
    module = f"{dist.replace('-', '_')}.interpreter"
    fields = {"name": spec, "doc": f"{base.doc}; runtime pinned to {text}", "requirements": (text, numpy_pin),
              "base": base.judged_as}
    if isinstance(base, TfliteLane):
        return WorkerLane(kind=base.kind, mode=base.mode, resolver=RESOLVERS[base.resolver], module=module, **fields)
    if base.runtime == "compiled" and dist != "ai-edge-litert":
        raise ValueError(f"{spec}: the GPU accelerator lanes need ai-edge-litert")
    return dataclasses.replace(base, module=module if base.runtime == "interpreter" else base.module, **fields)


def parse_lanes(spec: str | None) -> list[str]:
    """``a,b`` → lane names (``LANE@REQUIREMENT`` registers a pinned lane); a group name (``default``, ``float``,
    ``quant``, ``all``) → its lanes."""
    if not spec:
        return LANE_GROUPS["default"]
    if spec in LANE_GROUPS:
        return LANE_GROUPS[spec]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for name in names:
        if "@" in name and name not in LANES:
            LANES[name] = pinned(name)
    unknown = [n for n in names if n not in LANES]
    if unknown:
        raise ValueError(f"unknown lane {', '.join(unknown)}; known: {', '.join(LANES)} (or LANE@REQUIREMENT)")
    return names
