"""``ModelSpec``: one whole network as a registry entry, expanded into :class:`~tfparity.cases.Case` s.

A spec quacks like an :class:`~tfparity.cases.OpSpec` where the shared pipeline needs it (``tf``,
``make_arrays``, ``label``, ``known``; so :mod:`tfparity.convert` and the lanes convert and run it
unchanged) and adds what only models have: a Keras ``build`` (or a frozen TF1 graph), several outputs, and a
``task`` metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tfparity.cases import Arrays, Case, Deviation


@dataclass(frozen=True)
class ModelSpec:
    """``build(params)`` returns the Keras model (cached by the spec's module); ``make_arrays(params, rng)``
    seeded inputs (``consts`` carry task labels, never fed); ``task(params, outputs, expected, arrays)`` the
    task metrics of ``outputs`` against the float reference ``expected`` (both lists in model output order);
    ``budget`` names the task metric that decides quantized lanes and its largest allowed value;
    ``calibration(params, rng)`` draws representative inputs for int8 conversion (default ``make_arrays``),
    so a held-out set is never calibrated on."""

    name: str
    samples: dict[str, Callable[[], list[dict]]]
    build: Callable[[dict], object]
    make_arrays: Callable[[dict, np.random.Generator], Arrays]
    task: Callable[[dict, list, list, Arrays], dict]
    budget: tuple[str, float]
    label: Callable[[dict], str] = lambda params: ",".join(f"{k}={v}" for k, v in params.items())
    known: tuple[Deviation, ...] = ()
    family: str = "model"
    tflite_ops: frozenset[str] = frozenset()
    variant = None
    group = None
    magnitude = None
    source: str = ""  # where the weights come from, for the report
    model_file: str | None = None  # bring-your-own: the .tflite / .keras / SavedModel path
    calibration: Callable[[dict, np.random.Generator], Arrays] | None = None  # int8 calibration draws
    frozen: object = None  # a tfparity.frozen.FrozenGraph: the model is that graph (no Keras build)
    pipeline: str | None = None  # "pyramid" or "detector": an application around nets (tfparity.models.pipeline)
    page: str = ""  # the report page the model shares with related models (default: its own, named after it)

    def tf(self, params: dict, consts: dict) -> Callable:
        """The model as a function of its inputs (outputs as a list, in the model's order): the frozen graph pruned
        to its arrays, or the Keras model."""
        if self.frozen is not None:
            return self.frozen.function()
        model = self.build(params)
        return lambda *inputs: as_list(model(list(inputs) if len(inputs) > 1 else inputs[0], training=False))

    def flops(self, params: dict) -> int:
        return 0

    def cases(self, profile: str, seed: int) -> list[Case]:
        return [Case(self, params, seed) for params in self.samples.get(profile, lambda: [])()]


def task_loss(lanes: set[str], metric: str, limit: float, reason: str) -> Deviation:
    """A measured task loss on ``lanes`` as a strict known deviation: it excuses only a task-budget failure of
    ``metric`` with a value at most ``limit``."""
    return Deviation(lanes=frozenset(lanes), reason=f"{reason}; excused up to {limit:g}",
                     symptom=lambda r: r["reason"].startswith(f"task {metric}") and r["model"]["task"][metric] <= limit)


def dummy_ranges(metric: str, limit: float, measured: float | str) -> Deviation:
    """The cost of the seeds' dummy ``default_ranges_stats = (-1, 1)`` (lane ``tflite-uint8-dummy``): every
    activation clamped to [-1, 1], whatever its real range."""
    return task_loss({"tflite-uint8-dummy"}, metric, limit,
                     f"dummy ranges (-1, 1) clamp every activation, whatever its real range: {metric} {measured} "
                     "(measured); the calibrated tflite-uint8 lane shows what the same path gives with real ranges")


def as_list(outputs) -> list:
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
