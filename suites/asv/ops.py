"""One asv benchmark class per op of ``tfparity.ops.REGISTRY``, parametrized over its cases and the lanes:
``time_invoke`` times the lane's prepared call (``Runnable.invoke``), exactly what ``tfparity run`` times.

The cases are the registry's (no second list): the first ``TFPARITY_ASV_LIMIT`` (default 1) cases of each
op in ``TFPARITY_ASV_PROFILE`` (default quick), on the lanes of ``TFPARITY_ASV_LANES`` (default
``tf-cpu,tflite-xnnpack``) with ``TFPARITY_ASV_THREADS`` (default 1) threads. A lane that cannot run here,
or that refuses a case, is skipped (asv's NotImplementedError), as in a run.
"""

import os

from tfparity.ops import REGISTRY

PROFILE = os.environ.get("TFPARITY_ASV_PROFILE", "quick")
LIMIT = int(os.environ.get("TFPARITY_ASV_LIMIT", "1"))
LANES = os.environ.get("TFPARITY_ASV_LANES", "tf-cpu,tflite-xnnpack").split(",")
THREADS = int(os.environ.get("TFPARITY_ASV_THREADS", "1"))


def _cases(op: str) -> dict:
    return {case.id: case for case in REGISTRY.select(PROFILE, 0, ops=[op], limit=LIMIT)}


class _OpBenchmark:
    """Base of the generated classes (the leading underscore keeps asv from collecting it)."""

    op = ""
    param_names = ["case", "lane"]
    timeout = 300

    def setup(self, case_id, lane):
        from tfparity import lanes

        spec = lanes.LANES[lane]
        available, why = spec.available()
        if not available:
            raise NotImplementedError(why)
        if spec.models_only:
            raise NotImplementedError(spec.models_only)
        if spec.capabilities.where != "process":  # asv's clock would span the pipe: `tfparity run` times these
            raise NotImplementedError(f"{lane} runs in a worker process that times its own rounds")
        if "graph" in spec.capabilities.formats:
            lanes.configure_tf_threads(THREADS)
        case = _cases(self.op)[case_id]
        try:
            self.runnable = lanes.LANES[lane].prepare(case, THREADS)
        except lanes.Refused as exc:
            raise NotImplementedError(str(exc)) from None
        self.runnable.set_inputs(case.arrays.inputs)

    def time_invoke(self, case_id, lane):
        self.runnable.invoke()


for _op in REGISTRY.specs:
    globals()[_op] = type(_op, (_OpBenchmark,), {"op": _op, "params": [list(_cases(_op)), LANES],
                                                 "__doc__": f"{_op}: the lane's call on each case"})
