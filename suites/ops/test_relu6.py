"""relu6 on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "relu6"


def test_relu6(case, lane, tfparity_check):
    tfparity_check(case, lane)
