"""Error metrics of a lane's output against the float64 reference.

- ``max_abs``: ``max |y - r|``
- ``max_rel``: ``max |y - r| / max(|r|, floor)`` with ``floor = 1e-6 * max|r|`` (so zeros don't explode it)
- ``rmse``: ``sqrt(mean((y - r)^2))``
- ``cosine``: ``<y, r> / (|y| |r|)`` (1.0 when both are all zero)
- ``max_norm``: ``max |y - r| / m`` where ``m`` is the op's error scale (``Σ|x||w|`` for linear ops,
  ``|r|`` otherwise, floored like ``max_rel``)
- ``tol_used`` (see :func:`tolerance_used`): the pass/fail criterion, ``<= 1`` passes
"""

from __future__ import annotations

import numpy as np


def errors(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray) -> dict[str, float]:
    y = np.asarray(actual, np.float64)
    r = np.asarray(expected, np.float64)
    if y.shape != r.shape:
        raise ValueError(f"output shape {y.shape} differs from reference shape {r.shape}")
    diff = np.abs(y - r)
    if not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        return {"max_abs": float("inf"), "max_rel": float("inf"), "rmse": float("inf"), "cosine": float("nan"),
                "max_norm": float("inf"), "nonfinite": bad}
    scale = float(np.abs(r).max(initial=0.0))
    floor = max(scale * 1e-6, np.finfo(np.float64).tiny)
    norms = float(np.linalg.norm(y)) * float(np.linalg.norm(r))
    return {
        "max_abs": float(diff.max(initial=0.0)),
        "max_rel": float((diff / np.maximum(np.abs(r), floor)).max(initial=0.0)),
        "rmse": float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0,
        "cosine": float(np.dot(y.ravel(), r.ravel()) / norms) if norms else 1.0,
        "max_norm": float((diff / np.maximum(magnitude, floor)).max(initial=0.0)),
    }


def tolerance_used(actual, expected, magnitude, atol: float, rtol: float) -> float:
    """``max |y - r| / (atol + rtol * m)``: the share of the tolerance the worst element uses.
    The case passes iff this is <= 1 (elementwise ``|y - r| <= atol + rtol * m``)."""
    diff = np.abs(np.asarray(actual, np.float64) - expected)
    if not np.isfinite(diff).all():
        return float("inf")
    allowed = np.maximum(atol + rtol * np.asarray(magnitude, np.float64), np.finfo(np.float64).tiny)
    return float((diff / allowed).max(initial=0.0))
