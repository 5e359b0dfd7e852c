"""MTCNN's pipelines on lanes (tfparity/models/pipeline.py): nets run at any shape (resized in place or in padded
batches), and the pyramid's verdict turns with a face-probability error over its budget."""

from __future__ import annotations

import numpy as np
import pytest

from tfparity.lanes import LANES
from tfparity.models import pipeline
from tfparity.models.mtcnn_nets import network


def _keras(net, batch):
    return [np.asarray(y) for y in network(net)(batch)]


def test_pnet_resized_in_place_and_rnet_in_padded_batches():
    """On XNNPACK, P-Net at two pyramid shapes and R-Net on 20 crops (two batches of 16, the second padded) give
    the Keras nets' outputs."""
    rng = np.random.default_rng(0)
    nets = pipeline.runners(LANES["tflite-xnnpack"], 1, 0)
    assert nets["pnet"].resizable and "resized in place" in nets["pnet"].how
    for shape in ((1, 37, 53, 3), (1, 12, 12, 3)):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        for got, want in zip(nets["pnet"](x), _keras("pnet", x)):
            np.testing.assert_allclose(got, want, atol=1e-5)
    crops = rng.uniform(-1, 1, (20, 24, 24, 3)).astype(np.float32)
    got = nets["rnet"](crops)
    assert [y.shape for y in got] == [(20, 4), (20, 2)]
    for g, w in zip(got, _keras("rnet", crops)):
        np.testing.assert_allclose(g, w, atol=1e-5)


def test_a_face_probability_off_by_more_than_the_budget_fails_the_pyramid():
    rng = np.random.default_rng(1)
    expected = [[rng.uniform(-1, 1, (1, h, h, 4)), rng.uniform(0, 1, (1, h, h, 2))] for h in (9, 5)]
    same, rows = pipeline.pyramid_task(expected, expected)
    assert same == {"face_prob_error": 0.0, "box_error": 0.0, "scales": 2} and rows[1]["shape"] == [5, 5]
    planted = [[box, prob.copy()] for box, prob in expected]
    planted[1][1][0, 2, 3, 1] += 0.06  # one cell of the smallest scale, just over the 0.05 budget
    worst, rows = pipeline.pyramid_task(planted, expected)
    assert worst["face_prob_error"] == pytest.approx(0.06) and worst["face_prob_error"] > 0.05
    assert rows[0]["face_prob_error"] == 0.0
