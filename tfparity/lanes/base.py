"""What every lane is made of: :class:`Lane` (``available``, ``prepare``, ``load``; its :class:`Capabilities`),
the :class:`Runnable` a prepared case becomes, and :class:`Refused` for a documented refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from reference.tflite.fixedpoint import round_half_away
from tfparity.convert import UINT8_MODES, ConversionRefused, convert


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

    @classmethod
    def of(cls, scale: float, zero_point: int, dtype) -> Quantization | None:
        """A tensor's quantization from its parameters; None for a float tensor (scale 0)."""
        return cls(float(scale), int(zero_point), np.dtype(dtype).type) if scale else None


@dataclass
class Runnable:
    """A prepared (built or converted) case on one lane. Converted models also give their model bytes;
    integer models the quantization of inputs and output, and the raw integer output. ``timer`` is set by
    lanes that time their own rounds (out-of-process workers): ``timer(min_rounds, max_time, warmup_iterations)``
    returns seconds per call of each round. ``resize(shapes)`` re-plans the model for inputs of other shapes
    (``Interpreter.resize_tensor_input`` + ``allocate_tensors``; TF: a retrace), where the lane can."""

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
    timer: Callable[[int, float, int], dict] | None = None
    resize: Callable[[list[tuple[int, ...]]], None] | None = None  # re-plan for other input shapes (None: cannot)
    kernel_timer: Callable[[], dict] | None = None  # TF lanes: the op's in-graph time (timing.in_graph)
    placement: list[int] | None = None  # per model op: 0 on the runtime's own kernels, k in delegate partition k


class Refused(Exception):
    """The lane's converter or runtime refuses the case: the outcome is ``unsupported``."""


class RuntimeFailed(Exception):
    """The runtime failed on a model its own converter produced, without a documented refusal: ``error``."""


# What a runtime says when it declines a model by design (a delegate that does not take a shape and does not fall
# back), as opposed to failing on it. Anything else a runtime raises while loading is an error, not `unsupported`.
DOCUMENTED_REFUSALS = ("failed to create XNNPACK runtime", "is not supported", "not yet supported", "Unsupported")


def refusal_or_error(message: str) -> Exception:
    """:class:`Refused` for a documented refusal (:data:`DOCUMENTED_REFUSALS`), else :class:`RuntimeFailed`."""
    return (Refused if any(text in message for text in DOCUMENTED_REFUSALS) else RuntimeFailed)(message)


@dataclass(frozen=True)
class Capabilities:
    """What a lane accepts and where it runs, asked by ``check``, the models suite, ``repro`` and asv.

    ``formats``: ``graph`` (runs the TF graph itself), ``tflite`` (runs a converted or given .tflite through
    ``load``); ``where``: ``process`` (in tfparity's process), ``worker`` (the out-of-process worker in
    tfparity's environment) or ``environment`` (the worker in a virtual environment of its own);
    ``per_layer``: can keep every intermediate tensor (the per-layer table of integer models);
    ``repro``: ``repro`` can export a standalone reproduction.
    """

    formats: frozenset = frozenset({"tflite"})
    where: str = "process"
    per_layer: bool = False
    repro: bool = False


@dataclass(frozen=True)
class Lane:
    name: str
    kind: str  # "reference", "float" or "quant"
    doc: str
    mode: str = "float"  # the conversion mode of the .tflite the lane runs

    capabilities = Capabilities()
    activations = None  # a storage dtype (np.float16) the lane rounds its inputs to; None: they run as given

    def held(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """``inputs`` as the lane holds them: rounded to its ``activations`` storage where it has one (beyond
        float16's range: infinite, as in the lane)."""
        if self.activations is None:
            return list(inputs)
        with np.errstate(over="ignore"):
            return [x.astype(self.activations).astype(x.dtype) for x in inputs]

    @property
    def models_only(self) -> str:
        """Why the lane runs whole models only ('' when it runs op cases too)."""
        if self.mode in UINT8_MODES:
            return ("the legacy uint8 path is judged on whole models (the networks it is used for, `--suite models`); "
                    "op cases run on the int8 lanes")
        return ""

    @property
    def compute_dtype(self) -> str | None:
        """The arithmetic its kernels run, whose peak ``pct_peak`` divides by (:mod:`tfparity.peaks`): float64 (the
        numpy reference), int8 (integer and dynamic-range models), float32 (the rest); None where tfparity knows
        no peak (an accelerator)."""
        if self.kind == "reference":
            return "float64"
        return "float32" if self.mode in ("float", "fp16") else "int8"

    @property
    def judged_as(self) -> str:
        """The lane whose tolerances, deviations and exactness rules apply (a pinned lane: its base lane)."""
        return self.name

    def available(self) -> tuple[bool, str]:
        return True, ""

    def facts(self) -> dict | None:
        """What the run header records about where the lane runs, beyond the main environment (None: nothing)."""
        return None

    def prepare(self, case, threads: int) -> Runnable:
        raise NotImplementedError

    def isolated(self) -> Lane | None:
        """The lane in a worker process of its own (a crash there is an answer; its memory is the model's alone):
        the same runtime and settings. None: the lane runs no .tflite models."""
        return None

    def load(self, model: bytes, threads: int) -> Runnable:
        """``model`` (a .tflite, converted or given) on this lane; lanes with the ``tflite`` format."""
        raise NotImplementedError


def model_ops(model: bytes) -> list[str]:
    """Builtin (or custom) op names of the first subgraph, in execution order."""
    return list(_op_names(model))


@lru_cache(maxsize=16)  # keyed by the model's bytes, which it keeps alive: about one case's conversions
def _op_names(model: bytes) -> tuple[str, ...]:
    from reference.tflite import op_names

    return tuple(op_names(model))


def converted(case, mode: str) -> bytes:
    """The converted model, or :class:`Refused` naming the converter's reason (and the input dtypes,
    when they are not float32: the converter's lowerings are often dtype-specific)."""
    try:
        return convert(case, mode)
    except ConversionRefused as exc:
        dtypes = sorted({str(x.dtype) for x in case.arrays.inputs} - {"float32"})
        suffix = f" [input dtype {', '.join(dtypes)}]" if dtypes else ""
        raise Refused(f"converter: {exc}{suffix}") from None
