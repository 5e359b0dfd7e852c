"""mobilenet_v2 on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "mobilenet_v2"


def test_mobilenet_v2(case, lane, tfparity_check):
    tfparity_check(case, lane)
