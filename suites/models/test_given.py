"""a model given with --model PATH (a .tflite, .keras or SavedModel), on every lane that applies."""

MODEL = "given"


def test_given(case, lane, tfparity_check):
    tfparity_check(case, lane)
