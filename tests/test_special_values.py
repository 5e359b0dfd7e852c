"""Special values (NaN, ±Inf, -0.0, subnormals, huge, saturating): the references' IEEE 754 semantics, the exact
judging of non-finite elements and signed zeros, the seeded variants, and a planted fault that hides them."""

import numpy as np
import pytest

import reference
from tests.test_planted_faults import NoTiming, Planted
from tfparity import lanes
from tfparity.cases import Case
from tfparity.check import check
from tfparity.convert import ConversionRefused, calibration_data, convert
from tfparity.metrics import errors, special_mismatch, special_reason, tolerance_used
from tfparity.ops import REGISTRY
from tfparity.ops.common import SATURATE, special_values

NAN, INF = np.nan, np.inf


def test_activations_propagate_nan_and_saturate_at_infinity():
    x = np.array([NAN, INF, -INF, 1e30, -1e30, -0.0], np.float32)
    np.testing.assert_array_equal(reference.relu(x), [NAN, INF, 0, x[3], 0, 0])
    np.testing.assert_array_equal(reference.relu6(x), [NAN, 6, 0, 6, 0, 0])
    np.testing.assert_array_equal(reference.sigmoid(x), [NAN, 1, 0, 1, 0, 0.5])
    np.testing.assert_array_equal(reference.tanh(x), [NAN, 1, -1, 1, -1, 0])
    assert np.signbit(reference.tanh(x)[-1])  # tanh(-0) = -0


def test_softmax_slices_with_nan_or_plus_inf_are_nan_and_minus_inf_gives_zero():
    x = np.array([[INF, 1, 2], [NAN, 1, 2], [-INF, 0, 0], [1e30, 0, 1], [1e30, 1e30, 0]], np.float32)
    np.testing.assert_array_equal(reference.softmax(x), [[NAN] * 3, [NAN] * 3, [0, 0.5, 0.5], [1, 0, 0],
                                                         [0.5, 0.5, 0]])
    np.testing.assert_array_equal(reference.softmax(x.T, axis=0)[:, 4], [0.5, 0.5, 0])


def test_pools_propagate_nan_and_infinities():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) - 20  # all negative: -0.0 is the maximum of its window
    x[0, 0, 0, 0], x[0, 3, 3, 0], x[0, 0, 3, 0], x[0, 3, 0, 0] = NAN, INF, -INF, -0.0
    np.testing.assert_array_equal(reference.max_pool2d(x, 2, 2, "VALID")[0, ..., 0], [[NAN, -13], [-0.0, INF]])
    assert np.signbit(reference.max_pool2d(x, 2, 2, "VALID")[0, 1, 0, 0])
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, 2, "VALID")[0, ..., 0], [[NAN, -INF], [-7.5, INF]])
    both = np.array([INF, -INF, 1, 1], np.float32).reshape(1, 2, 2, 1)
    assert np.isnan(reference.avg_pool2d(both, 2, 1, "VALID")).all()
    assert reference.max_pool2d(np.full((1, 2, 2, 1), -INF), 3, 1, "SAME").max() == -INF  # padding never wins


def test_conv2d_propagates_nan_and_infinities_only_to_the_windows_that_hold_them():
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 0, 0, 0], x[0, 2, 2, 0] = NAN, INF
    f = np.array([1.0, 2.0, 1.0, -1.0]).reshape(2, 2, 1, 1)
    np.testing.assert_array_equal(reference.conv2d(x, f, 1, "VALID")[0, ..., 0], [[NAN, 0], [0, -INF]])
    x[0, 1, 1, 0] = -INF  # +Inf and -Inf products in one window: NaN
    assert np.isnan(reference.conv2d(x, np.ones((2, 2, 1, 1)), 1, "VALID")[0, 1, 1, 0])


def test_special_mismatch_is_exact_on_nan_infinity_signs_and_optionally_zero_signs():
    ref = np.array([NAN, INF, -INF, -0.0, 1.0, 0.0])
    assert not special_mismatch(ref.copy(), ref, signed_zeros=True).any()
    for index, wrong in [(0, 0.0), (1, -INF), (1, 3.4e38), (2, INF), (4, NAN), (4, INF)]:
        got = ref.copy()
        got[index] = wrong
        assert special_mismatch(got, ref).tolist() == [i == index for i in range(6)], (index, wrong)
    flipped = ref.copy()
    flipped[3], flipped[5] = 0.0, -0.0
    assert not special_mismatch(flipped, ref).any()
    assert special_mismatch(flipped, ref, signed_zeros=True).tolist() == [False] * 3 + [True, False, True]


