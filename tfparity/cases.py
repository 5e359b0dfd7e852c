"""The case registry: one declarative :class:`OpSpec` per op, expanded into seeded :class:`Case` s.

An ``OpSpec`` is data (in the style of PyTorch's OpInfo): the parameter grid per profile, how to
make seeded inputs, the TF function, the numpy reference, the FLOP count, the builtin ops a
converted model must hold, and known deviations with their reasons.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

PROFILES = ("quick", "full")


@dataclass(frozen=True)
class Deviation:
    """A known, measured deviation: a strict xfail on ``lanes`` for the params ``when`` accepts, on the machines
    ``where`` accepts (a kernel chosen by CPU features, a build option: :mod:`tfparity.machine`), excusing only a
    failure that shows its ``symptom`` (a predicate on the failed record: the wrong shape it describes, an error
    within its stated bound). Any other failure stays a failure; a case that passes fails as no longer reproducing."""

    lanes: frozenset[str]
    reason: str
    when: Callable[[dict], bool] = lambda params: True
    symptom: Callable[[dict], bool] = lambda record: False
    where: Callable[[], bool] = lambda: True

    def applies(self, lane: str, params: dict) -> bool:
        return lane in self.lanes and bool(self.when(params)) and bool(self.where())


@dataclass(frozen=True)
class Arrays:
    """Seeded data of a case: runtime ``inputs`` (fed to every lane) and ``consts`` (baked weights)."""

    inputs: list[np.ndarray]
    consts: dict[str, np.ndarray]


@dataclass(frozen=True)
class OpSpec:
    """Everything tfparity knows about one op.

    ``tf(params, consts)`` returns a function of the runtime inputs built from TF ops;
    ``reference(params, inputs, consts)`` returns the float64 expected output;
    ``tflite_ops`` (a set, or a function of the params) names the builtins a converted model must hold;
    ``magnitude`` (linear ops) returns the per-element error scale ``op(|x|, |w|)``, i.e.
    ``Σ|x||w|``, used instead of ``|y|`` so cancellation does not inflate relative error.
    """

    name: str
    family: str
    samples: dict[str, Callable[[], list[dict]]]
    make_arrays: Callable[[dict, np.random.Generator], Arrays]
    tf: Callable[[dict, dict], Callable]
    reference: Callable[[dict, list, dict], np.ndarray]
    flops: Callable[[dict], int]
    label: Callable[[dict], str]
    tflite_ops: frozenset[str] | Callable[[dict], frozenset[str]]
    magnitude: Callable[[dict, list, dict], np.ndarray] | None = None
    known: tuple[Deviation, ...] = ()
    variant: Callable[[dict], str] | None = None  # finer tolerance key, e.g. the resize method
    scale_name: str = "sum|x||w|"  # what ``magnitude`` computes, for the record
    group: Callable[[dict], str] | None = None  # configuration label the report tabulates, e.g. "bilinear aa=1"
    # the reference as a lane holding its activations in ``dtype`` computes it (resize: its coordinates too)
    held_reference: Callable[[dict, list, dict, type], np.ndarray] | None = None

    def cases(self, profile: str, seed: int) -> list[Case]:
        return [Case(self, params, seed) for params in self.samples[profile]()]


@dataclass(frozen=True)
class Case:
    """One sample of one op: ``id`` names the sample, e.g. ``conv2d[in=1x21x21x8,...]``."""

    op: OpSpec
    params: dict[str, Any]
    run_seed: int

    @property
    def id(self) -> str:
        """``op[label]``; a real network's layer shape (``params["network"]``) ends in ``,network=<name>``."""
        network = f",network={self.params['network']}" if "network" in self.params else ""
        return f"{self.op.name}[{self.op.label(self.params)}{network}]"

    @property
    def seed(self) -> int:
        """Per-case seed: stable across runs and independent of which other cases run."""
        return zlib.crc32(f"{self.run_seed}:{self.id}".encode())

    @cached_property
    def arrays(self) -> Arrays:
        return self.op.make_arrays(self.params, np.random.default_rng(self.seed))

    @cached_property
    def expected(self) -> np.ndarray:
        return self.op.reference(self.params, self.arrays.inputs, self.arrays.consts)

    @property
    def required_ops(self) -> frozenset[str]:
        ops = self.op.tflite_ops
        return ops(self.params) if callable(ops) else ops

    @property
    def flops(self) -> int:
        return int(self.op.flops(self.params))

    @property
    def tolerance_names(self) -> list[str]:
        """Tolerance-table names, most specific first: ``family:variant``, ``op``, family."""
        names = [self.op.name, self.op.family]
        return ([f"{self.op.family}:{self.op.variant(self.params)}"] if self.op.variant else []) + names

    def release(self) -> None:
        """Drop the cached arrays and reference outputs once every lane has used them."""
        for name in ("arrays", "expected", "model_reference", "inside_reference"):
            self.__dict__.pop(name, None)

    def deviation(self, lane: str) -> Deviation | None:
        return next((d for d in self.op.known if d.applies(lane, self.params)), None)


# pytest's keyword grammar has no "=" or "," in names; case ids have both, so both sides map them.
_KEYWORD_SAFE = str.maketrans({"=": ":", ",": "/"})


def matches(name: str, expr: str | None) -> bool:
    """``-k`` selection with pytest's keyword-expression rules (``and`` / ``or`` / ``not``,
    parentheses, case-insensitive substrings) over ``name``; ``=`` and ``,`` may be used, as in
    ``-k "resize_v1 and align=1"``. A malformed ``expr`` raises ValueError."""
    if not expr:
        return True
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expr.translate(_KEYWORD_SAFE))
    except SyntaxError as exc:
        raise ValueError(f"bad -k expression {expr!r}: {exc.msg}") from None
    lowered = name.translate(_KEYWORD_SAFE).lower()
    return compiled.evaluate(lambda term, **_: term.lower() in lowered)


@dataclass
class Registry:
    """Name → OpSpec. ``select`` expands the specs of a profile into cases."""

    specs: dict[str, OpSpec] = field(default_factory=dict)

    def add(self, *specs: OpSpec) -> None:
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"op {spec.name!r} registered twice")
            self.specs[spec.name] = spec

    def select(self, profile: str, seed: int, ops=None, limit: int | None = None) -> list[Case]:
        """Cases of ``profile`` for ``ops`` (default: all), the first ``limit`` of each op if given."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        unknown = sorted(set(ops or ()) - set(self.specs))
        if unknown:
            raise ValueError(f"unknown op {', '.join(unknown)}; known: {', '.join(self.specs)}")
        names = ops or list(self.specs)
        return [c for name in names for c in self.specs[name].cases(profile, seed)[:limit]]
