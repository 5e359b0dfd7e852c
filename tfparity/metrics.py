"""Error metrics of a lane's output against the float64 reference.

Special values are judged exactly, element by element: NaN where the reference has NaN, an infinity of the same
sign where it has one and, for cases whose documented result carries a signed zero (``signed_zeros``), a zero of
the reference's sign (:func:`special_mismatch`, counted as ``special_mismatch``). The other metrics cover the
elements finite in both:

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


def _pair(actual, expected) -> tuple[np.ndarray, np.ndarray]:
    y, r = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if y.shape != r.shape:
        raise ValueError(f"output shape {y.shape} differs from reference shape {r.shape}")
    return y, r


def special_mismatch(actual, expected, signed_zeros: bool = False) -> np.ndarray:
    """Per element: NaN on one side only, an infinity the other side does not equal (sign included), or, with
    ``signed_zeros``, a zero whose sign differs from the reference's zero."""
    y, r = _pair(actual, expected)
    wrong = (np.isnan(y) != np.isnan(r)) | ((np.isinf(y) | np.isinf(r)) & (y != r))
    if signed_zeros:
        wrong |= (y == 0) & (r == 0) & (np.signbit(y) != np.signbit(r))
    return wrong


def special_reason(actual, expected, signed_zeros: bool = False) -> str:
    """One line naming the first element whose special value differs, or "" when none does."""
    y, r = _pair(actual, expected)
    wrong = special_mismatch(y, r, signed_zeros)
    if not wrong.any():
        return ""
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    return (f"special values differ at {int(wrong.sum())} of {wrong.size} elements; first at index {list(first)}: "
            f"got {y[first]:.9g}, reference {r[first]:.9g}")


def _finite(y, r, *per_element):
    """The elements finite in both ``y`` and ``r``, of ``y``, ``r`` and each of ``per_element`` (broadcast)."""
    both = np.isfinite(y) & np.isfinite(r)
    return [np.broadcast_to(np.asarray(a, np.float64), y.shape)[both] for a in (y, r, *per_element)]


def errors(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray,
           signed_zeros: bool = False) -> dict[str, float]:
    y, r = _pair(actual, expected)
    mismatch = int(special_mismatch(y, r, signed_zeros).sum())
    y, r, magnitude = _finite(y, r, magnitude)
    diff = np.abs(y - r)
    scale = float(np.abs(r).max(initial=0.0))
    floor = max(scale * 1e-6, np.finfo(np.float64).tiny)
    norms = float(np.linalg.norm(y)) * float(np.linalg.norm(r))
    return {
        "max_abs": float(diff.max(initial=0.0)),
        "max_rel": float((diff / np.maximum(np.abs(r), floor)).max(initial=0.0)),
        "rmse": float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0,
        "cosine": float(np.dot(y, r) / norms) if norms else 1.0,
        "max_norm": float((diff / np.maximum(magnitude, floor)).max(initial=0.0)),
        "special_mismatch": mismatch,
    }


def admits_zero(expected, magnitude, atol, rtol: float) -> bool:
    """Whether an all-zero output would pass ``|y - r| <= atol + rtol * m`` although the reference ``r`` is not all
    zero: the check could not tell that lane's output from none (a verdict that cannot fail)."""
    r = np.asarray(expected, np.float64)
    if not np.any(r[np.isfinite(r)] != 0):
        return False
    return tolerance_used(np.zeros_like(r), r, magnitude, atol, rtol) <= 1.0


def vacuous_reason(atol, rtol: float) -> str:
    """The one-line reason of a pass that :func:`admits_zero` voids."""
    return (f"vacuous: an all-zero output would pass this tolerance (atol={float(np.max(atol, initial=0.0)):g} "
            f"rtol={rtol:.3g}): the reference is too small for it, so the check cannot fail")


def tolerance_used(actual, expected, magnitude, atol, rtol: float, signed_zeros: bool = False) -> float:
    """``max |y - r| / (atol + rtol * m)`` over the elements finite in both: the share of the tolerance the worst
    element uses; infinite when a special value differs (:func:`special_mismatch`). The case passes iff this is
    <= 1 (elementwise ``|y - r| <= atol + rtol * m``)."""
    y, r = _pair(actual, expected)
    if special_mismatch(y, r, signed_zeros).any():
        return float("inf")
    y, r, magnitude, atol = _finite(y, r, magnitude, atol)
    allowed = np.maximum(atol + rtol * magnitude, np.finfo(np.float64).tiny)
    with np.errstate(over="ignore"):  # an error where nothing is allowed: infinitely over
        return float((np.abs(y - r) / allowed).max(initial=0.0))
