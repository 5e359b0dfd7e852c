"""softmax on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "softmax"


def test_softmax(case, lane, tfparity_check):
    tfparity_check(case, lane)
