"""The result log: one JSON line per result, in a file that stays readable after a power cut.

The Pi is switched off at the wall. Every line is written whole with a single ``os.write`` and
fsynced, so a cut can at worst leave one torn last line; on the next start that fragment is moved
to ``<name>.torn-<UTC time>`` and the log truncated to its last whole line, so nothing is merged
into the next record and nothing is silently dropped.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from piclassify.shared.errors import PiclassifyError

if TYPE_CHECKING:
    from piclassify.device.sinks import Delivery

log = logging.getLogger(__name__)

FILE_MODE = 0o640


class ResultLogError(PiclassifyError):
    """The result log cannot be opened or written."""


class ResultLog:
    """Append-only JSON lines with size-based rotation: ``name``, ``name.1`` (newest) ... ``name.<keep>``.

    A sink: every result the loop hands over becomes one line in the documented result schema.
    """

    name = "results log"

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self._fd = -1
        self._size = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.torn_path = set_aside_torn_line(self.path)
            self._reopen()
        except OSError as error:
            raise ResultLogError(f"{self.path}: cannot open result log: {error.strerror or error}") from error

    def handle(self, delivery: Delivery) -> None:
        self.append(delivery.result.json())

    def append(self, line: str) -> None:
        """Write ``line`` (one JSON object, no newline) whole and fsync it before returning."""
        data = (line + "\n").encode("utf-8")
        try:
            if self._fd < 0:
                self._reopen()
            if self._size > 0 and self._size + len(data) > self.max_bytes:
                self._rotate()
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(self._fd)
        except OSError as error:
            self._cut_partial_line()
            raise ResultLogError(f"{self.path}: cannot write result: {error.strerror or error}") from error
        self._size += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def _cut_partial_line(self) -> None:
        """A failed write (disk full) may leave part of a line; cut it so the next line starts clean."""
        if self._fd < 0:
            return
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as error:
            log.warning("%s: cannot cut a partly written line (%s); it is set aside at the next start",
                        self.path, error.strerror or error)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)

    def _reopen(self) -> None:
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self.close()
        if self.keep == 0:
            self.path.unlink()
        else:
            for number in range(self.keep - 1, 0, -1):
                older = self._rotated(number)
                if older.exists():
                    os.replace(older, self._rotated(number + 1))
            os.replace(self.path, self._rotated(1))
        self._reopen()
        _fsync_directory(self.path.parent)
        log.info("rotated result log %s (keeping %d old files)", self.path, self.keep)

    def _rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")


def set_aside_torn_line(path: Path) -> Optional[Path]:
    """If ``path`` does not end in a newline, move the fragment after its last newline to a
    ``.torn-<time>`` file beside it and truncate ``path`` to its last whole line; return that file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    if not data or data.endswith(b"\n"):
        return None
    whole = data.rfind(b"\n") + 1
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    torn_path = path.with_name(f"{path.name}.torn-{stamp}")
    number = 1
    while torn_path.exists():
        number += 1
        torn_path = path.with_name(f"{path.name}.torn-{stamp}-{number}")
    fd = os.open(torn_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        os.write(fd, data[whole:])
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(path.parent)
    # Only once the fragment is safe elsewhere is it cut from the log.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, whole)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning("%s ended in a torn line (%d bytes) from an earlier power cut or crash; moved it to %s",
                path, len(data) - whole, torn_path)
    return torn_path


def _fsync_directory(path: Path) -> None:
    """Make a rename or new file in ``path`` survive power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
