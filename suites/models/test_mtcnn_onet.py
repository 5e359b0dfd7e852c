"""mtcnn_onet on every selected lane; the model and its task metric live in the registry (tfparity.models)."""

MODEL = "mtcnn_onet"


def test_mtcnn_onet(case, lane, tfparity_check):
    tfparity_check(case, lane)
