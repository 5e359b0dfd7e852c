"""Run files: one JSON Lines file per run under ``results/``.

The first line is the run header (``type: "run"``), then one ``type: "result"`` line per
(case, lane), appended, flushed and fsync'ed as each finishes, so a killed run keeps what it did.
``load(dir)`` reads every run file into one pandas DataFrame (one row per result, header fields
joined in). Nothing in a results file is executed or unpickled: it is parsed as JSON only, once;
the table it gives is cached as an Arrow IPC file (plain columns, no code) and read memory-mapped.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
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


def _parse(line: bytes):
    """One JSON line: orjson (fast), or the standard parser for what only it reads (NaN, Infinity; invalid
    UTF-8, replaced)."""
    import orjson

    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line.decode("utf-8", errors="replace"))


def read_run(path: str | Path) -> tuple[dict, list[dict]]:
    """Header and results of one run file. A truncated last line (a killed run) is dropped with a
    warning; a corrupt line elsewhere or a newer schema raises :class:`ResultsError`."""
    path = Path(path)
    lines = path.read_bytes().splitlines()
    parsed = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed.append(_parse(line))
        except (json.JSONDecodeError, RecursionError):
            if number == len(lines):
                warnings.warn(f"{path.name}: dropped a truncated last line ({len(line)} bytes)", stacklevel=2)
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
    file is parsed once: its table is cached as an Arrow file (see :func:`_readers`), so loading a long
    history reads memory-mapped columns instead of JSON."""
    import pandas as pd

    decoded: dict[str, object] = {}
    paths = [Path(path) for path in paths]
    tables = [_run_table(path, reader) for path, reader in zip(paths, _readers(paths))]
    frames = [_frame(list(group), decoded) for _, group in itertools.groupby(tables, _frame_key)]
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
    """``path`` as an Arrow file reader (see :func:`_readers`)."""
    return _readers([path])[0]


def _readers(paths: list[Path]) -> list:
    """Each run file's table as an Arrow file reader: the cached one when its stamp matches, else the run
    file is tabulated (:func:`_tabulate`; in worker processes where several are)."""
    import pyarrow as pa

    readers = [_cache_hit(path) for path in paths]
    built = iter(_tabulate_all([path for path, reader in zip(paths, readers) if reader is None]))
    return [pa.ipc.open_file(pa.BufferReader(next(built))) if reader is None else reader for reader in readers]


def _cache_hit(path: Path):
    """``path``'s cached table as an Arrow file reader, or None where it is missing or stale."""
    import pyarrow as pa

    entry, stamp = _cache_entry(path)
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(entry)))
        if reader.schema.metadata.get(b"source") == stamp:
            return reader
    except (OSError, pa.ArrowInvalid, AttributeError):
        pass
    return None


def _tabulate_all(paths: list[Path]) -> list:
    """:func:`_tabulate` of each path, in order: in worker processes (one per CPU) where there are several,
    their warnings given again here. Workers are forked: nothing is imported again (a script that loads
    results needs no ``__main__`` guard)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    workers = min(len(paths), os.cpu_count() or 1)
    if workers < 2:
        return [_tabulate(path) for path in paths]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        done = list(pool.map(_tabulate_recording, paths))
    for _, caught in done:
        for message in caught:
            warnings.warn(message, stacklevel=4)
    return [data for data, _ in done]


def _tabulate_recording(path: Path) -> tuple:
    """:func:`_tabulate` in a worker process: its Arrow file and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return _tabulate(path), [w.message for w in caught]


