"""residual_block on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "residual_block"


def test_residual_block(case, lane, tfparity_check):
    tfparity_check(case, lane)
