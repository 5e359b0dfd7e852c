"""``resize`` (tf.image.resize, every method × antialias) and ``resize_v1`` (tf.compat.v1 resize_*
with every valid align_corners / half_pixel_centers combination).

The references reproduce TF's float32 arithmetic, so TF lanes are judged bit for bit (see the
tolerance table). Error scale: ``max|x|`` of the input (interpolated values are bounded by the
input range times the kernel's absolute weight sum). FLOPs: the separable passes' multiply-adds,
``2 * taps * (rows pass + columns pass)``, with ``taps`` the kernel support (1 nearest, 2 bilinear,
4 cubic, 2r lanczos/gaussian, ``ceil(in/out) + 1`` area).
"""

from __future__ import annotations

import numpy as np

import reference
from tfparity.cases import Arrays, Deviation, OpSpec
from tfparity.ops.common import dims, sample, with_layers

METHODS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
V1_FLAGS = {  # method -> valid (align_corners, half_pixel_centers); area has no half_pixel_centers
    "bilinear": ((False, False), (True, False), (False, True)),
    "nearest": ((False, False), (True, False), (False, True)),
    "bicubic": ((False, False), (True, False), (False, True)),
    "area": ((False, False), (True, False)),
}
_TAPS = {"nearest": 1, "bilinear": 2, "bicubic": 4, "mitchellcubic": 4, "lanczos3": 6, "lanczos5": 10,
         "gaussian": 3}

# (input_shape, size, dtype): up/down, integer and non-integer ratios, 1x1, 1xN, Nx1, extreme ratios,
# batch > 1, channels 1/3/4/16, float32 and uint8.
SHAPES = (
    ([1, 8, 8, 3], [16, 16], "float32"),
    ([1, 12, 10, 1], [5, 7], "float32"),
    ([2, 7, 9, 4], [11, 13], "uint8"),
    ([1, 6, 6, 16], [3, 3], "float32"),
    ([1, 5, 5, 3], [1, 1], "float32"),
    ([1, 6, 9, 3], [1, 12], "float32"),
    ([1, 9, 6, 1], [10, 1], "uint8"),
    ([1, 4, 4, 3], [224, 224], "float32"),
    ([1, 224, 224, 3], [7, 7], "float32"),
    ([4, 10, 10, 4], [15, 15], "float32"),
    ([1, 16, 16, 1], [8, 8], "uint8"),
    ([1, 3, 5, 3], [9, 20], "float32"),
    ([1, 33, 17, 3], [10, 12], "float32"),
    ([1, 1, 1, 3], [4, 4], "float32"),
)


def _arrays(params, rng) -> Arrays:
    shape = params["input_shape"]
    if params["dtype"] == "uint8":
        return Arrays([rng.integers(0, 256, shape, dtype=np.uint8)], {})
    return Arrays([(rng.standard_normal(shape) * 2.0).astype(np.float32)], {})


