"""sigmoid on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "sigmoid"


def test_sigmoid(case, lane, tfparity_check):
    tfparity_check(case, lane)
