"""mtcnn_pnet on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "mtcnn_pnet"


def test_mtcnn_pnet(case, lane, tfparity_check):
    tfparity_check(case, lane)
