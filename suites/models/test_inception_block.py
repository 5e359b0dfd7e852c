"""inception_block on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "inception_block"


def test_inception_block(case, lane, tfparity_check):
    tfparity_check(case, lane)
