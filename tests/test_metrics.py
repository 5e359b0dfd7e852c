"""Error metrics and the tolerance test."""

import numpy as np
import pytest

from tfparity.metrics import admits_zero, errors, tolerance_used
from tfparity.tolerances import TABLE, lookup


def test_metrics_of_a_known_difference():
    ref = np.array([1.0, -2.0, 0.0, 4.0])
    got = np.array([1.0, -2.5, 0.0, 4.0], np.float32)
    m = errors(got, ref, np.abs(ref))
    assert m["max_abs"] == 0.5
    assert m["max_rel"] == pytest.approx(0.25)
    assert m["rmse"] == pytest.approx(np.sqrt(0.25 / 4))
    assert m["max_norm"] == pytest.approx(0.25)
    assert 0.98 < m["cosine"] < 1.0


def test_zero_reference_does_not_blow_up_relative_error():
    m = errors(np.zeros(3), np.zeros(3), np.zeros(3))
    assert m == {"max_abs": 0.0, "max_rel": 0.0, "rmse": 0.0, "cosine": 1.0, "max_norm": 0.0, "special_mismatch": 0}


def test_nonfinite_output_where_the_reference_is_finite_is_a_special_mismatch():
    got, ref = np.array([np.nan, 1.5, np.inf]), np.array([1.0, 1.0, 1.0])
    m = errors(got, ref, np.ones(3))
    assert m["special_mismatch"] == 2 and m["max_abs"] == 0.5  # finite elements: judged as before
    assert tolerance_used(got, ref, np.ones(3), atol=10.0, rtol=0.0) == float("inf")


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        errors(np.zeros((2, 2)), np.zeros(4), np.zeros(4))


def test_tolerance_used_is_the_worst_share_of_atol_plus_rtol_times_scale():
    ref, scale = np.array([10.0, 0.0]), np.array([100.0, 1.0])
    assert tolerance_used(ref + [0.9, 0.0], ref, scale, atol=0.0, rtol=0.01) == pytest.approx(0.9)
    assert tolerance_used(ref + [1.1, 0.0], ref, scale, atol=0.0, rtol=0.01) == pytest.approx(1.1)
    assert tolerance_used(ref + [0.0, 0.05], ref, scale, atol=0.05, rtol=0.0) == pytest.approx(1.0)
    assert tolerance_used(ref, ref, scale, atol=0.0, rtol=0.0) == 0.0
    assert tolerance_used(ref + [0.0, 1e-30], ref, scale, atol=0.0, rtol=0.0) > 1.0
    assert tolerance_used(ref + [np.nan, 0.0], ref, scale, atol=1.0, rtol=1.0) == float("inf")


def test_a_tolerance_an_all_zero_output_meets_is_vacuous():
    """float16's atol 2^-14 (6.1e-5) against outputs below it: zeros would pass, so the check is void; a reference
    with one element above the floor, an all-zero reference (zeros are right) or one with NaN (zeros are wrong) is
    not."""
    tiny = np.array([3e-5, -1e-6, 0.0])
    assert admits_zero(tiny, np.abs(tiny), 2.0**-14, 0.0)
    assert not admits_zero(np.append(tiny, 1e-4), np.abs(np.append(tiny, 1e-4)), 2.0**-14, 0.0)
    assert not admits_zero(np.zeros(3), np.zeros(3), 2.0**-14, 0.0)
    assert not admits_zero(np.array([1e-6, np.nan]), np.full(2, 1e-6), 2.0**-14, 0.0)
    scale = np.full(3, 2.0)  # a relative bound of the whole-model kind: rtol >= 1 of max|ref| admits zeros
    assert admits_zero(np.array([2.0, -1.0, 0.5]), scale, 0.0, 1.0)
    assert not admits_zero(np.array([2.0, -1.0, 0.5]), scale, 0.0, 0.9)


def test_every_entry_gives_its_reason():
    for key, tol in TABLE.items():
        assert tol.why, key
        assert tol.atol >= 0 and tol.rtol >= 0


def test_lookup_prefers_the_most_specific_entry():
    assert lookup("litert-gpu", ["resize:nearest", "resize", "resize"]) is TABLE[("*", "resize:nearest")]
    assert lookup("tf-cpu", ["resize:lanczos3", "resize", "resize"]) is TABLE[("tf-cpu", "resize:lanczos3")]
    assert lookup("tf-cpu", ["resize:bilinear", "resize", "resize"]) is TABLE[("tf-cpu", "resize")]
    with pytest.raises(KeyError):
        lookup("tf-cpu", ["nope", "nofamily"])


def test_every_tolerance_key_and_deviation_names_a_real_lane_and_op():
    """A typo in a key or a deviation's lane set would silently never apply."""
    from tfparity.lanes import LANES
    from tfparity.models import MODELS
    from tfparity.ops import REGISTRY

    names = {"*", "model"} | {f"model:{name}" for name in MODELS.specs}
    for profile in ("quick", "full"):
        names |= {n for case in REGISTRY.select(profile, 0) for n in case.tolerance_names}
    for lane, name in TABLE:
        assert lane == "*" or lane in LANES, (lane, name)
        assert name in names, (lane, name)
    for spec in (*REGISTRY.specs.values(), *MODELS.specs.values()):
        for deviation in spec.known:
            assert deviation.lanes and set(deviation.lanes) <= set(LANES), (spec.name, deviation.reason)
