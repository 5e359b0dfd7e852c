"""asv's view of the benchmarks: generated from the op registry, and valid for asv itself."""

import os
import subprocess
import sys
from pathlib import Path

from tfparity.ops import REGISTRY

ROOT = Path(__file__).resolve().parents[1]


def test_one_benchmark_class_per_op_over_the_registry_cases():
    from suites.asv import ops

    for name in REGISTRY.specs:
        cases, lanes = getattr(ops, name).params
        assert cases == [c.id for c in REGISTRY.select(ops.PROFILE, 0, ops=[name], limit=ops.LIMIT)]
        assert lanes == ops.LANES


def test_asv_discovers_and_accepts_them():
    asv = Path(sys.executable).with_name("asv")
    done = subprocess.run([str(asv), "check", "-E", "existing:same"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout
