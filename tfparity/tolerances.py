"""The one tolerance table: per lane and op, ``|y - r| <= atol + rtol * m``.

``m`` is the op's error scale: ``Σ|x||w|`` for linear ops (conv family, avg pool), ``max|x|`` for
resize, ``|r|`` otherwise. Keys are (lane, name) where name is ``op:variant`` (e.g.
``resize:lanczos3``), ``op`` or the op's family; lookup goes from most to least specific lane and
name, ``*`` matching any lane. ``U`` is the float32 unit roundoff 2^-24.

Each entry quotes the worst error measured on TF 2.21 + LiteRT 2.3, x86-64, over the full profile
(1,347 float op cases on tf-cpu, tf-xla, tflite-xnnpack, tflite-builtin, tflite-ref; resize: 658
cases). Dynamic-range models (int8 weights) are judged against their own weights, with the per-element bound
of their inputs' quantization (``tfparity/quant.py:dynamic_range_judgement``) added to the lane's float entry.
A larger error is a finding (a strict xfail with its reason in the registry), never a reason to widen an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfparity.lanes import XNNPACK_FLOAT_LANES


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    why: str
    per_op: float = 0.0  # whole models: added to rtol for each op that rounds on the longest path
    per_pixel: float = 0.0  # added to rtol per pixel of the input's larger spatial side

    def rtol_for(self, case) -> float:
        """``rtol``, sized to the case: ``rtol + per_pixel * max(height, width)`` of its (NHWC) input."""
        return self.rtol + (self.per_pixel * max(case.params["input_shape"][1:3]) if self.per_pixel else 0.0)

    def as_record(self, scale: str) -> dict:
        return {"atol": self.atol, "rtol": self.rtol, "scale": scale}


U = 2.0**-24
EXACT = Tolerance(0.0, 0.0, "exact: the op selects or clamps float32 values")
TINY = 2.0**-36  # absolute floor for outputs in [0, 1] far below their largest value
TINY_WHY = ("atol 2^-36 (1.5e-11): outputs below 1e-6 of the largest carry absolute, not relative, error: "
            "measured <= 1.05e-12 on every lane")
H = 2.0**-11  # float16 unit roundoff
GPU_FP16 = ("litert-gpu: judged on its inputs rounded to float16 (the storage it holds them in, as integer lanes are "
            "judged on theirs); ")

TABLE: dict[tuple[str, str], Tolerance] = {
    ("*", "conv"): Tolerance(0.0, 16 * U, "float32 accumulation; measured max_norm 3.82e-7 (6.4U) with up to "
                                          "12,544 taps per output (sequential worst case n·U is far looser)"),
    ("tflite-fp16", "conv"): Tolerance(0.0, 2.0**-11 + 16 * U, "float16 weights round by at most 2^-11 relative, "
                                                               "so |Σx·Δw| <= 2^-11 Σ|x||w|; measured 4.58e-4"),
    ("*", "avg_pool2d"): Tolerance(0.0, 8 * U, "float32 sum of <= 49 taps and a division; measured 2.60e-7 (4.4U)"),
    ("*", "max_pool2d"): EXACT,
    ("*", "relu"): EXACT,
    ("*", "relu6"): EXACT,
    ("*", "activation"): Tolerance(TINY, 16 * U, "vectorized expf / rational tanhf approximations; measured "
                                                 "4.90e-7 (8.2U, sigmoid on tf-cpu), tanh 3.38e-7; " + TINY_WHY),
    ("tflite-ref", "sigmoid"): Tolerance(2.0**-23, 16 * U, "the reference LOGISTIC kernel's error is absolute, "
                                                           "about 1 ulp of 1.0: measured 8.8e-8 abs on outputs near "
                                                           "1e-8 (relative 1.2e-4)"),
    ("*", "softmax"): Tolerance(TINY, 32 * U, "expf, a float32 sum of up to 1,000 terms and a division; measured "
                                              "1.11e-6 (18.6U, tflite-ref); " + TINY_WHY),
    ("*", "resize"): Tolerance(0.0, 16 * U, "same coordinates, other float32 evaluation order: TFLite's reference "
                                            "bilinear uses the 4-product form, XLA its own lowering; measured "
                                            "3.2e-7 (tflite-builtin), 2.2e-7 (tf-xla, where it is right) of max|x|"),
    ("*", "resize:nearest"): EXACT,
    ("tf-cpu", "resize"): Tolerance(0.0, 0.0, "the reference emulates TF's CPU kernels bit for bit"),
    ("tf-cpu", "resize:lanczos3"): Tolerance(0.0, 2e-6, "sinf: numpy and libm may differ by an ulp; measured 2.9e-7"),
    ("tf-cpu", "resize:lanczos5"): Tolerance(0.0, 2e-6, "sinf: numpy and libm may differ by an ulp; measured 3.0e-7"),
    **{(lane, "resize:bilinear"): Tolerance(0.0, 16 * U, "XNNPACK computes v = i*s + (0.5*s - 0.5): the coordinate "
                                                        "moves by up to 2 unit roundoffs of the input size n (2Un px), "
                                                        "the value by up to 2*max|x|*dv: rtol 4U per input pixel "
                                                        "(6.1e-5 at 256 px) on the resize entry's 16U; measured 3.1e-6 "
                                                        "(<= 64 px)", per_pixel=4 * U) for lane in XNNPACK_FLOAT_LANES},
    ("*", "model"): Tolerance(0.0, 64 * U, "whole float32 models against the float64 executor, per output, scale "
                                           "max|ref|: measured 1.38e-6 (23U; mtcnn_pnet, tflite-xnnpack) over the "
                                           "quick models on every float lane; float16 weights against the model's "
                                           "own float16 weights: the arithmetic is float32 (measured 1.2e-6)"),
    ("tflite-dynamic", "model"): Tolerance(0.0, 64 * U, "against the model's own int8 weights: each op with int8 "
                                                        "weights quantizes its input on the fly, off by at most half "
                                                        "a step max|x|/254 (symmetric; XNNPACK's asymmetric per-row "
                                                        "steps are no larger), which moves its output by at most "
                                                        "1/254 of max|x|Σ|w| <= 2 max|y| (assumed): 1/127 per such op "
                                                        "on the longest path, carried with gain <= 1; measured "
                                                        "0.64 of it (mtcnn_onet) and a finding on P-Net",
                                           per_op=1 / 127),
    ("litert-gpu", "model"): Tolerance(2.0**-14, 0.0, GPU_FP16 + "every op rounds in float16 within the largest "
                                                      "single-op bound, 8H of its scale (conv), carried with gain "
                                                      "<= 1: 8H per op on the longest path; outputs below float16's "
                                                      "smallest normal 2^-14 may flush; measured 0.45 of it "
                                                      "(mtcnn_pnet)", per_op=8 * H),
    # LiteRT's GPU accelerator (WebGPU) at its default precision: float16 activations, weights and arithmetic.
    # Measured on Mesa's llvmpipe (software Vulkan), quick profile, ai-edge-litert 2.3.0.
    ("litert-gpu", "conv"): Tolerance(2.0**-14, 8 * H, GPU_FP16 + "weights, products and the output each round by "
                                                      "at most 2^-11 (3H), float16 partial sums of a tree reduction "
                                                      "add H per level (5 levels: 8H); measured 1.57e-3 (3.2H) quick, "
                                                      "0.81 of it full (two ResNet50 layers beyond: a finding); "
                                                      "outputs below float16's smallest normal 2^-14 are subnormal "
                                                      "(2^-24 apart) or flushed: measured 2.9e-8 absolute"),
    ("litert-gpu", "avg_pool2d"): Tolerance(0.0, 8 * H, GPU_FP16 + "float16 sum of <= 49 taps and a division, as "
                                                        "for conv (8H); measured 8.8e-4 (1.8H)"),
    ("litert-gpu", "resize:bilinear"): Tolerance(0.0, 8 * H, GPU_FP16 + "and on its source coordinates held in "
                                                             "float16 too; three float16 lerps of two roundings each "
                                                             "plus float16 weights (7H, 8H); measured 2.6H of max|x| "
                                                             "(exact coordinates: up to 56H at 224 px)"),
    ("litert-gpu", "activation"): Tolerance(2.0**-14, 4 * H, GPU_FP16 + "exp / division in float16: 4H; outputs "
                                                             "below float16's smallest normal 2^-14 may flush to 0 "
                                                             "(sigmoid of x < -9.7); measured tanh 9.6e-4 (2H)"),
    ("litert-gpu", "softmax"): Tolerance(2.0**-14, 8 * H, GPU_FP16 + "float16 exp, sum and division (8H), flush below "
                                                          "2^-14; larger logit ranges are a known deviation "
                                                          "(tfparity/ops/elementwise.py)"),
    ("litert-gpu-f32", "tanh"): Tolerance(2.0**-22, 16 * U, "the accelerator's tanh has absolute error about 1 ulp "
                                                            "of 1.0: measured 1.4e-7 absolute (relative 2e-4 at "
                                                            "x = -1.3e-4)"),
}


def lookup(lane: str, names: list[str]) -> Tolerance:
    """The entry of the most specific of ``names`` (variant, op, family; most specific first) that has one, the
    lane's own entry before the any-lane (``*``) one: a lane's family entry never overrides a variant's (exact
    nearest-neighbour resize stays exact on every lane)."""
    for name in (*names, "*"):
        for who in (lane, "*"):
            if (who, name) in TABLE:
                return TABLE[(who, name)]
    raise KeyError(f"no tolerance for lane {lane!r}, op {names[0]!r}")
