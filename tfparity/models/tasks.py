"""Task metrics of a model's outputs against its float reference (same output order).

``classification``: top-1 agreement with the reference; with labels (``consts["labels"]``) also top-1
accuracy of both and ``top1_drop`` (reference accuracy minus the lane's), else ``top1_disagreement``.
``face_detection`` (MTCNN's nets): the largest error of the face probability, the box regression and
(O-Net) the landmarks, each in the units the net predicts (probability; fractions of the window side).
"""

from __future__ import annotations

import numpy as np


def classification(params, outputs, expected, arrays) -> dict:
    (probs,), (ref,) = outputs[-1:], expected[-1:]
    top, top_ref = np.argmax(probs, -1), np.argmax(ref, -1)
    metrics = {"top1_agreement": float(np.mean(top == top_ref))}
    labels = arrays.consts.get("labels")
    if labels is None:
        return {**metrics, "top1_disagreement": 1.0 - metrics["top1_agreement"]}
    accuracy, reference = float(np.mean(top == labels)), float(np.mean(top_ref == labels))
    return {**metrics, "accuracy": accuracy, "reference_accuracy": reference, "top1_drop": reference - accuracy}


def face_detection(params, outputs, expected, arrays) -> dict:
    """Outputs ``[boxes, (landmarks,) probabilities]`` as MTCNN's nets return them."""
    def worst(a, b):
        return float(np.max(np.abs(np.asarray(a, np.float64) - b)))

    metrics = {"face_prob_error": worst(outputs[-1][..., 1], expected[-1][..., 1]),
               "box_error": worst(outputs[0], expected[0])}
    if len(outputs) == 3:
        metrics["landmark_error"] = worst(outputs[1], expected[1])
    metrics["worst_error"] = max(metrics.values())
    return metrics


def fidelity(params, outputs, expected, arrays) -> dict:
    """``rel_rmse``: the worst output's RMSE over the reference's RMS (feature maps, no task labels)."""
    def relative(y, r):
        r = np.asarray(r, np.float64)
        scale = float(np.sqrt(np.mean(r**2))) or 1.0
        return float(np.sqrt(np.mean((np.asarray(y, np.float64) - r) ** 2))) / scale

    return {"rel_rmse": max(relative(y, r) for y, r in zip(outputs, expected))}
