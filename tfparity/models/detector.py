"""MTCNN face detection in numpy around three nets however they are run; mirrors the ``mtcnn`` package's pipeline.

Boxes are pixel ``x1, y1, x2, y2`` with width ``w = x2 - x1`` and area ``w * h``. ``detect`` runs:

* Pyramid: ``scale_k = (12 / min_face) * factor**k`` for k = 0, 1, ... while ``min(H, W) * scale_k >= 12``; level k
  is the image area-resized to ``(int(H * scale_k), int(W * scale_k))`` and normalized ``(p - 127.5) / 128``. (The
  package counts levels as ``round(log(min_side / 12) / log(1 / factor) - 1)``: the same for min_face 20 unless that
  log ratio's fraction lies in [0.485, 0.5).)
* P-Net boxes: a heat-map cell (row r, col c) whose face probability exceeds t1 is the 12 px cell at stride 2
  (corners ``2c + 1`` and ``2c + 12``, so width 11), regressed and mapped back: ``x1 = (2c + 1 + 11 d1) / s,
  y1 = (2r + 1 + 11 d2) / s, x2 = (2c + 12 + 11 d3) / s, y2 = (2r + 12 + 11 d4) / s``. NMS 0.5 per level, NMS 0.7
  over all levels, then squaring.
* NMS(t, kind): in order of decreasing score, a box is dropped when its overlap with any higher-scoring box (kept or
  not: the package's one-pass rule, not greedy NMS) exceeds t; overlap = intersection / union or / smaller area.
* Squaring: side ``max(w, h)`` about the box centre.
* R-Net / O-Net: the square boxes cropped to 24 / 48 px (``crop_patches``); score = prob[:, 1]; regression
  ``(x1, y1, x2, y2) += d * (w + 1, h + 1, w + 1, h + 1)``; kept when score > t2 / t3. R-Net: NMS 0.7 union, squaring.
  O-Net: landmarks from its input boxes, ``x = x1 - 1 + (w + 1) * l[0:5]``, ``y = y1 - 1 + (h + 1) * l[5:10]``
  (order: left eye, right eye, nose, mouth left, mouth right); NMS 0.7 'min'.
* Output boxes clipped to ``[0, W - 1] x [0, H - 1]`` as ``detect_faces`` does by default; landmarks are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tfparity.models.mtcnn_nets import normalize

Nets = dict[str, Callable[[np.ndarray], list[np.ndarray]]]


def scales(height: int, width: int, min_face: int = 20, factor: float = 0.709, cell: int = 12) -> list[float]:
    out, scale = [], cell / min_face
    while min(height, width) * scale >= cell:
        out.append(scale)
        scale *= factor
    return out


def pyramid_shapes(height: int, width: int, **kw) -> list[tuple[int, int]]:
    return [(int(height * s), int(width * s)) for s in scales(height, width, **kw)]


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output cell o averages input [o * n_in / n_out, (o + 1) * n_in / n_out) by overlap length."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in)[None, :]
    return np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0, None) / (n_in / n_out)


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area resize (as ``tf.image.resize(method=AREA)``, which the package uses), separable, in float64."""
    rows, cols = _area_weights(image.shape[0], shape[0]), _area_weights(image.shape[1], shape[1])
    along_y = np.tensordot(rows, np.asarray(image, np.float64), axes=(1, 0))  # (h', W, C)
    return np.tensordot(along_y, cols, axes=(1, 1)).transpose(0, 2, 1)


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Normalized patches (N, size, size, 3) sampled as ``tf.image.crop_and_resize`` does for the package: the box
    divided by (W, H), bilinear at ``y1 / H * (H - 1) + i * (y2 - y1) / H * (H - 1) / (size - 1)`` (x likewise);
    samples outside the image are 0."""
    image = normalize(image)
    h, w = image.shape[:2]
    steps = np.arange(size) / (size - 1)
    ys = (boxes[:, 1:2] + steps * (boxes[:, 3:4] - boxes[:, 1:2])) * ((h - 1) / h)
    xs = (boxes[:, 0:1] + steps * (boxes[:, 2:3] - boxes[:, 0:1])) * ((w - 1) / w)
    inside = ((ys >= 0) & (ys <= h - 1))[:, :, None] & ((xs >= 0) & (xs <= w - 1))[:, None, :]
    y0, x0 = np.clip(np.floor(ys), 0, h - 1).astype(int), np.clip(np.floor(xs), 0, w - 1).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, :, None, None], (xs - x0)[:, None, :, None]

    def at(yi, xi):
        return image[yi[:, :, None], xi[:, None, :]]

    top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx
    bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx
    return np.where(inside[..., None], top + (bottom - top) * fy, 0).astype(np.float32)


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2 px, float64
    probs: np.ndarray  # (N,)
    landmarks: np.ndarray  # (N, 5, 2) x, y px
    stage_counts: dict = field(default_factory=dict)  # candidates left after "pnet", "rnet", "onet"


def _overlap(a: np.ndarray, b: np.ndarray, kind: str = "union") -> np.ndarray:
    """(len(a), len(b)) intersection over union, or over the smaller area when kind is 'min'."""
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a, area_b = [np.prod(x[:, 2:4] - x[:, :2], axis=-1) for x in (a, b)]
    denom = area_a[:, None] + area_b[None, :] - inter if kind == "union" else np.minimum.outer(area_a, area_b)
    return inter / denom


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, kind: str = "union") -> np.ndarray:
    """Indices kept, by decreasing score: those overlapping no higher-scoring box by more than ``threshold``."""
    order = np.argsort(-scores, kind="stable")
    beaten = np.triu(_overlap(boxes[order], boxes[order], kind) > threshold, k=1).any(axis=0)
    return order[~beaten]


def _square(boxes: np.ndarray) -> np.ndarray:
    size = boxes[:, 2:4] - boxes[:, :2]
    corner = boxes[:, :2] + (size - size.max(axis=1, keepdims=True)) / 2
    return np.concatenate([corner, corner + size.max(axis=1, keepdims=True)], axis=1)


def _regress(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    size = boxes[:, 2:4] - boxes[:, :2] + 1
    return boxes + deltas * np.tile(size, 2)


def pyramid_levels(image: np.ndarray, min_face: int = 20) -> list[np.ndarray]:
    """P-Net's inputs: every pyramid level, normalized, as a batch of one, largest first."""
    return [normalize(resize_image(image, shape))[None] for shape in pyramid_shapes(*image.shape[:2],
                                                                                   min_face=min_face)]


