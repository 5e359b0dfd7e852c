"""The shared check pipeline on real lanes (and the real pytest-benchmark timer), fed cases built to
fail: a wrong reference, a raising reference, a converter refusal. Each must end as its documented
outcome with its evidence kept."""

from pathlib import Path

import numpy as np
import pytest

import reference
from tfparity.cases import Arrays, Case, Deviation, OpSpec
from tfparity.check import check
from tfparity.ops import REGISTRY


def _resize_spec(name, reference_fn, known=()):
    def build_tf(params, consts):
        import tensorflow as tf

        return lambda x: tf.image.resize(x, params["size"], "bilinear")

    return OpSpec(
        name=name, family="resize", samples={"quick": lambda: [dict(input_shape=[1, 6, 6, 3], size=[9, 9])]},
        make_arrays=lambda p, rng: Arrays([rng.standard_normal(p["input_shape"]).astype(np.float32)], {}),
        tf=build_tf, reference=reference_fn, flops=lambda p: 1, label=lambda p: "in=1x6x6x3,size=9x9",
        tflite_ops=frozenset({"RESIZE_BILINEAR"}), known=known,
    )


def _check(spec, lane, benchmark, tmp_path):
    (case,) = spec.cases("quick", 0)
    return check(case, lane, benchmark=benchmark, run_id="t", threads=1, speed={},
                 availability=(True, ""), results_dir=tmp_path)


def _nearest(p, inputs, c):
    return reference.resize(inputs[0], p["size"], "nearest")  # wrong on purpose: the lane runs bilinear


def _bilinear(p, inputs, c):
    return reference.resize(inputs[0], p["size"], "bilinear")


DEVIATION = Deviation(frozenset({"tf-cpu"}), "documented on purpose",
                      symptom=lambda r: r["reason"].startswith("outside tolerance") and r["metrics"]["max_abs"] < 10)


def test_a_wrong_reference_fails_with_metrics_and_a_picture(benchmark, tmp_path):
    record = _check(_resize_spec("wrong_resize", _nearest), "tf-cpu", benchmark, tmp_path)
    assert record["outcome"] == "fail" and "outside tolerance" in record["reason"]
    assert record["metrics"]["max_abs"] > 0.1 and record["timing"]["rounds"] >= 7
    picture = tmp_path / record["picture"]
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_known_deviation_is_an_xfail(benchmark, tmp_path):
    record = _check(_resize_spec("known", _nearest, (DEVIATION,)), "tf-cpu", benchmark, tmp_path)
    assert record["outcome"] == "xfail" and record["reason"].startswith("documented on purpose; measured")


def test_a_deviation_excuses_only_its_symptom(benchmark, tmp_path):
    """The same failure against a deviation that documents another symptom (a wrong shape) stays a failure."""
    other = Deviation(frozenset({"tf-cpu"}), "a wrong shape", symptom=lambda r: r["reason"].startswith("output shape"))
    record = _check(_resize_spec("other", _nearest, (other,)), "tf-cpu", benchmark, tmp_path)
    assert record["outcome"] == "fail" and "not the symptom of the known deviation: a wrong shape" in record["reason"]


def test_a_deviation_measured_on_other_machines_does_not_excuse_a_failure_here(benchmark, tmp_path):
    """``where``: a deviation of another CPU's kernel or another build leaves the same failure a failure here."""
    elsewhere = Deviation(DEVIATION.lanes, DEVIATION.reason, symptom=DEVIATION.symptom, where=lambda: False)
    record = _check(_resize_spec("elsewhere", _nearest, (elsewhere,)), "tf-cpu", benchmark, tmp_path)
    assert record["outcome"] == "fail" and "outside tolerance" in record["reason"]


def test_machine_conditions_name_this_machine():
    """The predicates deviations are scoped by read this machine: the CPU flags TF and XNNPACK choose kernels by, and
    TF's own oneDNN switch (which the environment variable turns off)."""
    import os
    import subprocess
    import sys

    from tfparity import machine

    assert machine.avx512_skx() == ("avx512bw" in machine.cpu_flags() and "avx512vl" in machine.cpu_flags()
                                    and "avx512f" in machine.cpu_flags())
    probe = "from tfparity import machine; print(machine.tf_onednn())"
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert off.stdout.strip() == "False"


def test_a_converted_model_without_the_op_fails_even_with_no_ops_at_all():
    from tfparity.check import _check_ops
    from tfparity.lanes import Runnable

    case = REGISTRY.select("quick", 0, ops=["conv2d"])[0]
    record = {"outcome": "pass", "reason": ""}
    empty = Runnable(set_inputs=None, invoke=None, output=None, tflite_ops=[])
    assert _check_ops(record, case, empty) and record["outcome"] == "fail"
    assert record["reason"] == "converted model lacks CONV_2D (has no ops)"


