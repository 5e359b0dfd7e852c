"""mtcnn_rnet on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "mtcnn_rnet"


def test_mtcnn_rnet(case, lane, tfparity_check):
    tfparity_check(case, lane)
