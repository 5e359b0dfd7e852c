"""Lanes: the backends a case runs on (DESIGN §2.2).

A lane is small: ``available() -> (ok, reason)`` and ``prepare(case, threads) -> Runnable``.
A :class:`Runnable` separates feeding inputs, the timed compute call, and reading the output, so
the timer sees only the compute (TF results materialized, GPU synchronized).
"""

from __future__ import annotations

import importlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from reference.tflite.fixedpoint import round_half_away
from tfparity.convert import CALIBRATION_SAMPLES, ConversionRefused, convert


@dataclass(frozen=True)
class Quantization:
    """An integer tensor's affine mapping ``real = (q - zero_point) * scale``."""

    scale: float
    zero_point: int
    dtype: type

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """``clip(round_half_away(x / scale) + zp)``, as TFLite's QUANTIZE rounds."""
        info = np.iinfo(self.dtype)
        q = round_half_away(np.asarray(x, np.float32) / np.float32(self.scale)) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, np.int64) - self.zero_point) * np.float64(self.scale)


@dataclass
class Runnable:
    """A prepared (built or converted) case on one lane. Converted models also give their model bytes;
    integer models the quantization of inputs and output, and the raw integer output."""

    set_inputs: Callable[[list[np.ndarray]], None]
    invoke: Callable[[], None]
    output: Callable[[], np.ndarray]
    tflite_ops: list[str] | None = None
    settings: dict = field(default_factory=dict)
    model: bytes | None = None
    input_quant: list[Quantization] | None = None
    output_quant: Quantization | None = None
    raw_output: Callable[[], np.ndarray] | None = None
    outputs: Callable[[], list[np.ndarray]] | None = None  # every output, in the model's order (dequantized)


class Refused(Exception):
    """The lane's converter or runtime refuses the case: the outcome is ``unsupported``."""


@dataclass(frozen=True)
class Lane:
    name: str
    kind: str  # "reference", "float" or "quant"
    doc: str

    def available(self) -> tuple[bool, str]:
        return True, ""

    def prepare(self, case, threads: int) -> Runnable:
        raise NotImplementedError


@dataclass(frozen=True)
class NumpyRefLane(Lane):
    """The float64 numpy reference itself: a speed baseline, exact by definition."""

    def prepare(self, case, threads):
        state = {}
        return Runnable(
            set_inputs=lambda inputs: state.update(inputs=inputs),
            invoke=lambda: state.update(out=case.op.reference(case.params, state["inputs"], case.arrays.consts)),
            output=lambda: state["out"],
        )


@cache
def tensorflow():
    """Import TF once, honouring the thread setting made by :func:`configure_tf_threads`."""
    import tensorflow as tf

    return tf


def configure_tf_threads(threads: int) -> None:
    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TF already initialized in this process: the earlier setting stands
        pass


_XLA_UNSUPPORTED = re.compile(r"No registered '(\w+)' OpKernel for XLA_")


