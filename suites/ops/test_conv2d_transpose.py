"""conv2d_transpose on every selected lane; cases and known deviations live in the registry (tfparity.ops)."""

OP = "conv2d_transpose"


def test_conv2d_transpose(case, lane, tfparity_check):
    tfparity_check(case, lane)
