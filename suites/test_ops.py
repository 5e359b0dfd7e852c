"""Every op case of the registry (tfparity.ops) on every selected lane: cases, tolerances and known deviations live
in the registry; tfparity's pytest plugin parametrizes this one test over the selected cases x lanes."""

REGISTRY = "ops"


def test_op(case, lane, tfparity_check):
    tfparity_check(case, lane)