@dataclass(frozen=True)
class TfLane(Lane):
    """``tf.function`` on a device, optionally XLA-compiled (``jit_compile=True``).

    GPU lanes turn TF32 off (``enable_tensor_float_32_execution(False)``) and record it.
    """

    device: str = "CPU"
    xla: bool = False

    def available(self):
        try:
            tf = tensorflow()
        except ImportError as exc:
            return False, f"tensorflow does not import: {exc}"
        if self.device == "GPU" and not tf.config.list_physical_devices("GPU"):
            return False, "TensorFlow sees no GPU (CPU-only build or no CUDA device)"
        return True, ""

    def prepare(self, case, threads):
        tf = tensorflow()
        settings = {"device": self.device, "jit_compile": self.xla}
        if self.device == "GPU":
            tf.config.experimental.enable_tensor_float_32_execution(False)
            settings["tf32"] = tf.config.experimental.tensor_float_32_execution_enabled()
        device = f"/{self.device}:0"
        with tf.device(device):
            fn = tf.function(case.op.tf(case.params, case.arrays.consts), jit_compile=self.xla,
                             input_signature=[tf.TensorSpec(x.shape, tf.as_dtype(x.dtype))
                                              for x in case.arrays.inputs])
        state = {}
        sync = tf.test.experimental.sync_devices if self.device == "GPU" else (lambda: None)

        def set_inputs(inputs):
            with tf.device(device):
                state["inputs"] = [tf.constant(x) for x in inputs]

        def invoke():
            with tf.device(device):
                state["out"] = fn(*state["inputs"])
            sync()

        def run_first(inputs):
            set_inputs(inputs)
            try:
                invoke()
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
                missing = _XLA_UNSUPPORTED.findall(str(exc))
                if missing:
                    raise Refused(f"XLA cannot compile {', '.join(sorted(set(missing)))}: no kernel registered "
                                  f"for XLA_{self.device}_JIT") from None
                if isinstance(exc, tf.errors.UnimplementedError):
                    raise Refused(str(exc).strip().splitlines()[0][:300]) from None
                raise

        run_first(case.arrays.inputs)  # compile now, so XLA refusals surface as `unsupported`
        return Runnable(set_inputs=set_inputs, invoke=invoke, output=lambda: state["out"].numpy(),
                        settings=settings, outputs=lambda: [t.numpy() for t in tf.nest.flatten(state["out"])])


RESOLVERS = {
    "xnnpack": "AUTO",
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "ref": "BUILTIN_REF",
}


def model_ops(model: bytes) -> list[str]:
    """Builtin (or custom) op names of the first subgraph, in execution order."""
    from reference.tflite import load

    return load(model).op_names


def _converted(case, mode: str) -> bytes:
    """The converted model, or :class:`Refused` naming the converter's reason (and the input dtypes,
    when they are not float32: the converter's lowerings are often dtype-specific)."""
    try:
        return convert(case, mode)
    except ConversionRefused as exc:
        dtypes = sorted({str(x.dtype) for x in case.arrays.inputs} - {"float32"})
        suffix = f" [input dtype {', '.join(dtypes)}]" if dtypes else ""
        raise Refused(f"converter: {exc}{suffix}") from None


@dataclass(frozen=True)
class TfliteLane(Lane):
    """A converted model on a LiteRT interpreter with an op resolver (XNNPACK, builtin, reference).

    ``module`` is the interpreter package: ``ai_edge_litert.interpreter`` or the legacy
    ``tflite_runtime.interpreter``. Integer models are fed quantized inputs and their output is
    dequantized with the tensors' own (scale, zero point).
    """

    mode: str = "float"
    resolver: str = "xnnpack"
    module: str = "ai_edge_litert.interpreter"

    def _interpreter_module(self):
        return importlib.import_module(self.module)

    def available(self):
        try:
            self._interpreter_module()
        except Exception as exc:  # noqa: BLE001 - any import failure means the lane cannot run here
            return False, f"{self.module} does not load: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return True, ""

    def prepare(self, case, threads):
        return self.load(_converted(case, self.mode), threads)

    def interpreter(self, model: bytes, threads: int, preserve_all_tensors: bool = False):
        """An allocated interpreter of ``model`` with this lane's resolver (or :class:`Refused`)."""
        module = self._interpreter_module()
        resolver = getattr(module.OpResolverType, RESOLVERS[self.resolver])
        try:
            it = module.Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=resolver,
                                    experimental_preserve_all_tensors=preserve_all_tensors)
            it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise Refused(f"interpreter: {str(exc).strip().splitlines()[0][:300]}") from None
        return it

    def load(self, model: bytes, threads: int) -> Runnable:
        """``model`` (already converted, or given as a file) on this lane's interpreter."""
        it = self.interpreter(model, threads)
        ins, outs = it.get_input_details(), it.get_output_details()
        settings = {"mode": self.mode, "resolver": RESOLVERS[self.resolver], "threads": threads}
        in_quant, out_quant = [_quantization(d) for d in ins], _quantization(outs[0])
        every_quant = [_quantization(d) for d in outs]

        def raw():
            return it.get_tensor(outs[0]["index"])

        def outputs():
            values = [it.get_tensor(d["index"]) for d in outs]
            return [v if q is None else q.dequantize(v).astype(np.float32) for v, q in zip(values, every_quant)]

        if out_quant is None:  # float model
            return Runnable(
                set_inputs=lambda inputs: [it.set_tensor(d["index"], x) for d, x in zip(ins, inputs)],
                invoke=it.invoke, output=raw, tflite_ops=model_ops(model), settings=settings, model=model,
                outputs=outputs)

        def set_inputs(inputs):
            for detail, q, x in zip(ins, in_quant, inputs):
                it.set_tensor(detail["index"], q.quantize(x))

        return Runnable(
            set_inputs=set_inputs,
            invoke=it.invoke, output=lambda: out_quant.dequantize(raw()).astype(np.float32),
            tflite_ops=model_ops(model), settings={**settings, "calibration_samples": CALIBRATION_SAMPLES},
            model=model, input_quant=in_quant, output_quant=out_quant, raw_output=raw, outputs=outputs)


