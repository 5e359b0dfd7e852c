"""resnet50 on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "resnet50"


def test_resnet50(case, lane, tfparity_check):
    tfparity_check(case, lane)
