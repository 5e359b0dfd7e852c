"""Virtual environments for lanes whose runtime cannot live in tfparity's own (``tflite-runtime`` needs
numpy < 2; ``LANE@ai-edge-litert==X`` pins another LiteRT release).

An environment is a list of pip requirements. It is built on first use under ``$TFPARITY_ENVS`` (default
``.cache/envs``) in a folder named by a hash of the requirements and the Python version, so changing a pin
builds a new one; a built environment is marked ``.ready`` and reused. Builders on one machine serialize on a
lock file. Only the worker (:mod:`tfparity.lanes.worker`) runs in it: numpy and the runtime, nothing else.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path


class EnvironmentFailed(Exception):
    """pip could not build the environment (one line: pip's own reason)."""


def root() -> Path:
    return Path(os.environ.get("TFPARITY_ENVS", ".cache/envs"))


def location(requirements: tuple[str, ...]) -> Path:
    blob = json.dumps({"requirements": sorted(requirements), "python": platform.python_version()})
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", "_".join(requirements))[:60].strip("-")
    return root() / f"{slug}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def python(requirements: tuple[str, ...]) -> Path:
    """The Python of an environment holding ``requirements``, built now if it is not there yet."""
    path = location(requirements)
    ready = path / ".ready"
    if ready.exists():
        return path / "bin" / "python"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _build(path, requirements)
    return path / "bin" / "python"


def _build(path: Path, requirements: tuple[str, ...]) -> None:
    shutil.rmtree(path, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = ([base, "-m", "venv", str(path)],
             [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              "--only-binary=:all:", *requirements])
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode:
            shutil.rmtree(path, ignore_errors=True)
            lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["no output"]
            raise EnvironmentFailed(f"building the environment {' '.join(requirements)}: {errors[0][:300]}")
    (path / ".ready").write_text(json.dumps({"requirements": list(requirements)}))
