"""Planted faults (mutation testing of the verdicts): a real lane's output is altered by a defect of the size its
check claims to catch, and every case the defect changes must turn from pass into fail.

Each fault wraps a real lane (test-only; never registered for users). The kill rate (caught / changed) is printed
per fault (``pytest -s``) and must be 100 %.
"""

import dataclasses
import json

import numpy as np
import pytest

from tfparity import lanes, quant
from tfparity.check import check, float_bound
from tfparity.lanes.base import converted
from tfparity.models import MODELS
from tfparity.models.check import check_model
from tfparity.ops import REGISTRY

CASES = REGISTRY.select("quick", 0, limit=3)


class NoTiming:
    """The benchmark fixture with timing off (as in ``--no-timing`` runs): verdicts only."""

    disabled = True

    def __call__(self, function):
        return function()


def check_on(case, lane) -> dict:
    """``check_model`` of a whole-model ``case`` on a test-only ``lane``, registered for the call only."""
    lanes.LANES[lane.name] = lane
    try:
        return check_model(case, lane.name, benchmark=NoTiming(), run_id="t", threads=1, availability=(True, ""))
    finally:
        del lanes.LANES[lane.name]


def _allowed(case, lane: str, output: np.ndarray) -> np.ndarray:
    """Per element: the error the float check allows (atol + rtol · scale), as check() sizes it (on the lane's
    converted model: a dynamic-range one is judged against its own int8 weights)."""
    model = converted(case, lanes.LANES[lane].mode) if lane in lanes.CONVERTED_LANES else None
    _, scale, atol, rtol, _ = float_bound(case, lanes.LANES[lane], model)
    return np.broadcast_to(atol + rtol * scale, output.shape)


def _one_element(case, lane, y):
    """Element 0 moved by 4x what its tolerance allows (one ulp where the op must be exact)."""
    y = y.copy()
    step = 4 * _allowed(case, lane, y).flat[0]
    y.flat[0] += max(step, 4 * np.spacing(np.float32(abs(y.flat[0]) + 1e-30)))
    return y


def _non_finite(case, lane, y):
    y = y.copy()
    y.flat[0] = np.nan
    return y


def _zeros(case, lane, y):
    """Nothing computed: every element 0 (a lane whose output underflows, or that never writes its output)."""
    return np.zeros_like(y)


def _shifted(case, lane, y):
    """An image shifted by one pixel along its widest spatial axis (wrapping)."""
    return np.roll(y, 1, axis=1 if y.shape[1] >= y.shape[2] else 2) if y.ndim == 4 and max(y.shape[1:3]) > 1 else y


def _scaled(case, lane, y):
    """Every element times (1 + e), e 4x the smallest relative error the tolerance allows anywhere."""
    reference = np.abs(case.expected)
    nonzero = reference > 0
    if not nonzero.any():
        return y
    e = 4 * float(np.min(_allowed(case, lane, y)[nonzero] / reference[nonzero]))
    return (y * (1 + max(e, 2.0**-20))).astype(y.dtype)


def _lsb(size: int):
    def plant(q):
        q = q.copy()
        q.flat[0] = q.flat[0] + size if q.flat[0] <= np.iinfo(q.dtype).max - size else q.flat[0] - size
        return q

    return plant


def _every_lsb(q):
    """Every element one LSB off (down where it would overflow): within the per-element rule, not the RMS one."""
    info = np.iinfo(q.dtype)
    return np.where(q < info.max, q.astype(np.int64) + 1, q.astype(np.int64) - 1).astype(q.dtype)


