"""digits_cnn on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "digits_cnn"


def test_digits_cnn(case, lane, tfparity_check):
    tfparity_check(case, lane)
