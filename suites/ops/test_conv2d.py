"""conv2d on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "conv2d"


def test_conv2d(case, lane, tfparity_check):
    tfparity_check(case, lane)