@dataclasses.dataclass(frozen=True)
class Planted(lanes.Lane):
    """``base`` with its output altered by ``fault`` (a float fault on ``output``, or an integer one on the raw
    output of an integer model)."""

    base: str = ""
    fault: object = None
    integer: bool = False

    @property
    def judged_as(self):
        return self.base

    @property
    def capabilities(self):
        return lanes.LANES[self.base].capabilities

    @property
    def activations(self):
        return lanes.LANES[self.base].activations

    def prepare(self, case, threads):
        runnable = lanes.LANES[self.base].prepare(case, threads)
        if self.integer:
            raw = runnable.raw_output
            return dataclasses.replace(runnable, raw_output=lambda: self.fault(raw()))
        clean = runnable.output
        return dataclasses.replace(runnable, output=lambda: self.fault(case, self.base, clean()))

    def load(self, model, threads):
        """Whole models: every output altered by ``fault(outputs)``."""
        runnable = lanes.LANES[self.base].load(model, threads)
        clean = runnable.outputs
        return dataclasses.replace(runnable, outputs=lambda: self.fault(clean()))


FAULTS = {
    "one element, 4x its tolerance": ("tflite-xnnpack", _one_element, False),
    "one element NaN": ("tflite-builtin", _non_finite, False),
    "image shifted one pixel": ("tflite-ref", _shifted, False),
    "global scale, 4x the tolerance": ("tf-cpu", _scaled, False),
    "every element 0, on the lane with the widest absolute floor": ("litert-gpu", _zeros, False),
    "one element +1 LSB on the exact lane": ("tflite-int8-ref", _lsb(1), True),
    "one element +2 LSB on another integer lane": ("tflite-int8-builtin", _lsb(2), True),
    "every element +1 LSB on another integer lane": ("tflite-int8-builtin", _every_lsb, True),
}


def _kills(fault: str, base: str, plant, integer: bool, cases) -> tuple[int, list[str]]:
    """(cases the fault changed, those of them not failed) over ``cases`` that pass clean on ``base``."""
    lane = Planted(f"planted-{base}", lanes.LANES[base].kind, fault, base=base, fault=plant, integer=integer,
                   mode=lanes.LANES[base].mode)
    lanes.LANES[lane.name] = lane
    changed, missed = 0, []
    try:
        for case in cases:
            clean = check(case, base, benchmark=NoTiming(), run_id="t", threads=1, speed={},
                          availability=(True, ""))
            if clean["outcome"] != "pass":
                continue
            faulty = check(case, lane.name, benchmark=NoTiming(), run_id="t", threads=1, speed={},
                           availability=(True, ""))
            if faulty["metrics"] == clean["metrics"]:  # the fault left this case's output as it was
                continue
            changed += 1
            if faulty["outcome"] != "fail":
                missed.append(f"{case.id}: {faulty['outcome']} {faulty['reason'][:100]}")
    finally:
        del lanes.LANES[lane.name]
    print(f"\nplanted fault '{fault}' on {base}: killed {changed - len(missed)} of {changed} changed cases")
    return changed, missed


@pytest.mark.parametrize("fault", FAULTS)
def test_every_case_a_planted_fault_changes_turns_from_pass_to_fail(fault):
    changed, missed = _kills(fault, *FAULTS[fault], CASES)
    assert changed >= 10, f"the fault changed only {changed} cases: too few to measure"
    assert not missed, missed


def test_a_dynamic_range_op_off_by_4x_its_derived_bound_fails():
    """Dynamic-range op cases whose model holds int8 weights are judged against those weights with a derived
    per-element bound (``quant.dynamic_range_judgement``): one element moved by 4x it must fail each of them."""
    cases = [case for case in REGISTRY.select("quick", 0) if case.op.family == "conv"
             and quant.dynamic_range_judgement(case, converted(case, "dynamic")) is not None]
    changed, missed = _kills("one element, 4x its derived bound", "tflite-dynamic", _one_element, False, cases)
    assert changed >= 5, f"the fault changed only {changed} cases: too few to measure"
    assert not missed, missed