def test_matching_specials_leave_the_finite_elements_judged_as_before():
    ref, got = np.array([NAN, INF, 2.0, 4.0]), np.array([NAN, INF, 2.5, 4.0])
    m = errors(got, ref, np.abs(ref))
    assert m["special_mismatch"] == 0 and m["max_abs"] == 0.5 and m["max_norm"] == 0.25
    assert tolerance_used(got, ref, np.abs(ref), atol=0.0, rtol=0.5) == pytest.approx(0.5)
    assert special_reason(got, ref) == ""


def test_the_reason_names_the_first_mismatching_index_and_both_values():
    ref = np.array([[1.0, NAN], [-INF, 2.0]])
    got = np.array([[1.0, 0.0], [3.4028234663852886e38, 2.0]], np.float32)
    assert special_reason(got, ref) == ("special values differ at 2 of 4 elements; first at index [0, 1]: got 0, "
                                        "reference nan")
    assert errors(got, ref, np.ones(4).reshape(2, 2))["special_mismatch"] == 2
    assert tolerance_used(got, ref, np.ones((2, 2)), atol=1e40, rtol=0.0) == INF


def _case(op: str, special: str, profile: str = "quick") -> Case:
    return next(c for c in REGISTRY.specs[op].cases(profile, 0) if c.params.get("special") == special)


def test_variants_plant_values_at_seeded_positions_and_plain_cases_keep_their_ids_and_data():
    plain = next(c for c in REGISTRY.specs["relu"].cases("quick", 0) if c.params["input_shape"] == [2, 7, 7, 16])
    assert "special" not in plain.id
    rng = np.random.default_rng(1)
    assert special_values(plain.arrays.inputs[0], plain.params, rng) is plain.arrays.inputs[0]
    assert rng.random() == np.random.default_rng(1).random()  # the plain draw does not consume the generator
    x = _case("relu", "inf").arrays.inputs[0]
    assert (x == INF).sum() == 3 and (x == -INF).sum() == 3 and np.isfinite(x).sum() == x.size - 6
    assert np.isnan(_case("softmax", "nan").arrays.inputs[0]).sum() == 3
    assert (np.signbit(_case("tanh", "negzero").arrays.inputs[0]) & (_case("tanh", "negzero").arrays.inputs[0] == 0)
            ).sum() == 3
    assert _case("relu", "inf").arrays.inputs[0].dtype == np.float32


def test_calibration_never_sees_the_planted_values_and_integer_models_refuse_unquantizable_ones():
    case = _case("relu", "saturate")
    plain = np.abs(np.concatenate([s[0].ravel() for s in calibration_data(case)])).max()
    assert np.abs(case.arrays.inputs[0]).max() > 4 * plain  # the test input goes well past the calibrated range
    assert SATURATE == 8.0
    for special in ("nan", "inf", "negzero"):
        for mode in ("int8", "int16x8"):
            with pytest.raises(ConversionRefused, match=f"special={special}"):
                convert(_case("tanh" if special == "negzero" else "relu", special), mode)


FAULTS = {
    "NaN replaced by 0": lambda y: np.where(np.isnan(y), np.float32(0), y),
    "-Inf loses its sign": lambda y: np.where(np.isneginf(y), np.float32(INF), y),
    "-0.0 becomes +0.0": lambda y: y + np.float32(0.0),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_lane_that_hides_special_values_fails_every_case_it_changes(fault):
    """Every quick special case that passes on tf-cpu and whose output the fault changes must fail."""
    plant = FAULTS[fault]
    lane = Planted(f"planted-{fault}", "float", fault, base="tf-cpu", fault=lambda case, base, y: plant(y))
    lanes.LANES[lane.name] = lane
    run = dict(benchmark=NoTiming(), run_id="t", threads=1, speed={}, availability=(True, ""))
    changed, missed = 0, []
    try:
        for case in [c for c in REGISTRY.select("quick", 0) if "special" in c.params]:
            clean = check(case, "tf-cpu", **run)
            faulty = check(case, lane.name, **run)
            if clean["outcome"] != "pass" or faulty["metrics"] == clean["metrics"]:
                continue
            changed += 1
            if faulty["outcome"] != "fail" or not faulty["reason"].startswith("special values differ"):
                missed.append(f"{case.id}: {faulty['outcome']} {faulty['reason'][:100]}")
    finally:
        del lanes.LANES[lane.name]
    print(f"\nplanted fault '{fault}' on tf-cpu: killed {changed - len(missed)} of {changed} changed special cases")
    assert changed >= 1 and not missed, (changed, missed)
