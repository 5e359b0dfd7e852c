"""vgg_block on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "vgg_block"


def test_vgg_block(case, lane, tfparity_check):
    tfparity_check(case, lane)