def _tabulate(path: Path):
    """``path`` read (:func:`read_run`, with all its checks) and tabulated (:func:`_table`), as Arrow IPC file
    bytes, and cached. A run file whose last line is incomplete (still being written, or killed) is not
    cached, so its warning is given on every load."""
    import pyarrow as pa

    entry, stamp = _cache_entry(path)
    with _no_gc():  # parsed JSON holds no reference cycles: collecting while it is built is wasted
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
    return data


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused (if it ran) for the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

    arrays, as_json = {}, []
    for name, values in _columns(header, results).items():
        kinds = set(map(type, values)) - {type(None)}
        target = (pa.list_(pa.float64()) if name == SAMPLES else pa.string() if kinds <= {str}
                  else pa.bool_() if kinds == {bool} else pa.int64() if kinds == {int}
                  else pa.float64() if kinds <= {int, float} else None)
        try:
            arrays[name] = pa.array(values, target) if target is not None else None
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays[name] = None
        if arrays[name] is None:
            arrays[name] = pa.array([None if v is None else _json_text(v) for v in values], pa.string())
            as_json.append(name)
    return pa.table(arrays), as_json


def _columns(header: dict, results: list[dict]) -> dict[str, object]:
    """The header's fields, then the records' keys flattened one level in order of first appearance (as
    ``pandas.json_normalize``), each as a sequence of one value per record (None where a record lacks the
    key). Records are taken in groups of one shape (keys and nested keys, in order), a group's columns cut
    at once (:func:`_flattened`)."""
    import numpy as np

    n = len(results)
    context = {"started_utc": header["started_utc"], "profile": header.get("profile"),
               "threads": header.get("threads"), "git_commit": header.get("git_commit"),
               "peak_gflops": header.get("peak_gflops"),
               **{f"machine.{k}": v for k, v in header.get("machine", {}).items()},
               **{f"versions.{k}": v for k, v in header.get("versions", {}).items()}}
    columns: dict[str, object] = {name: [value] * n for name, value in context.items()}
    shapes: dict[tuple, list[int]] = {}
    for i, record in enumerate(results):
        shapes.setdefault(tuple((k, *v) if type(v) is dict else k for k, v in record.items()), []).append(i)
    for shape, rows in shapes.items():
        for name, values in _flattened(shape, [results[i] for i in rows]):
            if name not in columns:
                columns[name] = np.full(n, None, object)
            columns[name][rows] = np.fromiter(values, object, len(rows))
    return columns


def _flattened(shape: tuple, records: list[dict]):
    """``(name, values)`` of each flattened key of ``records``, which all have this shape: a key, or a tuple
    of a key and the nested keys of its object."""
    for key, values in zip(shape, zip(*map(dict.values, records))):
        if type(key) is tuple:
            yield from ((f"{key[0]}.{k}", v) for k, v in zip(key[1:], zip(*map(dict.values, values))))
        else:
            yield key, values


def _json_text(value) -> str:
    """``value`` as JSON text for :func:`_frame` to decode: orjson's, or the standard encoder's where orjson
    would write null for NaN or Infinity (any text with a null) or cannot (integers past 64 bits)."""
    import orjson

    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value)
    return json.dumps(value) if b"null" in text else text.decode()


def _run_table(path: Path, reader):
    """The table of run file ``path`` (from its Arrow file ``reader``), with a first column ``run_file``."""
    import pyarrow as pa

    table = reader.read_all()
    return table.add_column(0, "run_file", pa.repeat(pa.scalar(path.name), len(table)))


def _frame_key(table) -> tuple:
    """What run tables must share to make one frame together: their column names and types, and which
    columns are JSON text."""
    return table.schema.remove_metadata(), table.schema.metadata[b"json_columns"]


def _frame(tables: list, decoded: dict[str, object]):
    """Run tables of one :func:`_frame_key` as one DataFrame, JSON columns decoded (``decoded`` maps JSON text to
    its value, shared by the frames of one load)."""
    import pyarrow as pa

    frame = pa.concat_tables(tables).to_pandas()
    for name in json.loads(tables[0].schema.metadata[b"json_columns"]):
        text = frame[name].astype(object)
        decoded.update((s, json.loads(s)) for s in text.dropna().unique() if s not in decoded)
        frame[name] = text.map(decoded, na_action="ignore")
    return frame
