"""``--shard I/N``: a deterministic split of a run's cases into N disjoint parts.

A case belongs to shard ``crc32(case id) mod N + 1``: stable across processes and machines (not
Python's salted ``hash``), independent of which other cases are selected, and a case keeps all its
lanes in one shard. Shards of one run share its run id; the report merges their run files.
"""

from __future__ import annotations

import re
import zlib


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` with ``1 <= I <= N`` → (I, N); None → None. Anything else raises ValueError."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise ValueError(f"bad --shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(found[1]), int(found[2])


def shard_name(shard: tuple[int, int] | None) -> str | None:
    """(I, N) → ``"I/N"`` (as run headers and file names hold it); None → None."""
    return f"{shard[0]}/{shard[1]}" if shard else None


def in_shard(case_id: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return zlib.crc32(case_id.encode()) % count == index - 1
