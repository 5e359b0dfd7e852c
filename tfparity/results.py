"""Run files: one JSON Lines file per run under ``results/``.

The first line is the run header (``type: "run"``), then one ``type: "result"`` line per
(case, lane), appended, flushed and fsync'ed as each finishes, so a killed run keeps what it did.
``load(dir)`` reads every run file into one pandas DataFrame (one row per result, header fields
joined in). Nothing in a results file is executed or unpickled: it is parsed as JSON only, once;
the table it gives is cached as an Arrow IPC file (plain columns, no code) and read memory-mapped.
"""

from __future__ import annotations

import fcntl
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


def run_path(directory: str | Path, run_id: str, shard: str | None = None) -> Path:
    """``<dir>/run-<run_id>.jsonl``; a shard ``I/N`` of a run gets ``run-<run_id>.shard-I-of-N.jsonl``."""
    suffix = ".shard-{}-of-{}".format(*shard.split("/")) if shard else ""
    return Path(directory) / f"run-{run_id}{suffix}.jsonl"


class RunWriter:
    """Appends the lines of one run file. Each line is one locked write on an ``O_APPEND`` descriptor,
    then fsync'ed, so several processes (parallel workers) append to one file without mixing lines.

    ``RunWriter(path, header)`` creates the file with its header; ``RunWriter(path)`` joins an existing
    one (its header is read back)."""

    def __init__(self, path: str | Path, header: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if header is not None else 0)
        self._fd = os.open(self.path, flags, 0o644)
        if header is not None:
            self.write(header)
        self.header = header if header is not None else read_run(self.path)[0]
        self.run_id = self.header["run_id"]

    def write(self, line: dict) -> None:
        data = (json.dumps(line, allow_nan=True, separators=(",", ":")) + "\n").encode()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _parse(text: str):
    """One JSON line: orjson (fast), or the standard parser for what only it reads (NaN, Infinity)."""
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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
            parsed.append(_parse(text))
        except (json.JSONDecodeError, RecursionError):
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
    import jsonschema

    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()["$defs"]["run"])
                                               .iter_errors(header))
    if problem is not None:
        raise ResultsError(f"{path}: bad run header: {problem.message[:200]}")
    results = [r for r in parsed[1:] if isinstance(r, dict) and r.get("type") == "result"]
    for r in results:
        _check_result(path, r)
    return header, results


_RESULT_STRINGS = ("run_id", "case_id", "op", "lane", "outcome", "reason")


def _check_result(path: Path, record: dict) -> None:
    """The fields every reader relies on (full schema validation of each line would dominate loading)."""
    bad = [k for k in _RESULT_STRINGS if not isinstance(record.get(k), str)]
    if bad or record["outcome"] not in schema()["$defs"]["result"]["properties"]["outcome"]["enum"]:
        raise ResultsError(f"{path}: a result line has a missing or malformed {', '.join(bad) or 'outcome'}")


def run_files(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"results directory {directory} does not exist")
    return sorted(directory.glob("run-*.jsonl"))


def load(directory: str | Path = "results"):
    """All results under ``directory``: :func:`load_files` of its run files."""
    return load_files(run_files(directory))


def find_run(spec: str, directory: str | Path = "results") -> list[Path]:
    """The run files of one run: ``spec`` is a run file's path, or a run id whose files (the run's, or its
    shards') are in ``directory``. Raises :class:`ResultsError` when there are none."""
    path = Path(spec)
    if path.is_file():
        return [path]
    files = [p for p in run_files(directory) if p.name == f"run-{spec}.jsonl"
             or (p.name.startswith(f"run-{spec}.shard-") and p.suffix == ".jsonl")]
    if not files:
        raise ResultsError(f"no run {spec!r}: not a run file, nor a run id in {directory}")
    return files


def load_files(paths: list[Path]):
    """The results of these run files as a DataFrame: one row per (run, case, lane), with the run
    header's ``started_utc``, ``profile``, ``threads``, ``git_commit``, ``machine.*`` and ``versions.*``.

    Columns are the record's keys, nested objects flattened one level (``timing.median_s``,
    ``params.strides``, ``metrics.lsb_hist``); ``timing.samples`` holds a float64 numpy array of
    seconds per record (a read-only view of the cache; None where the record has no timing). Each run
    file is parsed once: its table is cached as an Arrow file (see :func:`_cached`), so loading a long
    history reads memory-mapped columns instead of JSON."""
    import pandas as pd

    decoded: dict[str, object] = {}
    frames = [_frame(Path(path), _cached(Path(path)), decoded) for path in paths]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["run_id", "case_id", "op", "lane", "outcome"])
    if "started_utc" in frame:
        frame["started_utc"] = pd.to_datetime(frame["started_utc"], utc=True, format="ISO8601")
    return frame


