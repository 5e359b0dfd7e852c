"""Every whole model of the registry (tfparity.models; with --model, the given one) on every selected lane: the
models, their task metrics and budgets live in the registry; the plugin parametrizes this one test."""

REGISTRY = "models"


def test_model(case, lane, tfparity_check):
    tfparity_check(case, lane)
