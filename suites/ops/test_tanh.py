"""tanh on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "tanh"


def test_tanh(case, lane, tfparity_check):
    tfparity_check(case, lane)
