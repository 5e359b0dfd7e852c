"""What LiteRT's GPU accelerator computes where it deviates (on llvmpipe here), shown from its own output: the
strict deviations and the float16-held resize coordinates rest on these mechanisms, not on error sizes alone."""

import numpy as np

import reference
from tests.test_planted_faults import NoTiming
from tfparity import lanes
from tfparity.cases import Case
from tfparity.check import check
from tfparity.ops import REGISTRY
from tfparity.tolerances import H


def _run(op: str, params: dict, lane: str):
    """The case, the lane's output and its record."""
    case = Case(REGISTRY.specs[op], params, 0)
    runnable = lanes.LANES[lane].prepare(case, 1)
    runnable.set_inputs(case.arrays.inputs)
    runnable.invoke()
    record = check(case, lane, benchmark=NoTiming(), run_id="t", threads=1, speed={},
                   availability=lanes.LANES[lane].available())
    return case, runnable.output().astype(np.float64), record


def test_a_1x1_depthwise_with_a_multiplier_reads_its_filter_transposed():
    """Output channel ``c*M + m`` is input channel ``c`` times flat weight ``m*C + c`` (not ``c*M + m``)."""
    params = dict(input_shape=[1, 6, 6, 3], filter_shape=[1, 1, 3, 2], strides=1, padding="VALID", dilations=1)
    case, y, record = _run("depthwise_conv2d", params, "litert-gpu-f32")
    x, w = case.arrays.inputs[0].astype(np.float64), case.arrays.consts["filters"].astype(np.float64)
    c, m = 3, 2
    read = w.reshape(-1)[[mi * c + ci for ci in range(c) for mi in range(m)]].reshape(1, 1, c, m)
    scale = np.abs(case.expected).max()
    assert np.abs(y - reference.depthwise_conv2d(x, read)).max() <= 1e-6 * scale
    assert np.abs(y - case.expected).max() > 0.1 * scale
    assert record["outcome"] == "xfail" and "flat index m*C + c" in record["reason"]


def test_a_same_transposed_conv_is_cropped_at_the_forward_conv_padding():
    """5x5 input, 5x5 kernel, stride 2: TF crops the full 13x13 output at (k-s)//2 = 1; the accelerator at the top
    padding of a SAME forward conv over the 5x5 input, 2."""
    params = dict(input_shape=[1, 5, 5, 8], filter_shape=[5, 5, 3, 8], strides=2, padding="SAME",
                  output_shape=[1, 10, 10, 3])
    case, y, record = _run("conv2d_transpose", params, "litert-gpu-f32")
    x, w = case.arrays.inputs[0], case.arrays.consts["filters"]
    full = reference.conv2d_transpose(x, w, [1, 13, 13, 3], 2, "VALID")
    scale = np.abs(full).max()
    assert np.abs(full[:, 1:11, 1:11] - case.expected).max() <= 1e-12 * scale  # TF's crop, as the reference has it
    assert np.abs(y - full[:, 2:12, 2:12]).max() <= 1e-6 * scale
    assert record["outcome"] == "xfail" and "SAME forward conv" in record["reason"]


def test_bilinear_resize_holds_its_source_coordinates_in_float16():
    """At float16, against float32 coordinates the error grows with the pixel position far past the 8H bound; with
    the coordinates rounded to float16 it is within it: the reference the lane is judged on holds them so."""
    params = dict(input_shape=[1, 46, 48, 4], size=[87, 28], dtype="float32", method="bilinear",
                  align_corners=True, half_pixel_centers=False)
    case, y, record = _run("resize_v1", params, "litert-gpu")
    x = case.arrays.inputs[0].astype(np.float16)
    scale = np.abs(x).max()
    exact = reference.resize_v1(x, [87, 28], "bilinear", align_corners=True)
    held = reference.resize_v1(x, [87, 28], "bilinear", align_corners=True, coordinates=np.float16)
    assert np.abs(y - exact).max() > 16 * H * scale
    assert np.abs(y - held).max() <= 4 * H * scale
    assert record["outcome"] == "pass" and record["metrics"]["tol_used"] < 0.5
