"""What a run ran on: CPU, cores, memory, GPU, package versions, git commit."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
from functools import cache
from importlib import metadata

PACKAGES = ("numpy", "ai-edge-litert", "tflite-runtime", "tflite", "pandas", "pytest", "pytest-benchmark")
TENSORFLOW_DISTS = ("tensorflow", "tensorflow-cpu")


def thread_counts(text: str) -> tuple[int, ...]:
    """``N`` or ``N,M,...``: distinct positive thread counts, in the order given (the first is the run's)."""
    try:
        counts = tuple(dict.fromkeys(int(part) for part in str(text).split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 2 or 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {text!r}")
    return counts


def cpuinfo() -> dict:
    """The first processor's fields of ``/proc/cpuinfo``, and every ``cpu MHz`` (``mhz``); only ``mhz`` where the
    file is unreadable."""
    fields, mhz = {}, []
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return {"mhz": []}
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "cpu MHz":
            mhz.append(float(value))
        fields.setdefault(key, value)
    return {**fields, "mhz": mhz}


def flags(info: dict) -> frozenset[str]:
    """The feature flags of a :func:`cpuinfo`: ``flags`` (``Features`` on Arm)."""
    return frozenset((info.get("flags") or info.get("Features") or "").split())


def _cpu_model() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


@cache
def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags (:func:`flags` of :func:`cpuinfo`); empty where unreadable."""
    return flags(cpuinfo())


def avx512_skx() -> bool:
    """AVX-512 F, CD, BW, DQ and VL: the set XNNPACK's ``avx512skx`` microkernels require (and pick when present)."""
    return {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= cpu_flags()


@cache
def tf_onednn() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels: TF's own answer (``IsMklEnabled``), which follows
    ``TF_ENABLE_ONEDNN_OPTS`` and, unset, is on for CPUs with AVX-512 VNNI / BF16 or AMX (TF 2.9 on)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def _memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return 0.0


def _gpu() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def machine() -> dict:
    return {"cpu": _cpu_model(), "arch": platform.machine(), "cores": os.cpu_count() or 1,
            "memory_gb": _memory_gb(), "gpu": _gpu(), "hostname": platform.node()}


def versions() -> dict:
    found = {"python": platform.python_version()}
    for dist in TENSORFLOW_DISTS:
        try:
            found.update(tensorflow=metadata.version(dist), tensorflow_dist=dist)
        except metadata.PackageNotFoundError:
            continue
    for name in PACKAGES:
        try:
            found[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    """HEAD of the checkout tfparity runs from, ``-dirty`` if tracked files changed; None outside git."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=os.path.dirname(os.path.abspath(__file__)))

    try:
        head = git("rev-parse", "--verify", "-q", "HEAD")
        if head.returncode:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


