"""Past results for the web view's ``/api/results``: read back from the durable results log.

Each result gets an id made from its own record, so the same result has the same id whether it is
read from the log after a restart or published live: its capture time in milliseconds since the
epoch, times 1000, plus its frame number modulo 1000. Ids grow with time, so ``since=ID`` asks for
newer results. The log is read from its end, a chunk at a time, through ``results.jsonl``,
``results.jsonl.1``, ... until enough lines are found, or ``MAX_LINES_READ`` lines were read: a
request costs the lines it returns, however long the history is, and never more than that bound.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from piclassify.shared.contract.result import Result
from piclassify.shared.files.regular_file import open_regular

CHUNK = 64 * 1024
MAX_ROTATED = 1000
MAX_LINE = 1024 * 1024  # longer "lines" are not results; they are skipped, not buffered
MAX_LINES_READ = 20_000  # a request reads at most this many lines back (a few ms), results or not


def result_id(record: dict[str, Any]) -> Optional[int]:
    """The id of a result record (see the module's doc), or None if it has no valid time (one with its offset from
    UTC, as the results log writes it) or its frame is not a whole number."""
    frame = record.get("frame") or 0
    if not isinstance(frame, int) or isinstance(frame, bool):  # 1e999 parses as an infinite float
        return None
    try:
        when = datetime.fromisoformat(str(record["time"]))
        if when.tzinfo is None:  # a naive time depends on the reader's zone, and year 1 has no timestamp there
            return None
        return int(round(when.timestamp() * 1000)) * 1000 + frame % 1000
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def published(result: Result) -> dict[str, Any]:
    """A result as the web view publishes it, live or read back from the log: its record with its id."""
    record = result.record()
    return {**record, "id": result_id(record)}


def read_recent(path: Path, since: Optional[int], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The newest ``limit`` records with an id above ``since``, oldest first, each with its ``id`` added;
    and whether more such records were left out (ask again with the last id, or a larger limit)."""
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    for read, line in enumerate(_lines_backwards(path), start=1):
        if read > MAX_LINES_READ:  # a log full of other lines must not cost seconds of the loop's CPU per request
            return found[::-1], True
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn or foreign line: not a result
        if not isinstance(record, dict):
            continue
        rid = result_id(record)
        if rid is None or rid in seen:
            continue
        if since is not None and rid <= since:
            break
        if len(found) == limit:
            return found[::-1], True
        seen.add(rid)
        found.append({**record, "id": rid})
    return found[::-1], False


def log_size(path: Path) -> Optional[int]:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """Whole lines of the log, newest first, then of ``.1``, ``.2``, ... as long as they exist."""
    for number in range(MAX_ROTATED + 1):
        name = path if number == 0 else path.with_name(f"{path.name}.{number}")
        try:
            handle = open_regular(name)
        except OSError:
            if number == 0:
                continue  # rotated just now, or not written yet: the older files may still be there
            return
        with handle:
            yield from _file_lines_backwards(handle.fileno())


def _file_lines_backwards(fd: int) -> Iterator[bytes]:
    end = os.fstat(fd).st_size
    tail = b""
    while end > 0:
        start = max(0, end - CHUNK)
        chunk = os.pread(fd, end - start, start) + tail
        end = start
        lines = chunk.split(b"\n")
        tail = lines[0] if start > 0 else b""
        for line in reversed(lines if start == 0 else lines[1:]):
            if line.strip():
                yield line
        if len(tail) > MAX_LINE:
            tail = b""  # no result is this long; drop it rather than grow without bound
