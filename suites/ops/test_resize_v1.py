"""resize_v1 on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "resize_v1"


def test_resize_v1(case, lane, tfparity_check):
    tfparity_check(case, lane)