def _flops(params) -> int:
    n, h, w, c = params["input_shape"]
    oh, ow = params["size"]
    taps = _TAPS.get(params["method"]) or (max(-(-h // oh), -(-w // ow)) + 1)
    if params.get("antialias"):
        taps = max(taps, taps * max(h / oh, w / ow))
    return int(2 * taps * n * c * (oh * w + oh * ow))


def _magnitude(params, inputs, consts):
    return np.full(tuple(params["input_shape"][:1]) + tuple(params["size"]) + tuple(params["input_shape"][3:]),
                   float(np.abs(inputs[0].astype(np.float64)).max(initial=0.0)))


def _tflite_ops(method: str) -> frozenset[str]:
    return frozenset({"RESIZE_BILINEAR"} if method == "bilinear" else
                     {"RESIZE_NEAREST_NEIGHBOR"} if method == "nearest" else set())


def _rotate(combos, count: int) -> list[dict]:
    """Each combination with ``count`` shapes, rotating through SHAPES so every shape appears."""
    out = []
    for i, combo in enumerate(combos):
        for j in range(count):
            shape, size, dtype = SHAPES[(i * count + j) % len(SHAPES)]
            out.append(dict(input_shape=shape, size=size, dtype=dtype, **combo))
    return out


def _random_shapes(seed, combos, count):
    def draw(rng):
        h, w = (int(v) for v in rng.integers(1, 65, 2))
        oh, ow = (int(v) for v in rng.integers(1, 97, 2))
        combo = combos[int(rng.integers(len(combos)))]
        return dict(input_shape=[int(rng.choice((1, 2))), h, w, int(rng.choice((1, 3, 4)))], size=[oh, ow],
                    dtype=str(rng.choice(("float32", "uint8"))), **combo)

    return sample(seed, count, draw)


_V2 = [dict(method=m, antialias=aa) for m in METHODS for aa in (False, True)]
_V1 = [dict(method=m, align_corners=a, half_pixel_centers=h) for m, flags in V1_FLAGS.items() for a, h in flags]


def _v2_tf(params, consts):
    import tensorflow as tf

    return lambda x: tf.image.resize(x, params["size"], params["method"], antialias=params["antialias"])


def _v1_tf(params, consts):
    import tensorflow as tf

    v1 = tf.compat.v1.image
    method, size, align = params["method"], params["size"], params["align_corners"]
    if method == "area":
        return lambda x: v1.resize_area(x, size, align_corners=align)
    fn = {"bilinear": v1.resize_bilinear, "nearest": v1.resize_nearest_neighbor, "bicubic": v1.resize_bicubic}[method]
    return lambda x: fn(x, size, align_corners=align, half_pixel_centers=params["half_pixel_centers"])


def _common_label(params) -> str:
    return f"in={dims(params['input_shape'])},size={dims(params['size'])},method={params['method']}"


# (input size, output size, align_corners, half_pixel_centers) of one axis: measured (TF 2.21, x86-64 with AVX-512)
XLA_WRONG_AXES = frozenset({(18, 30, False, True), (18, 66, False, True), (4, 224, False, False)})


def _axes(p) -> set[tuple[int, int, bool, bool]]:
    half = p.get("half_pixel_centers", "align_corners" not in p)  # tf.image.resize: half-pixel centres
    return {(n, m, p.get("align_corners", False), half) for n, m in zip(p["input_shape"][1:3], p["size"])}


XLA_BILINEAR = Deviation(
    frozenset({"tf-xla"}),
    "XLA's ResizeBilinear (TF 2.21; its gather-and-weights lowering) returns pixel k+1 at some outputs whose source "
    "coordinate is exactly the integer k (18 -> 30 half-pixel: rows 2 and 7 of the six such; 18 -> 66: 5 and 16; "
    "4 -> 224 asymmetric: 56 of three), so those outputs move by a neighbour's difference (max_norm 0.88-1.17); "
    "the other bilinear shapes are right",
    when=lambda p: p["method"] == "bilinear" and not p.get("antialias") and bool(_axes(p) & XLA_WRONG_AXES),
    symptom=lambda r: r["reason"].startswith("outside tolerance") and r["metrics"]["max_norm"] <= 2.0)


def _v2_ref(p, inputs, consts, coordinates=np.float32):
    return reference.resize(inputs[0], p["size"], p["method"], antialias=p["antialias"], coordinates=coordinates)


def _v1_ref(p, inputs, consts, coordinates=np.float32):
    return reference.resize_v1(inputs[0], p["size"], p["method"], align_corners=p["align_corners"],
                               half_pixel_centers=p["half_pixel_centers"], coordinates=coordinates)


RESIZE = OpSpec(
    name="resize", family="resize",
    samples=with_layers("resize", {"quick": lambda: _rotate(_V2, 3),
                                   "full": lambda: _rotate(_V2, len(SHAPES)) + _random_shapes(60, _V2, 160)}, _flops),
    make_arrays=_arrays, tf=_v2_tf,
    reference=_v2_ref, held_reference=_v2_ref,
    magnitude=_magnitude, scale_name="max|x|", flops=_flops,
    label=lambda p: f"{_common_label(p)},aa={int(p['antialias'])},dtype={p['dtype']}",
    group=lambda p: f"{p['method']} antialias={int(p['antialias'])}",
    tflite_ops=lambda p: _tflite_ops(p["method"]),
    variant=lambda p: p["method"], known=(XLA_BILINEAR,),
)

RESIZE_V1 = OpSpec(
    name="resize_v1", family="resize",
    samples={"quick": lambda: _rotate(_V1, 3),
             "full": lambda: _rotate(_V1, len(SHAPES)) + _random_shapes(61, _V1, 120)},
    make_arrays=_arrays, tf=_v1_tf,
    reference=_v1_ref, held_reference=_v1_ref,
    magnitude=_magnitude, scale_name="max|x|", flops=_flops,
    label=lambda p: (f"{_common_label(p)},align={int(p['align_corners'])},half={int(p['half_pixel_centers'])},"
                     f"dtype={p['dtype']}"),
    group=lambda p: f"{p['method']} align_corners={int(p['align_corners'])} half_pixel={int(p['half_pixel_centers'])}",
    tflite_ops=lambda p: _tflite_ops(p["method"]),
    variant=lambda p: p["method"], known=(XLA_BILINEAR,),
)

SPECS = (RESIZE, RESIZE_V1)
