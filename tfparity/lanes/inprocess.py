"""Lanes that run in tfparity's own process: the numpy reference, TensorFlow (``tf.function``, XLA, GPU) and
the LiteRT ``Interpreter`` with an op resolver."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from tfparity import machine, timing
from tfparity.convert import CALIBRATION_SAMPLES
from tfparity.lanes.base import (
    Capabilities,
    Lane,
    Quantization,
    Refused,
    Runnable,
    converted,
    model_ops,
    refusal_or_error,
)
from tfparity.lanes.worker import placement
from tfparity.phases import phase


@dataclass(frozen=True)
class NumpyRefLane(Lane):
    """The float64 numpy reference itself: a speed baseline, exact by definition. Whole models run on the numpy
    executor (``reference.tflite.run(..., float64=True)``) over their float conversion."""

    capabilities = Capabilities(formats=frozenset({"tflite"}))

    def prepare(self, case, threads):
        state = {}
        return Runnable(
            set_inputs=lambda inputs: state.update(inputs=inputs),
            invoke=lambda: state.update(out=case.op.reference(case.params, state["inputs"], case.arrays.consts)),
            output=lambda: state["out"],
        )

    def load(self, model, threads):
        import reference.tflite

        state = {}
        return Runnable(
            set_inputs=lambda inputs: state.update(inputs=inputs),
            invoke=lambda: state.update(out=reference.tflite.run(model, state["inputs"], float64=True)),
            output=lambda: state["out"][0], outputs=lambda: state["out"])


@cache
def tensorflow():
    """Import TF once, honouring the thread setting made by :func:`configure_tf_threads`."""
    import tensorflow as tf

    return tf


def configure_tf_threads(threads: int) -> None:
    try:
        tf = tensorflow()
    except ImportError:  # no TF here: its lanes are skipped with the reason, nothing to configure
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TF already initialized in this process: the earlier setting stands
        pass


LOOP_PROBE = 1e-3


def looped(tf, op, jit_compile: bool, signature: list):
    """``f(n, *inputs)``: ``op`` run ``n`` times in one ``tf.function`` call (a ``tf.while_loop``), returning the last
    probe and the last output. Each iteration's inputs are shifted by the probe taken from the previous output,
    ``1e-3·tanh(first element)`` (cast to the input dtype), so no iteration can be hoisted out of the loop; the whole
    output is carried by the loop and returned, so no part of it can be dropped (XLA would otherwise compute only
    the element the probe reads)."""

    def run(n, *inputs):
        def body(i, probe, _):
            out = tf.nest.flatten(op(*[x + tf.cast(probe, x.dtype) for x in inputs]))[0]
            first = tf.reshape(out, [-1])[0]
            return i + 1, LOOP_PROBE * tf.tanh(tf.cast(first, tf.float32)), out

        start = tf.zeros_like(tf.nest.flatten(op(*inputs))[0])
        return tf.while_loop(lambda i, probe, _: i < n, body, (tf.constant(0), tf.constant(0.0), start))[1:]

    return tf.function(run, jit_compile=jit_compile, input_signature=[tf.TensorSpec([], tf.int32), *signature])


_XLA_UNSUPPORTED = re.compile(r"No registered '(\w+)' OpKernel for XLA_")


@dataclass(frozen=True)
class TfLane(Lane):
    """``tf.function`` on a device, optionally XLA-compiled (``jit_compile=True``).

    GPU lanes turn TF32 off (``enable_tensor_float_32_execution(False)``) and record it.
    """

    device: str = "CPU"
    xla: bool = False

    capabilities = Capabilities(formats=frozenset({"graph"}), repro=True)

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
        if self.device == "CPU":
            settings["onednn"] = machine.tf_onednn()
        if self.device == "GPU":
            tf.config.experimental.enable_tensor_float_32_execution(False)
            settings["tf32"] = tf.config.experimental.tensor_float_32_execution_enabled()
        device = f"/{self.device}:0"
        state = {}
        sync = tf.test.experimental.sync_devices if self.device == "GPU" else (lambda: None)

        traced = {}

        def resize(shapes):  # one traced function per set of input shapes
            key = tuple(map(tuple, shapes))
            if key not in traced:
                with tf.device(device):
                    traced[key] = tf.function(case.op.tf(case.params, case.arrays.consts), jit_compile=self.xla,
                                              input_signature=[tf.TensorSpec(shape, tf.as_dtype(x.dtype))
                                                               for shape, x in zip(shapes, case.arrays.inputs)])
            state["fn"] = traced[key]

        def set_inputs(inputs):
            with tf.device(device):
                state["inputs"] = [tf.constant(x) for x in inputs]

        def invoke():
            with tf.device(device):
                state["out"] = state["fn"](*state["inputs"])
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
                raise

        def kernel_timer():
            with tf.device(device):
                loop = looped(tf, case.op.tf(case.params, case.arrays.consts), self.xla,
                              [tf.TensorSpec(x.shape, x.dtype) for x in state["inputs"]])

            def run_loop(n):
                with tf.device(device):
                    loop(tf.constant(n), *state["inputs"])[0].numpy()
                sync()

            with phase("in_graph"):
                return timing.in_graph(run_loop)

        with phase("load"):
            resize([x.shape for x in case.arrays.inputs])
            run_first(case.arrays.inputs)  # compile now, so XLA refusals surface as `unsupported`
        return Runnable(set_inputs=set_inputs, invoke=invoke, output=lambda: state["out"].numpy(),
                        settings=settings, outputs=lambda: [t.numpy() for t in tf.nest.flatten(state["out"])],
                        resize=resize, kernel_timer=kernel_timer)


RESOLVERS = {
    "xnnpack": "AUTO",
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "ref": "BUILTIN_REF",
}


@dataclass(frozen=True)
class TfliteLane(Lane):
    """A converted model on a LiteRT interpreter with an op resolver (XNNPACK, builtin, reference).

    Integer models are fed quantized inputs and their output is dequantized with the tensors' own
    (scale, zero point).
    """

    mode: str = "float"
    resolver: str = "xnnpack"

    capabilities = Capabilities(formats=frozenset({"tflite"}), per_layer=True, repro=True)

    def _interpreter_module(self):
        return importlib.import_module("ai_edge_litert.interpreter")

    def available(self):
        try:
            self._interpreter_module()
        except Exception as exc:  # noqa: BLE001 - any import failure means the lane cannot run here
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            return False, f"ai_edge_litert.interpreter does not load: {type(exc).__name__}: {first}"
        return True, ""

    def prepare(self, case, threads):
        return self.load(converted(case, self.mode), threads)

    def isolated(self):
        from tfparity.lanes.remote import WorkerLane

        return WorkerLane(f"{self.name}~isolated", self.kind, self.doc, mode=self.mode,
                          resolver=RESOLVERS[self.resolver], base=self.judged_as)

    def interpreter(self, model: bytes, threads: int, preserve_all_tensors: bool = False):
        """An allocated interpreter of ``model`` with this lane's resolver (or :class:`Refused`)."""
        module = self._interpreter_module()
        resolver = getattr(module.OpResolverType, RESOLVERS[self.resolver])
        try:
            with phase("load"):
                it = module.Interpreter(model_content=model, num_threads=threads,
                                        experimental_op_resolver_type=resolver,
                                        experimental_preserve_all_tensors=preserve_all_tensors)
                it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise refusal_or_error(f"interpreter: {str(exc).strip().splitlines()[0][:300]}") from None
        return it

    def load(self, model: bytes, threads: int) -> Runnable:
        """``model`` (already converted, or given as a file) on this lane's interpreter."""
        it = self.interpreter(model, threads)
        ins, outs = it.get_input_details(), it.get_output_details()
        settings = {"mode": self.mode, "resolver": RESOLVERS[self.resolver], "threads": threads}
        where = placement(it._get_ops_details())
        in_quant, out_quant = [_quantization(d) for d in ins], _quantization(outs[0])
        every_quant = [_quantization(d) for d in outs]

        def raw():
            return it.get_tensor(outs[0]["index"])

        def resize(shapes):
            for detail, shape in zip(ins, shapes):
                it.resize_tensor_input(detail["index"], list(shape))
            it.allocate_tensors()

        def outputs():
            values = [it.get_tensor(d["index"]) for d in outs]
            return [v if q is None else q.dequantize(v).astype(np.float32) for v, q in zip(values, every_quant)]

        def set_inputs(inputs):  # each input in its own type: quantized where the tensor is
            for detail, q, x in zip(ins, in_quant, inputs):
                it.set_tensor(detail["index"], x if q is None else q.quantize(x))

        common = {"set_inputs": set_inputs, "invoke": it.invoke, "tflite_ops": model_ops(model), "model": model,
                  "outputs": outputs, "resize": resize, "placement": where}
        if out_quant is None:  # float output
            return Runnable(output=raw, settings=settings, **common)
        return Runnable(
            output=lambda: out_quant.dequantize(raw()).astype(np.float32),
            settings={**settings, "calibration_samples": CALIBRATION_SAMPLES}, input_quant=in_quant,
            output_quant=out_quant, raw_output=raw, **common)


def _quantization(detail: dict) -> Quantization | None:
    return Quantization.of(*detail["quantization"], detail["dtype"])
