"""Small helpers shared by the op entries: seeded data, labels, grid sampling."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import numpy as np

from tfparity import machine
from tfparity.cases import Deviation
from tfparity.lanes import XNNPACK_FLOAT_LANES

SPATIAL = (1, 2, 3, 5, 7, 8, 9, 13, 16, 21, 28, 32, 56, 64, 112, 224)
CHANNELS = (1, 2, 3, 4, 8, 16, 32, 64, 128, 256)
# Largest input or output tensor a sampled case may have: the float64 reference, its error scale and
# every lane's output are held at once (a 230 M-element transpose-conv output exhausted 24 GiB).
MAX_ELEMENTS = 4_000_000


def normal(rng: np.random.Generator, shape, scale: float = 1.0) -> np.ndarray:
    """Zero-mean float32 data: half the values are negative, so padding mistakes show."""
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def dims(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def pad_label(padding) -> str:
    """``SAME`` / ``VALID``, or ``T1B2L0R1`` for explicit ``[[0,0],[1,2],[0,1],[0,0]]``."""
    if isinstance(padding, str):
        return padding
    (t, b), (l, r) = padding[1], padding[2]
    return f"T{t}B{b}L{l}R{r}"


def sample(seed: int, count: int, draw: Callable[[np.random.Generator], dict | None]) -> list[dict]:
    """``count`` distinct parameter sets from ``draw`` (which returns None to reject a draw)."""
    rng = np.random.default_rng(seed)
    found: dict[str, dict] = {}
    for _ in itertools.repeat(None, count * 50):
        params = draw(rng)
        if params is not None:
            found.setdefault(repr(sorted(params.items())), params)
        if len(found) == count:
            break
    return list(found.values())


def pick(rng: np.random.Generator, values):
    return values[int(rng.integers(len(values)))]


# Values a ``special`` variant plants at a few seeded positions of a case's normal input (float32 subnormals lie
# below 2^-126 = 1.18e-38; 1e30 is huge, yet 49 of them still sum to a finite float32).
SPECIALS = {
    "nan": (np.nan,),
    "inf": (np.inf, -np.inf),
    "negzero": (-0.0,),
    "subnormal": (1e-40, -3e-42),
    "huge": (1e30, -1e30),
}
SATURATE = 8.0  # ``saturate``: the whole input times 8, beyond the range calibration saw (quantized lanes clamp)
INTEGER_SPECIALS = ("huge", "saturate")  # the rest have no integer image: quantized lanes refuse them
PLANTED = 3  # positions per planted value


def special_values(x: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
    """``x`` with ``params["special"]`` applied (none: ``x`` unchanged, ``rng`` unused): each value of
    :data:`SPECIALS` written at up to :data:`PLANTED` seeded distinct positions, or ``saturate``: ``x * 8``."""
    special = params.get("special")
    if special is None:
        return x
    if special == "saturate":
        return x * np.float32(SATURATE)
    values = SPECIALS[special]
    y = x.copy()
    spots = rng.permutation(y.size)[: PLANTED * len(values)]
    for value, chunk in zip(values, np.array_split(spots, len(values))):
        y.flat[chunk] = value
    return y


def special_label(params: dict) -> str:
    """``,special=nan`` when the case has a special variant, else nothing (plain case ids stay as they were)."""
    return f",special={params['special']}" if "special" in params else ""


def with_specials(base: dict, kinds) -> list[dict]:
    """``base`` once per special kind."""
    return [{**base, "special": kind} for kind in kinds]


_NUMBER = r"-?(?:inf|nan|[0-9.]+(?:e[+-][0-9]+)?)"


def special_symptom(got: str, reference: str):
    """A deviation's symptom: the first element whose special value differs (tfparity/metrics.py) holds ``got`` (a
    regular expression; ``NUMBER``: any value) where the reference holds ``reference``."""
    pattern = re.compile(rf"special values differ at \d+ of \d+ elements; first at index \[[0-9, ]*\]: "
                         rf"got {got.replace('NUMBER', _NUMBER)}, reference {reference}")
    return lambda record: bool(pattern.fullmatch(record["reason"]))


def flushes_subnormals(op: str, onednn_keeps: bool = False) -> tuple[Deviation, ...]:
    """TF's CPU kernels and XNNPACK run with denormals flushed (FTZ / DAZ): a subnormal ``op`` result is 0.
    ``onednn_keeps``: TF's oneDNN kernel of ``op`` keeps it, so tf-cpu flushes only where oneDNN is off."""
    lanes = {"tf-cpu", "tf-xla", *XNNPACK_FLOAT_LANES}
    reason = (f"TF's CPU kernels (and XLA's) and XNNPACK flush subnormals to zero (denormals-are-zero): {op} of the "
              f"planted 1e-40 gives 0, where IEEE 754 keeps it (max_abs 1e-40); the builtin and reference kernels and "
              f"the GPU accelerator in float32 keep it")

    def deviation(on: set[str], why: str, where=lambda: True) -> Deviation:
        return Deviation(frozenset(on), why, when=lambda p: p.get("special") == "subnormal",
                         symptom=lambda r: r["reason"].startswith("outside tolerance")
                         and r["metrics"]["max_abs"] < 2.0**-126, where=where)

    if not onednn_keeps:
        return (deviation(lanes, reason),)
    return (deviation(lanes - {"tf-cpu"}, reason),
            deviation({"tf-cpu"}, f"{reason}; on tf-cpu only with oneDNN off: TF's oneDNN {op} (the default on CPUs "
                      "with AVX-512 VNNI / BF16 or AMX) keeps it", where=lambda: not machine.tf_onednn()))


def clamps_infinity(op: str) -> Deviation:
    """TFLite's builtin and reference float kernels clamp ``op``'s output to the fused activation's range, which is
    float32's finite range when none is fused: an infinite result comes out as ±3.40282347e+38."""
    return Deviation(
        frozenset({"tflite-builtin", "tflite-ref"}),
        f"TFLite's builtin and reference {op} kernels (LiteRT 2.3) clamp the output to float32's finite range even "
        f"with no fused activation: every ±Inf result comes out as ±3.40282347e+38 (NaN stays NaN)",
        when=lambda p: p.get("special") == "inf", symptom=special_symptom(r"(-?)3\.40282347e\+38", r"\1inf"))


QUICK_LAYERS, QUICK_LAYER_FLOPS = 3, 10e6


def with_layers(op: str, grid: dict, flops: Callable[[dict], int]) -> dict:
    """``grid`` (profile -> params thunk) followed by ``op``'s real-network layer shapes
    (:func:`tfparity.ops.layer_shapes.layer_shapes`, each with ``network`` and ``layer``): all of them in the full
    profile; in quick, for each of the first :data:`QUICK_LAYERS` networks holding the op, its cheapest shape of at
    least :data:`QUICK_LAYER_FLOPS` (its costliest where none reaches it)."""

    def layers():
        from tfparity.ops.layer_shapes import layer_shapes

        return layer_shapes()[op]

    def quick_layers():
        by_net: dict[str, list[dict]] = {}
        for params in layers():
            by_net.setdefault(params["network"], []).append(params)
        picks = []
        for shapes in list(by_net.values())[:QUICK_LAYERS]:
            big = [p for p in shapes if flops(p) >= QUICK_LAYER_FLOPS]
            picks.append(min(big, key=flops) if big else max(shapes, key=flops))
        return picks

    return {"quick": lambda: [*grid["quick"](), *quick_layers()], "full": lambda: [*grid["full"](), *layers()]}
