"""relu on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "relu"


def test_relu(case, lane, tfparity_check):
    tfparity_check(case, lane)
