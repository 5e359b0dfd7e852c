"""TF function → .tflite conversion through a content-addressed cache.

The cache key is a SHA-256 of everything that determines the bytes: the case id and its params and seed, the
conversion mode, TF's version, and the code that builds the graph, its weights and its calibration inputs
(:func:`source_digest`: an edited op or network is converted anew, not served stale). Converted models, and the
converter's refusals (one line each), live in ``$TFPARITY_CACHE`` (default ``.cache/tfparity`` in the working
directory).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from functools import cache
from pathlib import Path

import numpy as np

from tfparity.phases import phase

MODES = ("float", "fp16", "dynamic", "int8", "int16x8", "uint8", "uint8-dummy")
UINT8_MODES = ("uint8", "uint8-dummy")  # legacy uint8: calibrated ranges, or the dummy default ranges
CALIBRATION_SAMPLES = 16


class ConversionRefused(Exception):
    """The converter refused the graph (e.g. an op it cannot lower to a builtin)."""


class ShapeLost(Exception):
    """The converted model's inputs do not have the shapes the conversion was asked for (a finding, not a crash)."""


def cache_dir() -> Path:
    path = Path(os.environ.get("TFPARITY_CACHE", ".cache/tfparity"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _converter(case, mode: str):
    """A frozen graph (``case.op.frozen``) through the v1 ``from_frozen_graph``, as are uint8 models (any model
    frozen first: the legacy path exists only there); else the TF function through ``from_concrete_functions``."""
    import tensorflow as tf

    from tfparity import frozen

    graph, shapes = getattr(case.op, "frozen", None), [x.shape for x in case.arrays.inputs]
    if mode in UINT8_MODES:
        graph = graph or frozen.freeze(case.op.tf(case.params, case.arrays.consts), case.arrays.inputs)
        return frozen.uint8_converter(graph, shapes, calibration_data(case) if mode == "uint8" else None)
    if graph is not None:
        converter = graph.converter(shapes)
    else:
        fn = case.op.tf(case.params, case.arrays.consts)
        signature = [tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)) for x in case.arrays.inputs]
        concrete = tf.function(fn, input_signature=signature).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if mode != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":  # float16 weights, float32 activations
        converter.target_spec.supported_types = [tf.float16]
    elif mode in ("int8", "int16x8"):  # full integer, per-channel int8 weights; int8 or int16 activations and I/O
        samples = calibration_data(case)
        converter.representative_dataset = lambda: iter(samples)
        if mode == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int16
    return converter  # "dynamic": int8 weights, float activations quantized on the fly by the kernels


def calibration_data(case, count: int = CALIBRATION_SAMPLES) -> list[list[np.ndarray]]:
    """Representative inputs from the case's own distribution (a model's ``calibration`` draws, where it has
    them), seeded by the case (count recorded). A ``special`` variant (tfparity/ops/common.py) alters the case's
    test inputs only: calibration draws the plain distribution."""
    params = {key: value for key, value in case.params.items() if key != "special"}
    rng = np.random.default_rng(case.seed + 1)
    draw = getattr(case.op, "calibration", None) or case.op.make_arrays
    return [draw(params, rng).inputs for _ in range(count)]


