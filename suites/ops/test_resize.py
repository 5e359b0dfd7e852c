"""resize on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "resize"


def test_resize(case, lane, tfparity_check):
    tfparity_check(case, lane)
