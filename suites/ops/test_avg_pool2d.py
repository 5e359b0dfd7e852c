"""avg_pool2d on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "avg_pool2d"


def test_avg_pool2d(case, lane, tfparity_check):
    tfparity_check(case, lane)