def cache_key(case, mode: str) -> str:
    """Everything the converted bytes depend on; for a model given as a file (``--model``), its content too, so an
    edited file is converted anew (its name alone would reuse the stale conversion)."""
    import tensorflow as tf

    model_file = getattr(case.op, "model_file", None)
    blob = json.dumps({"case": case.id, "params": case.params, "seed": case.seed, "mode": mode,
                       "calibration": CALIBRATION_SAMPLES, "tf": tf.__version__,
                       "source": source_digest(type(case.op).__module__.startswith("tfparity.models")),
                       "content": content_digest(Path(model_file)) if model_file else None,
                       "builder": builder_digest(case.op)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def builder_digest(spec) -> str | None:
    """SHA-256 of the file that defines a model spec's ``build`` when it lies outside tfparity (a spec made in a
    user's script or a test): an edit there converts anew, as an edit of ``tfparity/models/`` does."""
    build = getattr(spec, "build", None)
    source = inspect.getsourcefile(build) if build is not None else None
    if source is None or Path(source).resolve().is_relative_to(Path(__file__).parent.resolve()):
        return None
    return content_digest(Path(source))


@cache
def source_digest(model: bool) -> str:
    """SHA-256 over the sources that build an op case's graph, weights and inputs (``tfparity/ops/``, ``cases.py``,
    ``convert.py``, ``frozen.py``), and for a whole model ``tfparity/models/`` too: an edit there converts the cases
    of that kind anew."""
    package = Path(__file__).parent
    files = [package / "cases.py", package / "convert.py", package / "frozen.py",
             *sorted((package / "ops").glob("*.py")), *sorted((package / "ops").glob("*.json")),
             *(sorted((package / "models").glob("*.py")) if model else [])]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def content_digest(path: Path) -> str:
    """SHA-256 over a file's bytes, or over a directory's files (relative names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if item.is_file():
            digest.update(item.relative_to(path).as_posix().encode() if path.is_dir() else b"")
            digest.update(item.read_bytes())
    return digest.hexdigest()


def _refuse_unquantizable(case, mode: str) -> None:
    """NaN, ±Inf, -0.0 and subnormals have no integer image: an integer model of such a ``special`` variant is
    refused (``huge`` and ``saturate`` run: quantization clamps them). Checked before the cache, so a model cached
    by an earlier version is never used for them."""
    from tfparity.ops.common import INTEGER_SPECIALS

    special = case.params.get("special")
    if mode in ("int8", "int16x8") and special is not None and special not in INTEGER_SPECIALS:
        raise ConversionRefused(f"special={special}: an integer model takes quantized inputs, which cannot hold it "
                                f"(only {' and '.join(INTEGER_SPECIALS)} run on integer lanes)")


def convert(case, mode: str) -> bytes:
    """The case's graph as a .tflite flatbuffer (cached). Raises ConversionRefused on refusal; a refusal is cached
    too (``<key>.refused``, its one-line reason), so a later run does not convert the graph again to hear it."""
    if mode not in MODES:
        raise ValueError(f"unknown conversion mode {mode!r}")
    _refuse_unquantizable(case, mode)
    path = cache_dir() / f"{cache_key(case, mode)}.tflite"
    if path.exists():
        return _shapes_kept(case, path.read_bytes())
    refused = path.with_suffix(".refused")
    if refused.exists():
        raise ConversionRefused(refused.read_text())
    try:
        model = _convert(case, mode)
    except ConversionRefused as exc:
        store(refused, str(exc).encode())
        raise
    store(path, model)
    return _shapes_kept(case, model)


def _convert(case, mode: str) -> bytes:
    """One converter run, or ConversionRefused naming what the converter does not support."""
    from tensorflow.lite.python.convert_phase import ConverterError

    try:
        with phase("convert"):
            return _converter(case, mode).convert()
    except ConverterError as exc:  # a refusal when it names what it does not support; otherwise the converter failed
        if not (_NOT_BUILTIN.search(str(exc)) or "not supported" in str(exc).lower()):
            raise
        raise ConversionRefused(first_line(exc)) from None
    except RuntimeError as exc:  # the post-training quantizer refuses an op type outside the converter's error path
        if "not yet supported" not in str(exc):
            raise
        raise ConversionRefused(first_line(exc)) from None


def _shapes_kept(case, model: bytes) -> bytes:
    """``model``, or :class:`ShapeLost` naming each input of a frozen graph converted to another shape than asked."""
    if getattr(case.op, "frozen", None) is None:
        return model
    from reference.tflite import load
    from tfparity.frozen import lost_shapes

    graph = load(model)
    lost = lost_shapes([x.shape for x in case.arrays.inputs], case.op.frozen.inputs,
                       [graph.tensors[i].shape for i in graph.inputs])
    if lost:
        raise ShapeLost("the conversion lost an input shape: " + "; ".join(lost))
    return model


def store(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` atomically (a process-private temporary file, then a rename): concurrent runs
    sharing the cache never read half a model."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)


_NOT_BUILTIN = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


def first_line(exc: BaseException) -> str:
    """One informative line from a converter message (they run to pages). A TF op with no TFLite
    builtin is named, with why it cannot run: SELECT_TF_OPS would need the Flex delegate, which the
    pip LiteRT runtime does not ship."""
    missing = sorted(set(_NOT_BUILTIN.findall(str(exc))))
    if missing:
        return (f"TF op {', '.join(missing)} has no TFLite builtin (needs SELECT_TF_OPS; "
                "the pip LiteRT runtime has no Flex delegate)")
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "error:" in ln.lower() or "not supported" in ln.lower()]
    text = (useful or lines or [type(exc).__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."