def pnet_pyramid(image: np.ndarray, pnet, min_face: int = 20) -> list[list[np.ndarray]]:
    """P-Net's outputs ``[box_reg, prob]`` on every pyramid level, largest level first."""
    return [pnet(level) for level in pyramid_levels(image, min_face)]


def _empty(stage_counts: dict) -> Detections:
    return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)), stage_counts)


def _pnet_boxes(image: np.ndarray, pnet, threshold: float, min_face: int) -> tuple[np.ndarray, np.ndarray]:
    found = [(np.zeros((0, 4)), np.zeros(0))]
    for scale, outputs in zip(scales(*image.shape[:2], min_face=min_face), pnet_pyramid(image, pnet, min_face)):
        reg, prob = (np.asarray(t, np.float64)[0] for t in outputs)
        rows, cols = np.nonzero(prob[:, :, 1] > threshold)
        corner = np.stack([cols, rows], axis=1) * 2.0
        boxes = (np.concatenate([corner + 1, corner + 12], axis=1) + 11 * reg[rows, cols]) / scale
        score = prob[rows, cols, 1]
        keep = _nms(boxes, score, 0.5)
        found.append((boxes[keep], score[keep]))
    boxes, score = (np.concatenate(x) for x in zip(*found))
    keep = _nms(boxes, score, 0.7)
    return _square(boxes[keep]), score[keep]


def detect(image: np.ndarray, nets: Nets, *, min_face: int = 20, thresholds=(0.6, 0.7, 0.8)) -> Detections:
    """Faces in an HWC RGB image (uint8 or float 0..255) found by the three ``nets``; see the module docstring."""
    image = np.asarray(image, np.float64)
    boxes, _ = _pnet_boxes(image, nets["pnet"], thresholds[0], min_face)
    counts = {"pnet": len(boxes)}
    if not len(boxes):
        return _empty(counts)
    reg, prob = (np.asarray(t, np.float64) for t in nets["rnet"](crop_patches(image, boxes, 24)))
    good = prob[:, 1] > thresholds[1]
    boxes, score = _regress(boxes[good], reg[good]), prob[good, 1]
    boxes = _square(boxes[_nms(boxes, score, 0.7)])
    counts["rnet"] = len(boxes)
    if not len(boxes):
        return _empty(counts)
    reg, marks, prob = (np.asarray(t, np.float64) for t in nets["onet"](crop_patches(image, boxes, 48)))
    size = boxes[:, 2:4] - boxes[:, :2] + 1
    marks = np.stack([marks[:, :5], marks[:, 5:]], axis=-1) * size[:, None, :] + boxes[:, None, :2] - 1
    good = prob[:, 1] > thresholds[2]
    boxes, score, marks = _regress(boxes[good], reg[good]), prob[good, 1], marks[good]
    keep = _nms(boxes, score, 0.7, "min")
    counts["onet"] = len(keep)
    limit = np.array(image.shape[1::-1] * 2) - 1  # W - 1, H - 1, W - 1, H - 1
    return Detections(np.clip(boxes[keep], 0, limit), score[keep], marks[keep], counts)


def agreement(found: Detections, reference: Detections, iou_match: float = 0.5) -> dict:
    """How closely ``found`` reproduces ``reference``. Pairs are matched greedily: repeatedly the unmatched pair of
    highest IoU, while that IoU >= ``iou_match``. Errors are maxima over matched pairs (0 when none): face
    probability, landmark distance (px) and corner distance (px, either corner)."""
    iou = _overlap(found.boxes, reference.boxes)
    pairs = []
    while iou.size and iou.max() >= iou_match:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        pairs.append((i, j, iou[i, j]))
        iou[i, :], iou[:, j] = -1, -1
    f, r = (np.array([p[k] for p in pairs], int) for k in (0, 1))

    def worst(a, b):
        return float(np.linalg.norm(a - b, axis=-1).max()) if pairs else 0.0

    return {"matched": len(pairs), "missed": len(reference.boxes) - len(pairs), "extra": len(found.boxes) - len(pairs),
            "min_iou": min((float(p[2]) for p in pairs), default=1.0),
            "face_prob_error": float(np.abs(found.probs[f] - reference.probs[r]).max()) if pairs else 0.0,
            "landmark_error_px": worst(found.landmarks[f], reference.landmarks[r]),
            "box_error_px": worst(found.boxes[f].reshape(-1, 2, 2), reference.boxes[r].reshape(-1, 2, 2))}
