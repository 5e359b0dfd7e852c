"""MTCNN as an application runs it, on every lane: P-Net over the image pyramid, and the whole detector (P-Net
pyramid → NMS → R-Net → O-Net, :mod:`tfparity.models.detector`), against the same pipeline run on the float64
executor.

Each net is converted once, at the models suite's shape and calibration (``mtcnn_pnet`` / ``mtcnn_rnet`` /
``mtcnn_onet``; :class:`NetRunner`). P-Net runs at every pyramid shape: resized in place where the lane can re-plan
a model (``Runnable.resize``: the LiteRT interpreter's ``resize_tensor_input`` + ``allocate_tensors``, a TF
retrace); lanes that cannot (the out-of-process worker lanes, the numpy executor) get a float P-Net converted per
shape instead, and say so in the record (``model.resize``). The reference is that pipeline on the numpy executor in
float64.

Verdict: the task budget of the nets (``face_prob_error`` at most 0.05), and for the detector also the same faces
(no reference face missed, none extra). Per scale (pyramid): shape, the errors of the face probability and the box
regression, and (timing on) the median latency of that scale; the record's timing is the whole pyramid or detector
per call.
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np

from tfparity import lanes as lanes_module
from tfparity.cases import Arrays, Case
from tfparity.models import detector, mtcnn_nets, photos
from tfparity.models.spec import ModelSpec, dummy_ranges
from tfparity.phases import phase

PHOTO = "astronaut"
ROUNDS = 7  # timed calls per pyramid scale (after one warm-up), their median recorded


def _photo(params, rng) -> Arrays:
    return Arrays([photos.photo(params["photo"])], {})


PNET_AT_SHAPE = ModelSpec(  # P-Net at any input shape (``params["shape"]``): the per-shape float models of lanes that
    # cannot resize; no calibration (integer models are converted once and resized)
    name="mtcnn_pnet_at", samples={}, build=lambda params: mtcnn_nets.network("pnet"),
    make_arrays=lambda params, rng: Arrays([np.zeros(params["shape"], np.float32)], {}),
    task=mtcnn_nets.face_detection, budget=("face_prob_error", 0.05))


class NetRunner:
    """One net on one lane, callable on a batch of any size (outputs as the Keras net returns them).

    P-Net runs at each pyramid shape: resized in place where the lane can (``Runnable.resize``), else as a float
    model converted for that shape. R-Net and O-Net run in chunks of the batch they were converted with, the last
    zero-padded: their ``RESHAPE`` holds that batch, so resizing them to another fails (XNNPACK: "failed to reshape
    runtime"). Every model is loaded once (the worker keeps several)."""

    def __init__(self, lane, net: str, threads: int, seed: int):
        self.lane, self.net, self.threads, self.seed = lane, net, threads, seed
        case = _base_case(net, seed)
        self.batch, self.shape = case.arrays.inputs[0].shape[0], case.arrays.inputs[0].shape
        self.runnables = {self.shape: self._prepare(case)}
        self.resizable = self.runnables[self.shape].resize is not None
        if net == "pnet" and not self.resizable and lane.mode != "float":
            raise lanes_module.Refused(f"{lane.name} cannot resize a model, and per-shape {lane.mode} models would "
                                       "each be calibrated anew")

    @property
    def how(self) -> str:
        if self.resizable:
            return "P-Net resized in place (resize_tensor_input / retrace); R-Net, O-Net in batches of 16"
        return "a float P-Net converted per pyramid shape (cannot resize); R-Net, O-Net in batches of 16"

    def _prepare(self, case):
        from tfparity.models.check import _prepare

        return _prepare(case, self.lane, self.threads)[0]

    def _runnable(self, shape: tuple[int, ...]):
        if self.resizable:
            (base,) = self.runnables.values()
            if shape != self.shape:
                base.resize([shape])
                self.shape = shape
            return base
        if shape not in self.runnables:
            self.runnables[shape] = self._prepare(Case(PNET_AT_SHAPE, {"shape": list(shape)}, self.seed))
        return self.runnables[shape]

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        runnable = self._runnable(batch.shape)
        runnable.set_inputs([np.ascontiguousarray(batch, np.float32)])
        runnable.invoke()
        return [np.asarray(y, np.float32) for y in runnable.outputs()]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        if self.net == "pnet":
            return self._run(batch)
        parts = []
        for start in range(0, len(batch), self.batch):
            chunk = batch[start: start + self.batch]
            padded = np.zeros((self.batch, *batch.shape[1:]), np.float32)
            padded[: len(chunk)] = chunk
            parts.append([y[: len(chunk)] for y in self._run(padded)])
        return [np.concatenate(outputs) for outputs in zip(*parts)]


def _base_case(net: str, seed: int) -> Case:
    from tfparity.models import MODELS

    return MODELS.specs[f"mtcnn_{net}"].cases("quick", seed)[0]


def runners(lane, threads: int, seed: int) -> dict[str, NetRunner]:
    return {net: NetRunner(lane, net, threads, seed) for net in mtcnn_nets.NETS}


@cache
def reference(kind: str, photo: str, seed: int):
    """The pipeline on the numpy executor in float64 (cached per process)."""
    nets = runners(lanes_module.LANES["numpy-ref"], 1, seed)
    image = photos.photo(photo)
    return detector.pnet_pyramid(image, nets["pnet"]) if kind == "pyramid" else detector.detect(image, nets)


def median_latency(fn, rounds: int = ROUNDS) -> float:
    """Median seconds of ``rounds`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def pyramid_task(found, expected) -> tuple[dict, list[dict]]:
    """Task metrics over all scales, and one row per scale."""
    rows = []
    for (box, prob), (ref_box, ref_prob) in zip(found, expected):
        rows.append({"shape": list(np.shape(prob)[1:3]),
                     "face_prob_error": float(np.max(np.abs(prob[..., 1] - ref_prob[..., 1]), initial=0.0)),
                     "box_error": float(np.max(np.abs(box - ref_box), initial=0.0))})
    worst = {key: max(row[key] for row in rows) for key in ("face_prob_error", "box_error")}
    return {**worst, "scales": len(rows)}, rows


def evaluate(record, case, lane, benchmark, threads) -> None:
    """Run the case's pipeline on ``lane`` and fill ``record`` (task, per scale, timing, verdict)."""
    from tfparity.models.check import _judge_task
    from tfparity.timing import measure

    kind, image = case.op.pipeline, case.arrays.inputs[0]
    with phase("reference"):
        expected = reference(kind, case.params["photo"], case.run_seed)
    start = time.perf_counter()
    nets = runners(lane, threads, case.run_seed)
    info = record["model"]
    info.update(load_s=time.perf_counter() - start, resize=nets["pnet"].how)
    if kind == "pyramid":
        run = lambda: detector.pnet_pyramid(image, nets["pnet"])  # noqa: E731 - the timed call
        info["task"], info["per_scale"] = pyramid_task(run(), expected)
        if not benchmark.disabled:  # timing on: each scale too
            with phase("timing"):
                for row, level in zip(info["per_scale"], detector.pyramid_levels(image)):
                    row["median_s"] = median_latency(lambda x=level: nets["pnet"](x))
    else:
        run = lambda: detector.detect(image, nets)  # noqa: E731 - the timed call
        found = run()
        info["task"] = detector.agreement(found, expected)
        info["stage_counts"] = {"lane": found.stage_counts, "reference": expected.stage_counts}
    with phase("timing"):
        record["timing"] = measure(benchmark, run)
    if record["timing"]:
        info["p90_s"] = float(np.percentile(record["timing"]["samples"], 90))
    if lane.kind == "reference":
        from tfparity.check import BASELINE

        record.update(outcome="baseline", reason=BASELINE)
        return
    _judge_task(record, case)
    task = info["task"]
    if record["outcome"] == "pass" and kind == "detector" and (task["missed"] or task["extra"]):
        record.update(outcome="fail", reason=f"task faces differ from the reference: {task['missed']} missed, "
                                             f"{task['extra']} extra")


def _spec(kind: str, source: str) -> ModelSpec:
    params = {"photo": PHOTO}
    return ModelSpec(name=f"mtcnn_{kind}", samples={"quick": lambda: [params], "full": lambda: [params]},
                     build=lambda p: None, make_arrays=_photo, task=lambda *args: {},
                     budget=("face_prob_error", 0.05), source=source, pipeline=kind, page="mtcnn",
                     known=(mtcnn_nets.PNET_INT8, mtcnn_nets.PNET_UINT8, mtcnn_nets.PYRAMID_DYNAMIC,
                            dummy_ranges("face_prob_error", 0.95, 0.83)) if kind == "pyramid" else
                     (dummy_ranges("face_prob_error", 0.2, 0.12),))


SPECS = (_spec("pyramid", "P-Net over MTCNN's image pyramid (factor 0.709, 12 px cells, 20 px faces) of "
                          "skimage.data.astronaut()"),
         _spec("detector", "MTCNN's whole detector (P-Net pyramid, NMS, R-Net, O-Net) on skimage.data.astronaut()"))
