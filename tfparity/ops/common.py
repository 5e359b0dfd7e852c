"""Small helpers shared by the op entries: seeded data, labels, grid sampling."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

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
