"""Bring your own model: ``--model PATH`` (a ``.tflite`` file, a ``.keras`` file, a SavedModel directory, or a frozen
TF1 graph ``.pb`` with ``--input-arrays``, ``--output-arrays`` and, where the graph leaves a dimension other than the
batch unknown, ``--input-shapes NAME=1x24x24x3,...``).

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


def given_model(path: str, inputs_file: str | None = None, arrays: dict | None = None) -> ModelSpec:
    """The spec of the model at ``path``; a path that cannot be read raises ValueError (one line). ``arrays``: a
    frozen graph's ``input_arrays``, ``output_arrays`` and ``input_shapes`` as given on the command line."""
    location = Path(path)
    if not location.exists():
        raise ValueError(f"--model: {path} does not exist")
    given = _load_inputs(inputs_file) if inputs_file else None
    if location.suffix != ".pb" and any((arrays or {}).values()):
        raise ValueError("--input-arrays, --output-arrays and --input-shapes apply to a frozen graph (.pb) only")
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
    if location.suffix == ".pb":
        graph, shapes = _frozen(location, arrays or {})
        return ModelSpec(**common, build=_no_graph, frozen=graph,
                         make_arrays=_drawer([(shape, None) for shape in shapes], given))
    model = _keras(location)
    specs = [(tuple(t.shape), None) for t in model.inputs]
    return ModelSpec(**common, build=lambda params: model, make_arrays=_drawer(specs, given))


def _frozen(location: Path, arrays: dict):
    """The frozen graph at ``location`` through the given arrays, and each input's shape: ``--input-shapes``, else
    the graph's with an unknown batch as 1. ValueError (one line) lists the graph's placeholders and candidate
    outputs when arrays are missing or unknown, and asks for ``--input-shapes`` where the graph leaves a non-batch
    dimension unknown (a converter would silently fix it to 1)."""
    from tfparity.frozen import FrozenGraph, placeholders, sinks

    blob = location.read_bytes()
    try:
        graph = FrozenGraph(lambda: blob, (), ())
        graph_def = graph.graph_def()
    except Exception as exc:  # noqa: BLE001 - whatever protobuf raises: not a GraphDef
        raise ValueError(f"--model: {location} is not a frozen GraphDef ({type(exc).__name__})") from None
    found = {name: (shape, dtype) for name, shape, dtype in placeholders(graph_def)}
    listing = (f"its placeholders: {', '.join(f'{n} {list(s) if s else s} {d}' for n, (s, d) in found.items())}; "
               f"nodes nothing consumes: {', '.join(sinks(graph_def)[:12])}")
    inputs, outputs = (tuple(n.strip() for n in (arrays.get(k) or "").split(",") if n.strip())
                       for k in ("input_arrays", "output_arrays"))
    if not inputs or not outputs:
        raise ValueError(f"--model {location.name} is a frozen graph: give --input-arrays and --output-arrays; "
                         f"{listing}")
    nodes = {node.name for node in graph_def.node}
    unknown = [n for n in inputs if n not in found] + [n for n in outputs if n not in nodes]
    if unknown:
        raise ValueError(f"--model {location.name}: no placeholder or node {', '.join(unknown)}; {listing}")
    asked = _shapes(arrays.get("input_shapes") or "", inputs)
    shapes = []
    for name in inputs:
        shape = asked.get(name) or found[name][0]
        if shape is None or any(d < 0 for d in shape[1:]):
            raise ValueError(f"--model {location.name}: {name} is {list(shape) if shape else 'of unknown rank'} in "
                             f"the graph; give --input-shapes {name}=1x...: a converter fixes unknown dimensions "
                             f"to 1 and the model then runs at that size")
        shapes.append((1 if shape[0] < 0 else shape[0], *shape[1:]))
    return FrozenGraph(lambda: blob, inputs, outputs), shapes


def _shapes(text: str, inputs) -> dict[str, tuple[int, ...]]:
    """``NAME=1x24x24x3,NAME2=...`` → {name: shape}."""
    shapes = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, dims = item.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.split("x"))
        except ValueError:
            raise ValueError(f"--input-shapes: {item!r} is not NAME=DxDxD") from None
        if name not in inputs:
            raise ValueError(f"--input-shapes: {name} is not one of --input-arrays ({', '.join(inputs)})")
    return shapes


class TfliteSpec(ModelSpec):
    """A given ``.tflite``: its bytes and kind (``float``, ``int8``, ``int16x8``) replace conversion."""

    def __init__(self, *, tflite_bytes: bytes, tflite_mode: str, **fields):
        super().__init__(**fields)
        object.__setattr__(self, "tflite_bytes", tflite_bytes)
        object.__setattr__(self, "tflite_mode", tflite_mode)


def _no_graph(params):
    raise ValueError("a .tflite file or frozen graph has no Keras model")


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
            wide = [i for i, x in enumerate(given) if x.dtype != np.float32]
            if wide:
                raise ValueError(f"--inputs: input {wide[0]} is {given[wide[0]].dtype}; the model's inputs are float32 "
                                 "(LiteRT refuses other types, e.g. 'Got value of type FLOAT64 but expected type "
                                 "FLOAT32'): save the arrays as float32")
            return Arrays(list(given), {})
        return Arrays([_draw(rng, shape, tensor) for shape, tensor in specs], {})

    return make_arrays


def _draw(rng, shape, tensor) -> np.ndarray:
    shape = tuple(1 if d is None else max(int(d), 1) for d in shape)
    if tensor is not None and tensor.quantized:
        info = np.iinfo(tensor.dtype)
        low, high = ((v - int(tensor.zero_point[0])) * float(tensor.scale[0]) for v in (info.min, info.max))
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float32)