@pytest.mark.parametrize("base", ["tflite-fp16", "tflite-dynamic", "litert-gpu"])
def test_a_whole_model_scaled_at_its_tolerance_fails(base):
    """Whole models on the float16-weights, dynamic-range and float16-arithmetic (GPU) lanes are judged against the
    model as the lane holds it: a global scale error of 4x the bound the record states (fp16: the float32 model
    tolerance; dynamic range and GPU: the depth-sized bound) must fail every model it changes."""
    lane = Planted(f"planted-{base}", lanes.LANES[base].kind, "scaled", base=base, fault=None,
                   mode=lanes.LANES[base].mode)
    caught, changed = [], []
    for case in [c for c in MODELS.select("quick", 0) if not c.op.pipeline]:  # pipelines: judged on the task
        clean = check_model(case, base, benchmark=NoTiming(), run_id="t", threads=1, availability=(True, ""))
        if clean["outcome"] != "pass":
            continue
        rtol = clean["tolerance"]["rtol"]
        lanes.LANES[lane.name] = dataclasses.replace(lane, fault=lambda ys, e=4 * rtol: [y * (1 + e) for y in ys])
        try:
            faulty = check_model(case, lane.name, benchmark=NoTiming(), run_id="t", threads=1,
                                 availability=(True, ""))
        finally:
            del lanes.LANES[lane.name]
        changed.append(case.id)
        if faulty["outcome"] == "fail":
            caught.append(case.id)
    print(f"\nplanted scale on whole models, {base}: killed {len(caught)} of {len(changed)}")
    assert len(changed) >= 5 and caught == changed, sorted(set(changed) - set(caught))


def test_a_whole_model_returning_zeros_fails():
    """Every output of a whole model replaced by zeros, on the lane whose bound is widest (litert-gpu: float16
    arithmetic, atol 2^-14 and a per-op rtol that grows with depth): every model must fail."""
    base = "litert-gpu"
    lane = Planted(f"planted-{base}", lanes.LANES[base].kind, "zeros", base=base,
                   fault=lambda ys: [np.zeros_like(y) for y in ys], mode=lanes.LANES[base].mode)
    cases = [c for c in MODELS.select("quick", 0) if not c.op.pipeline]
    outcomes = {case.id: check_on(case, lane)["outcome"] for case in cases}
    assert len(outcomes) >= 5 and set(outcomes.values()) == {"fail"}, outcomes


def test_a_pass_an_all_zero_output_would_also_get_is_void():
    """sigmoid of inputs in [-20, -12] (outputs 2e-9 to 6e-6, all below float16's absolute floor 2^-14): on
    litert-gpu any output within 6.1e-5 of them passes, zeros included, so the verdict is `vacuous` (fail); on
    tflite-xnnpack (atol 2^-36) the same case is a real check and passes."""
    spec = REGISTRY.specs["sigmoid"]
    first = spec.cases("quick", 0)[0]
    shape = first.arrays.inputs[0].shape
    tiny = dataclasses.replace(spec, make_arrays=lambda params, rng: type(first.arrays)(
        [rng.uniform(-20, -12, shape).astype(np.float32)], {}))
    case = tiny.cases("quick", 0)[0]
    gpu, cpu = (check(case, lane, benchmark=NoTiming(), run_id="t", threads=1, speed={}, availability=(True, ""))
                for lane in ("litert-gpu", "tflite-xnnpack"))
    assert gpu["outcome"] == "fail" and gpu["reason"].startswith("vacuous"), gpu["reason"]
    assert gpu["metrics"]["tol_used"] <= 1  # within the allowance: only the guard makes it a fail
    assert cpu["outcome"] == "pass", cpu["reason"]


def test_a_run_whose_runtimes_do_not_import_is_not_green(tmp_path):
    """TensorFlow, LiteRT and tflite-runtime made unimportable (packages that raise on import, first on the path):
    every lane is skipped, and the run must say so and exit non-zero, not pass as an empty green run."""
    from tests.test_cli import ROOT, tfparity

    for name in ("tensorflow", "ai_edge_litert", "tflite_runtime"):
        (tmp_path / "hidden" / name).mkdir(parents=True)
        (tmp_path / "hidden" / name / "__init__.py").write_text(f"raise ImportError('{name} hidden by the test')\n")
    done = tfparity("run", "--ops", "relu", "--limit", "1", "--no-timing", "--results-dir", str(tmp_path / "r"),
                    env={"PYTHONPATH": f"{tmp_path / 'hidden'}:{ROOT}"})
    assert done.returncode != 0, done.stdout[-3000:]
    (run,) = (tmp_path / "r").glob("run-*.jsonl")
    outcomes = {json.loads(line).get("outcome") for line in run.read_text().splitlines()[1:]}
    assert outcomes <= {"skip", "baseline", "error"}, outcomes  # nothing passed: no lane could check anything


