"""The numpy MTCNN pipeline (``tfparity.models.detector``) against the ``mtcnn`` package's own, and its metric."""

import numpy as np
import pytest

from tfparity.models import detector
from tfparity.models.detector import Detections, agreement, detect

pytest.importorskip("mtcnn")


@pytest.fixture(scope="module")
def nets():
    from tfparity.models.mtcnn_nets import network

    def run(net):
        return lambda x: [np.asarray(t) for t in net(x)]

    return {name: run(network(name)) for name in ("pnet", "rnet", "onet")}


@pytest.fixture(scope="module")
def astronaut(nets):
    from tfparity.models.photos import photo

    return detect(photo("astronaut"), nets)


def test_astronaut_matches_the_package(astronaut):
    import mtcnn
    import skimage.data

    (face,) = mtcnn.MTCNN().detect_faces(skimage.data.astronaut(), output_type="numpy", box_format="xyxy")
    # rows: image, x1, y1, x2, y2, probability, 5 landmark x, 5 landmark y (unrounded; the json output rounds to px)
    reference = Detections(face[None, 1:5], face[None, 5], np.stack([face[6:11], face[11:16]], axis=-1)[None])
    # Measured: box (181.6, 63.7, 264.6, 171.1), IoU 1 - 2e-6, boxes and landmarks within 1e-4 px, face probability
    # within 1.2e-7 (P-Net inputs differ by 3e-5 from TF's area resize). Stage counts 99, 2, 1, as in the package.
    counts = astronaut.stage_counts
    assert abs(counts["pnet"] - 99) <= 5 and (counts["rnet"], counts["onet"]) == (2, 1)
    found = agreement(astronaut, reference)
    assert (found["matched"], found["missed"], found["extra"]) == (1, 0, 0)
    assert found["min_iou"] >= 0.999
    assert found["box_error_px"] <= 0.01
    assert found["landmark_error_px"] <= 0.01
    assert found["face_prob_error"] <= 1e-4


def test_agreement_is_perfect_with_itself_and_sees_planted_faults(astronaut):
    same = agreement(astronaut, astronaut)
    assert same == {"matched": 1, "missed": 0, "extra": 0, "min_iou": 1.0, "face_prob_error": 0.0,
                    "landmark_error_px": 0.0, "box_error_px": 0.0}
    boxes = np.array([[0, 0, 100, 100], [200, 200, 250, 250]], float)
    marks = np.arange(20, dtype=float).reshape(2, 5, 2)
    reference = Detections(boxes, np.array([0.9, 0.8]), marks)
    shifted = Detections(boxes + [[10, 0, 10, 0], [0, 0, 0, 0]], np.array([0.95, 0.8]), marks + [[[0, 3]], [[0, 0]]])
    found = agreement(shifted, reference)
    assert found["matched"] == 2 and found["min_iou"] == pytest.approx(90 / 110)
    assert found["box_error_px"] == pytest.approx(10)
    assert found["landmark_error_px"] == pytest.approx(3)
    assert found["face_prob_error"] == pytest.approx(0.05)
    dropped = agreement(Detections(boxes[:1], np.array([0.9]), marks[:1]), reference)
    assert (dropped["matched"], dropped["missed"], dropped["extra"]) == (1, 1, 0)
    far = agreement(Detections(boxes + 300, np.array([0.9, 0.8]), marks), reference)
    assert (far["matched"], far["missed"], far["extra"], far["min_iou"]) == (0, 2, 2, 1.0)


def test_pyramid_on_512_square():
    from mtcnn.utils.images import build_scale_pyramid

    scales = detector.scales(512, 512)
    assert scales == pytest.approx(0.6 * 0.709 ** np.arange(10))
    assert scales == pytest.approx(build_scale_pyramid(512, 512, 20, 0.709))
    shapes = detector.pyramid_shapes(512, 512)
    assert shapes[0] == (307, 307) and shapes[-1] == (13, 13) and 512 * scales[-1] * 0.709 < 12


def test_resize_and_patches_match_what_the_package_calls():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (40, 50, 3))
    area = tf.image.resize(image[None], (17, 29), method="area").numpy()[0]
    np.testing.assert_allclose(detector.resize_image(image, (17, 29)), area, atol=1e-3)
    boxes = np.array([[-5.5, 3.2, 20.1, 30.0], [30.0, 20.0, 62.3, 55.9]])
    normalized = (image[None] - 127.5) / 128
    ref = tf.image.crop_and_resize(normalized, boxes[:, [1, 0, 3, 2]] / [40, 50, 40, 50], [0, 0], (24, 24)).numpy()
    np.testing.assert_allclose(detector.crop_patches(image, boxes, 24), ref, atol=1e-5)


def test_no_face_in_coffee(nets):
    from tfparity.models.photos import photo

    found = detect(photo("coffee"), nets)
    # Measured: P-Net proposes 112 windows, R-Net keeps 1, O-Net none, as in the package's own stages.
    assert len(found.boxes) == len(found.probs) == len(found.landmarks) == 0
    counts = found.stage_counts
    assert abs(counts["pnet"] - 112) <= 5 and counts["rnet"] <= 2 and counts["onet"] == 0