def _quantization(detail: dict) -> Quantization | None:
    scale, zero = detail["quantization"]
    return Quantization(float(scale), int(zero), detail["dtype"]) if scale else None


def _gpu_present() -> bool:
    return shutil.which("nvidia-smi") is not None


@dataclass(frozen=True)
class LitertGpuLane(Lane):
    """A float model on LiteRT's ``CompiledModel`` with the GPU accelerator (CPU fallback off)."""

    accelerator: str = "GPU"

    def available(self):
        if self.accelerator == "GPU" and not _gpu_present():
            return False, "no GPU on this machine (nvidia-smi not found)"
        try:
            from ai_edge_litert import compiled_model  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            return False, f"ai_edge_litert.compiled_model does not load: {exc}"
        return True, ""

    def prepare(self, case, threads):
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator

        model = _converted(case, "float")
        try:
            compiled = CompiledModel.from_buffer(model, hardware_accel=getattr(HardwareAccelerator, self.accelerator))
        except Exception as exc:  # noqa: BLE001 - LiteRT raises plain RuntimeError/ValueError here
            raise Refused(f"CompiledModel: {str(exc).strip().splitlines()[0][:300]}") from None
        if not compiled.is_fully_accelerated():
            raise Refused(f"not every op runs on the {self.accelerator} accelerator")
        inputs, outputs = compiled.create_input_buffers(0), compiled.create_output_buffers(0)
        shape = case.expected.shape

        def set_inputs(arrays):
            for buf, x in zip(inputs, arrays):
                buf.write(np.ascontiguousarray(x, np.float32))

        return Runnable(
            set_inputs=set_inputs,
            invoke=lambda: compiled.run_by_index(0, inputs, outputs),
            output=lambda: np.asarray(outputs[0].read(int(np.prod(shape)), np.float32)).reshape(shape),
            tflite_ops=model_ops(model),
            settings={"accelerator": self.accelerator},
        )


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
    LitertGpuLane("litert-gpu", "float", "float TFLite on LiteRT CompiledModel, GPU accelerator"),
    TfliteLane("tflite-runtime", "float", "legacy tflite_runtime interpreter, default delegate",
               module="tflite_runtime.interpreter"),
)}

FLOAT_LANES = [name for name, lane in LANES.items() if lane.kind != "quant"]
QUANT_LANES = [name for name, lane in LANES.items() if lane.kind == "quant"]
LANE_GROUPS = {"default": list(LANES), "float": FLOAT_LANES, "quant": QUANT_LANES, "all": list(LANES)}
CONVERTED_LANES = frozenset(name for name, lane in LANES.items() if isinstance(lane, (TfliteLane, LitertGpuLane)))


def parse_lanes(spec: str | None) -> list[str]:
    """``a,b`` → lane names; a group name (``default``, ``float``, ``quant``, ``all``) → its lanes."""
    if not spec:
        return LANE_GROUPS["default"]
    if spec in LANE_GROUPS:
        return LANE_GROUPS[spec]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in LANES]
    if unknown:
        raise ValueError(f"unknown lane {', '.join(unknown)}; known: {', '.join(LANES)}")
    return names