class _OneTensorOff:
    """An interpreter whose ``get_tensor`` returns tensor ``index`` moved by ``size`` LSB (clipped to its type)."""

    def __init__(self, interpreter, index: int, size: int):
        self._it, self._index, self._size = interpreter, index, size

    def __getattr__(self, name):
        return getattr(self._it, name)

    def get_tensor(self, index):
        value = self._it.get_tensor(index)
        if index != self._index:
            return value
        info = np.iinfo(value.dtype)
        moved = value.astype(np.int64) + self._size
        return np.where(moved > info.max, value.astype(np.int64) - self._size, moved).astype(value.dtype)


@dataclasses.dataclass(frozen=True)
class OneLayerOff(lanes.TfliteLane):
    """``base`` with the middle integer op output ``size`` LSB off as the per-layer table reads it."""

    base: str = ""
    size: int = 1

    @property
    def judged_as(self):
        return self.base

    def interpreter(self, model, threads, preserve_all_tensors=False):
        import reference.tflite

        it = super().interpreter(model, threads, preserve_all_tensors)
        if not preserve_all_tensors:
            return it
        graph = reference.tflite.load(model)
        integer = [op.outputs[0] for op in graph.operators if graph.tensors[op.outputs[0]].quantized]
        return _OneTensorOff(it, integer[len(integer) // 2], self.size)


@pytest.mark.parametrize("base, size", [("tflite-int8-ref", 1), ("tflite-uint8-ref", 1), ("tflite-uint8", 2)])
def test_one_layer_off_by_its_bound_fails_an_integer_model(base, size):
    """Integer models are judged per layer: one tensor 1 LSB off on an exact lane, or 2 LSB (over the one-LSB path
    bound) on another integer lane, fails a model that passes clean."""
    case = MODELS.select("quick", 0, ops=["mtcnn_rnet"])[0]
    clean = check_model(case, base, benchmark=NoTiming(), run_id="t", threads=1, availability=(True, ""))
    assert clean["outcome"] == "pass", clean["reason"]
    real = lanes.LANES[base]
    lane = OneLayerOff(f"planted-{base}", real.kind, "one layer off", mode=real.mode, resolver=real.resolver,
                       base=base, size=size)
    faulty = check_on(case, lane)
    assert faulty["outcome"] == "fail", faulty["reason"]
    expected = "differs from reference.tflite by" if base.endswith("-ref") else "from the exact kernel"
    assert expected in faulty["reason"]


@dataclasses.dataclass(frozen=True)
class NoFaces(lanes.TfliteLane):
    """``tflite-xnnpack`` whose O-Net says "no face" to every crop."""

    @property
    def judged_as(self):
        return "tflite-xnnpack"

    def load(self, model, threads):
        runnable = super().load(model, threads)
        clean = runnable.outputs
        if len(clean()) != 3:  # P-Net and R-Net as they are
            return runnable
        return dataclasses.replace(runnable, outputs=lambda: [*clean()[:2], np.tile([[1.0, 0.0]], (16, 1))])


def test_a_detector_that_loses_the_face_fails():
    case = MODELS.select("quick", 0, ops=["mtcnn_detector"])[0]
    clean = check_model(case, "tflite-xnnpack", benchmark=NoTiming(), run_id="t", threads=1, availability=(True, ""))
    assert clean["outcome"] == "pass" and clean["model"]["task"]["matched"] == 1, clean["reason"]
    faulty = check_on(case, NoFaces("planted-no-faces", "float", "O-Net finds no face"))
    assert faulty["outcome"] == "fail" and faulty["model"]["task"]["missed"] == 1, faulty["reason"]
