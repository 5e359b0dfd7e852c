"""Bring your own model: ``--model PATH`` (a ``.tflite`` file, a ``.keras`` file or a SavedModel directory).

A ``.tflite`` runs as it is on the TFLite lanes of its kind (a float file on the float resolvers, an int8
or int16x8 file on the integer ones), with ``reference.tflite`` as the reference; a Keras or SavedModel is
converted like the built-in models and runs on every lane. Inputs: the arrays of ``--inputs FILE.npz`` in
the file's order, else seeded draws from the model's input details (float: uniform in [-1, 1]; integer:
uniform over the range the input's quantization represents); unknown dimensions become 1 (given inputs
may fill them). Task metric:
``rel_rmse`` of the outputs against the reference (budget 5 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfparity.cases import Arrays
from tfparity.models.spec import ModelSpec
from tfparity.models.tasks import fidelity

NAME = "given"
MODES = {np.dtype(np.int8): "int8", np.dtype(np.int16): "int16x8"}


def given_model(path: str, inputs_file: str | None = None) -> ModelSpec:
    """The spec of the model at ``path``; a path that cannot be read raises ValueError (one line)."""
    location = Path(path)
    if not location.exists():
        raise ValueError(f"--model: {path} does not exist")
    given = _load_inputs(inputs_file) if inputs_file else None
    label = {"file": location.name}
    common = dict(name=NAME, samples={"quick": lambda: [label], "full": lambda: [label]}, task=fidelity,
                  budget=("rel_rmse", 0.05), source=f"--model {path}", model_file=str(location))
    if location.suffix == ".tflite":
        import reference.tflite

        blob = location.read_bytes()
        try:
            graph = reference.tflite.load(blob)
        except Exception as exc:  # noqa: BLE001 - whatever the flatbuffer parser raises: not a model
            raise ValueError(f"--model: {path} is not a readable .tflite model ({type(exc).__name__})") from None
        specs = [(graph.tensors[i].shape, graph.tensors[i]) for i in graph.inputs]
        mode = MODES.get(np.dtype(graph.tensors[graph.inputs[0]].dtype), "float")
        return TfliteSpec(**common, build=_no_graph, make_arrays=_drawer(specs, given), tflite_bytes=blob,
                          tflite_mode=mode)
    model = _keras(location)
    specs = [(tuple(t.shape), None) for t in model.inputs]
    return ModelSpec(**common, build=lambda params: model, make_arrays=_drawer(specs, given))


class TfliteSpec(ModelSpec):
    """A given ``.tflite``: its bytes and kind (``float``, ``int8``, ``int16x8``) replace conversion."""

    def __init__(self, *, tflite_bytes: bytes, tflite_mode: str, **fields):
        super().__init__(**fields)
        object.__setattr__(self, "tflite_bytes", tflite_bytes)
        object.__setattr__(self, "tflite_mode", tflite_mode)


def _no_graph(params):
    raise ValueError("a .tflite file has no Keras model")


def _keras(location: Path):
    import keras

    try:
        if location.is_dir():  # a SavedModel: its serving signature as a Keras layer
            layer = keras.layers.TFSMLayer(str(location), call_endpoint="serving_default")
            spec = next(iter(layer._endpoint_signatures["serving_default"].structured_input_signature[1].values()))
            inputs = keras.Input(tuple(spec.shape[1:]), batch_size=spec.shape[0] or 1, dtype=spec.dtype.name)
            return keras.Model(inputs, layer(inputs))
        return keras.saving.load_model(location, compile=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad --model argument
        raise ValueError(f"--model: {location} is not a loadable Keras or SavedModel model "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''})") from None


def _load_inputs(path: str) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return [data[k] for k in data.files]
    except (OSError, ValueError) as exc:
        raise ValueError(f"--inputs: {path} is not a readable .npz file ({exc})") from None


def _drawer(specs, given):
    def make_arrays(params, rng):
        if given is not None:
            if len(given) != len(specs) or any(len(x.shape) != len(s) or any(d not in (None, g) for g, d in
                                                                               zip(x.shape, s))
                                               for x, (s, _) in zip(given, specs)):
                raise ValueError(f"--inputs: shapes {[x.shape for x in given]}, the model takes "
                                 f"{[tuple(s) for s, _ in specs]}")
            return Arrays([x.astype(np.float32) for x in given], {})
        return Arrays([_draw(rng, shape, tensor) for shape, tensor in specs], {})

    return make_arrays


def _draw(rng, shape, tensor) -> np.ndarray:
    shape = tuple(1 if d is None else max(int(d), 1) for d in shape)
    if tensor is not None and tensor.quantized:
        info = np.iinfo(tensor.dtype)
        low, high = ((v - int(tensor.zero_point[0])) * float(tensor.scale[0]) for v in (info.min, info.max))
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float32)