def headers(directory: str | Path = "results") -> list[dict]:
    return [header(path) for path in run_files(directory)]


def header(path: str | Path) -> dict:
    """The run header of one run file."""
    return json.loads(_cached(Path(path)).schema.metadata[b"header"])


# -- the per-run-file cache: an Arrow IPC file per run file, keyed by the run file's path, size and mtime --

CACHE_FORMAT = "1"
SAMPLES = "timing.samples"


def _cache_entry(path: Path) -> tuple[Path, bytes]:
    """Where ``path``'s table is cached (``$TFPARITY_CACHE/history/``) and the stamp that must match."""
    import hashlib

    from tfparity.convert import cache_dir

    stat = path.stat()
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return cache_dir() / "history" / f"{name}.arrow", f"{CACHE_FORMAT}:{stat.st_size}:{stat.st_mtime_ns}".encode()


def _cached(path: Path):
    """``path`` as an Arrow file reader: the cached one when its stamp matches, else the run file is read
    (:func:`read_run`, with all its checks), tabulated and cached. A run file whose last line is
    incomplete (still being written, or killed) is not cached, so its warning is given on every load."""
    import pyarrow as pa

    entry, stamp = _cache_entry(path)
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(entry)))
        if reader.schema.metadata.get(b"source") == stamp:
            return reader
    except (OSError, pa.ArrowInvalid, AttributeError):
        pass
    header, results = read_run(path)
    table, as_json = _table(header, results)
    table = table.replace_schema_metadata(
        {"source": stamp, "header": json.dumps(header), "json_columns": json.dumps(as_json)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    with open(path, "rb") as fh:
        complete = fh.seek(0, os.SEEK_END) == 0 or (fh.seek(-1, os.SEEK_END), fh.read(1))[1] == b"\n"
    if complete:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            temporary = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, entry)
        except OSError:
            pass  # a read-only cache only costs speed
    return pa.ipc.open_file(pa.BufferReader(data))


def clear_cache(directory: str | Path) -> None:
    """Drop the cached tables of ``directory``'s run files (they are rebuilt on the next load)."""
    for path in run_files(directory):
        _cache_entry(path)[0].unlink(missing_ok=True)


def _table(header: dict, results: list[dict]) -> tuple:
    """One run's records as an Arrow table: keys flattened one level (as ``pandas.json_normalize(...,
    max_level=1)``), the header's fields as constant columns. Columns of strings, numbers or booleans get
    their Arrow type, ``timing.samples`` a list of float64; any other column (lists, objects, mixed) is kept
    as JSON text, decoded again by :func:`_frame`. Returns the table and the names of those columns."""
    import pyarrow as pa

    context = {"started_utc": header["started_utc"], "profile": header.get("profile"),
               "threads": header.get("threads"), "git_commit": header.get("git_commit"),
               "peak_gflops": header.get("peak_gflops"),
               **{f"machine.{k}": v for k, v in header.get("machine", {}).items()},
               **{f"versions.{k}": v for k, v in header.get("versions", {}).items()}}
    n = len(results)
    columns: dict[str, list] = {name: [value] * n for name, value in context.items()}
    for i, record in enumerate(results):
        for key, value in record.items():
            items = ((f"{key}.{k}", v) for k, v in value.items()) if isinstance(value, dict) else ((key, value),)
            for name, v in items:
                columns.setdefault(name, [None] * n)[i] = v
    arrays, as_json = {}, []
    for name, values in columns.items():
        kinds = {type(v) for v in values if v is not None}
        target = (pa.list_(pa.float64()) if name == SAMPLES else pa.string() if kinds <= {str}
                  else pa.bool_() if kinds == {bool} else pa.int64() if kinds == {int}
                  else pa.float64() if kinds <= {int, float} else None)
        try:
            arrays[name] = pa.array(values, target) if target is not None else None
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays[name] = None
        if arrays[name] is None:
            arrays[name] = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
            as_json.append(name)
    return pa.table(arrays), as_json


def _frame(path: Path, reader, decoded: dict[str, object]):
    """The cached table of one run file as a DataFrame: ``run_file`` added, JSON columns decoded
    (``decoded`` maps JSON text to its value, shared by the run files of one load)."""
    table = reader.read_all()
    frame = table.to_pandas()
    for name in json.loads(table.schema.metadata[b"json_columns"]):
        text = frame[name].astype(object)
        decoded.update((s, json.loads(s)) for s in text.dropna().unique() if s not in decoded)
        frame[name] = text.map(decoded, na_action="ignore")
    frame.insert(0, "run_file", path.name)
    return frame
