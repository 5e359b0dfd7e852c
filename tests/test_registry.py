"""The case registry: ids, grids, seeding, selection."""

import numpy as np
import pytest

from tfparity.cases import matches
from tfparity.ops import REGISTRY

FLOAT_OPS = {"conv2d", "depthwise_conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "softmax", "relu",
             "relu6", "sigmoid", "tanh"}


def test_every_float_op_is_registered():
    assert FLOAT_OPS <= set(REGISTRY.specs)


def test_full_profile_has_at_least_1000_op_cases():
    assert len(REGISTRY.select("full", 0, ops=sorted(FLOAT_OPS))) >= 1000


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_case_ids_are_unique_and_name_the_sample(profile):
    ids = [c.id for c in REGISTRY.select(profile, 0)]
    assert len(ids) == len(set(ids))
    assert "conv2d[in=1x21x21x8,k=4x4x8x16,s=2,pad=SAME,d=1]" in ids


def test_quick_profile_is_a_few_dozen_cases_per_op():
    for name in FLOAT_OPS:
        assert 5 <= len(REGISTRY.specs[name].cases("quick", 0)) <= 40, name


def test_full_grid_spans_the_documented_ranges():
    convs = [c.params for c in REGISTRY.select("full", 0, ops=["conv2d"])]
    assert {p["strides"] for p in convs} == {1, 2, 3}
    assert {p["dilations"] for p in convs} == {1, 2, 3}
    assert {1, 2, 4} <= {p["input_shape"][0] for p in convs}
    assert any(isinstance(p["padding"], list) for p in convs)
    assert max(p["input_shape"][1] for p in convs) >= 112
    assert {1, 7} <= {p["filter_shape"][0] for p in convs}
    depthwise = [c.params for c in REGISTRY.select("full", 0, ops=["depthwise_conv2d"])]
    assert {p["filter_shape"][3] for p in depthwise} == {1, 2}


def test_seeded_inputs_are_stable_and_include_negatives():
    a = REGISTRY.select("quick", 7, ops=["conv2d"])[1]
    b = REGISTRY.select("quick", 7, ops=["conv2d"])[1]
    np.testing.assert_array_equal(a.arrays.inputs[0], b.arrays.inputs[0])
    assert (a.arrays.inputs[0] < 0).any() and (a.arrays.inputs[0] > 0).any()
    other_seed = REGISTRY.select("quick", 8, ops=["conv2d"])[1]
    assert not np.array_equal(a.arrays.inputs[0], other_seed.arrays.inputs[0])


def test_flops_of_a_known_conv():
    case = next(c for c in REGISTRY.select("quick", 0, ops=["conv2d"]) if c.id.startswith("conv2d[in=1x8x8x3"))
    assert case.flops == 2 * 8 * 8 * 4 * 3 * 3 * 3


@pytest.mark.parametrize("expr, hit", [("conv2d", True), ("conv2d and SAME", True), ("not conv2d", False),
                                        ("pool or SAME", True), ("VALID", False)])
def test_keyword_selection_follows_pytest_rules(expr, hit):
    assert matches("conv2d[in=1x8x8x3,k=3x3x3x4,s=1,pad=SAME,d=1]", expr) is hit


def test_bad_keyword_and_unknown_names_are_value_errors():
    with pytest.raises(ValueError, match="bad -k"):
        matches("x", "conv2d and (")
    with pytest.raises(ValueError, match="unknown op nope"):
        REGISTRY.select("quick", 0, ops=["nope"])
    with pytest.raises(ValueError, match="unknown profile"):
        REGISTRY.select("huge", 0)


def test_full_grid_tensors_fit_in_memory():
    from tfparity.ops.common import MAX_ELEMENTS

    for case in REGISTRY.select("full", 0, ops=["conv2d", "depthwise_conv2d", "conv2d_transpose", "max_pool2d"]):
        assert np.prod(case.params["input_shape"]) <= MAX_ELEMENTS, case.id
        if "output_shape" in case.params:
            assert np.prod(case.params["output_shape"]) <= MAX_ELEMENTS, case.id
