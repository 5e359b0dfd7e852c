"""Run files: one JSON Lines file per run under ``results/`` (DESIGN §2.4).

The first line is the run header (``type: "run"``), then one ``type: "result"`` line per
(case, lane), appended, flushed and fsync'ed as each finishes, so a killed run keeps what it did.
``load(dir)`` reads every run file into one pandas DataFrame (one row per result, header fields
joined in). Nothing in a results file is executed or unpickled: it is parsed as JSON only.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema") / "record.schema.json"


class ResultsError(ValueError):
    """A results directory or file that cannot be read as tfparity run files."""


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


class RunWriter:
    """Appends the lines of one run to ``<dir>/run-<run_id>.jsonl``."""

    def __init__(self, directory: str | Path, header: dict):
        self.path = Path(directory) / f"run-{header['run_id']}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = header["run_id"]
        self._fh = open(self.path, "x", encoding="utf-8")
        self.write(header)

    def write(self, line: dict) -> None:
        self._fh.write(json.dumps(line, allow_nan=True, separators=(",", ":")) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_run(path: str | Path) -> tuple[dict, list[dict]]:
    """Header and results of one run file. A truncated last line (a killed run) is dropped with a
    warning; a corrupt line elsewhere or a newer schema raises :class:`ResultsError`."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    parsed = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            parsed.append(json.loads(text))
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path.name}: dropped a truncated last line ({len(text)} bytes)", stacklevel=2)
                continue
            raise ResultsError(f"{path}: line {number} is not JSON") from None
    if not parsed or not isinstance(parsed[0], dict) or parsed[0].get("type") != "run":
        raise ResultsError(f"{path}: first line is not a run header")
    header = parsed[0]
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema version {version!r} is newer than this tfparity reads ({SCHEMA_VERSION})")
    results = [r for r in parsed[1:] if isinstance(r, dict) and r.get("type") == "result"]
    return header, results


def run_files(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"results directory {directory} does not exist")
    return sorted(directory.glob("run-*.jsonl"))


def load(directory: str | Path = "results"):
    """All results under ``directory`` as a DataFrame: one row per (run, case, lane), with the run
    header's ``started_utc``, ``profile``, ``threads``, ``git_commit``, ``machine.*`` and ``versions.*``."""
    import pandas as pd

    rows = []
    for path in run_files(directory):
        header, results = read_run(path)
        context = {"run_file": path.name, "started_utc": header["started_utc"], "profile": header.get("profile"),
                   "threads": header.get("threads"), "git_commit": header.get("git_commit"),
                   "peak_gflops": header.get("peak_gflops"),
                   **{f"machine.{k}": v for k, v in header.get("machine", {}).items()},
                   **{f"versions.{k}": v for k, v in header.get("versions", {}).items()}}
        rows.extend({**context, **r} for r in results)
    frame = pd.json_normalize(rows, max_level=1) if rows else pd.DataFrame(
        columns=["run_id", "case_id", "op", "lane", "outcome"])
    if "started_utc" in frame:
        frame["started_utc"] = pd.to_datetime(frame["started_utc"], utc=True)
    return frame


def headers(directory: str | Path = "results") -> list[dict]:
    return [read_run(path)[0] for path in run_files(directory)]