def test_a_known_deviation_that_stops_reproducing_fails(benchmark, tmp_path):
    record = _check(_resize_spec("fixed", _bilinear, (DEVIATION,)), "tf-cpu", benchmark, tmp_path)
    assert record["outcome"] == "fail" and "no longer reproduces" in record["reason"]


def test_a_raising_reference_is_an_error_record_not_a_crash(tmp_path):
    def broken(p, inputs, c):
        raise RuntimeError("reference exploded")

    record = _check(_resize_spec("broken", broken), "tflite-ref", None, tmp_path)
    assert record["outcome"] == "error" and record["reason"] == "RuntimeError: reference exploded"
    assert "Traceback" in record["traceback"]


def test_a_converter_refusal_is_unsupported_with_one_line():
    case = next(c for c in REGISTRY.select("quick", 0, ops=["resize"]) if "method=bicubic,aa=0" in c.id)
    record = check(case, "tflite-ref", benchmark=None, run_id="t", threads=1, speed={},
                   availability=(True, ""))
    assert record["outcome"] == "unsupported"
    assert record["reason"].startswith("converter: TF op ResizeBicubic has no TFLite builtin")
    assert "\n" not in record["reason"]


def test_a_converter_refusal_is_remembered(tmp_path, monkeypatch):
    from tfparity import convert

    monkeypatch.setenv("TFPARITY_CACHE", str(tmp_path))
    case = next(c for c in REGISTRY.select("quick", 0, ops=["resize"]) if "method=bicubic,aa=0" in c.id)
    with pytest.raises(convert.ConversionRefused) as first:
        convert.convert(case, "float")
    monkeypatch.setattr(convert, "_converter", lambda case, mode: pytest.fail("converted again"))
    with pytest.raises(convert.ConversionRefused) as again:
        convert.convert(case, "float")
    assert str(again.value) == str(first.value) and "ResizeBicubic" in str(again.value)


@pytest.mark.parametrize("edited, kinds", [("ops/conv.py", (False, True)), ("models/blocks.py", (True,)),
                                           ("frozen.py", (False, True))])
def test_an_edit_to_the_code_that_builds_a_graph_changes_its_cache_key(edited, kinds, monkeypatch):
    """A conversion is cached under the digest of the sources that build it: after an edit (a pull, a changed
    network) the case is converted anew instead of served stale; an edit elsewhere leaves the key."""
    from tfparity import convert

    before = {model: convert.source_digest.__wrapped__(model) for model in (False, True)}
    read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read(self) + b"#" * self.as_posix().endswith(edited))
    after = {model: convert.source_digest.__wrapped__(model) for model in (False, True)}
    assert {model for model in before if before[model] != after[model]} == set(kinds)


def test_an_edit_to_a_model_built_outside_tfparity_changes_its_cache_key(monkeypatch):
    """A spec whose ``build`` lives in a user's script (here: a test file) is keyed by that file's content too; the
    specs in tfparity/models/ are keyed by the package's sources alone."""
    from tests.test_reference_uint8 import GATED
    from tfparity import convert
    from tfparity.models import MODELS

    assert convert.builder_digest(MODELS.specs["vgg_block"]) is None
    case = GATED.cases("quick", 0)[0]
    before = convert.cache_key(case, "uint8")
    read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read(self) + b"#" * (self.name == "test_reference_uint8.py"))
    assert convert.cache_key(case, "uint8") != before


def test_unavailable_lane_is_a_skip_with_its_reason():
    case = REGISTRY.select("quick", 0, ops=["relu"])[0]
    record = check(case, "tf-gpu", benchmark=None, run_id="t", threads=1, speed={},
                   availability=(False, "TensorFlow sees no GPU"))
    assert (record["outcome"], record["reason"]) == ("skip", "TensorFlow sees no GPU")


@pytest.mark.parametrize("lane", ["tf-cpu", "tflite-xnnpack"])
def test_converted_ops_are_recorded_and_checked(lane, benchmark):
    case = REGISTRY.select("quick", 0, ops=["conv2d"])[0]
    record = check(case, lane, benchmark=benchmark, run_id="t", threads=1, speed={}, availability=(True, ""))
    assert record["outcome"] == "pass"
    if lane.startswith("tflite"):
        assert "CONV_2D" in record["tflite_ops"]


def test_case_release_drops_cached_arrays():
    case = Case(REGISTRY.specs["relu"], dict(input_shape=[2, 3], scale=1.0), 0)
    _ = case.expected
    case.release()
    assert "arrays" not in case.__dict__ and "expected" not in case.__dict__
