"""The result log: one JSON line per result, in a file that stays readable after a power cut.

The Pi is switched off at the wall. Every line is written whole with a single ``os.write`` and
fsynced, so a cut can at worst leave one torn last line; on the next start that fragment is moved
to ``<name>.torn-<UTC time>`` and the log truncated to its last whole line, so nothing is merged
into the next record and nothing is silently dropped. Only the newest ``TORN_KEPT`` such files are kept.

A full disk is not fatal, not even at start-up: the log then stays closed, classification goes on,
and every result tries again (the sinks layer logs the fault once and backs off), so the log
resumes, torn line first set aside, as soon as there is room. The log never writes through a
symlink planted in its folder (``O_NOFOLLOW``), and never opens a FIFO or a device as its file.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import fsync_directory
from piclassify.shared.files.regular_file import NotRegularFileError

if TYPE_CHECKING:
    from piclassify.device.core.sink import Delivery

log = logging.getLogger(__name__)

FILE_MODE = 0o640
TORN_KEPT = 10  # .torn-* files kept beside the log; older ones (only files of that name pattern) are deleted
# Errors a disk with room again cures: at start-up they leave the log closed rather than stop the service.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_CHUNK = 64 * 1024


class ResultLogError(PiclassifyError):
    """The result log cannot be opened or written."""


class ResultLog:
    """Append-only JSON lines with size-based rotation: ``name``, ``name.1`` (newest) ... ``name.<keep>``.

    A sink: every result the loop hands over becomes one line in the documented result schema.
    """

    name = "results log"

    def __init__(self, path: Path, max_bytes: int, keep: int, log_nothing: bool = False, raw: bool = False) -> None:
        self.path = Path(path)
        self.log_nothing = log_nothing
        self.takes_raw = raw  # a region's raw answers too, not only its steady states (``Sinks`` asks)
        self.max_bytes = max_bytes
        self.keep = keep
        self._fd = -1
        self._size = 0
        self._torn_checked = False
        self.torn_path: Optional[Path] = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open_log()
        except OSError as error:
            if error.errno not in NO_SPACE:
                raise ResultLogError(f"{self.path}: cannot open result log: {_reason(error)}") from error
            log.error("%s: cannot open result log yet: %s; classifying meanwhile, each result tries again",
                      self.path, _reason(error))

    def wants(self, delivery: Delivery) -> bool:
        """Every result with a label; "nothing in view" only when ``log_nothing`` (an empty desk logs nothing all
        day)."""
        return delivery.result.label is not None or self.log_nothing

    def handle(self, delivery: Delivery) -> None:
        """One line per result it wants."""
        if self.wants(delivery):
            self.append(delivery.result.json())

    def append(self, line: str) -> None:
        """Write ``line`` (one JSON object, no newline) whole and fsync it before returning."""
        data = (line + "\n").encode("utf-8")
        try:
            if self._fd < 0:
                self._open_log()
            if self._size > 0 and self._size + len(data) > self.max_bytes:
                self._rotate()
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(self._fd)
        except OSError as error:
            self._cut_partial_line()
            raise ResultLogError(f"{self.path}: cannot write result: {_reason(error)}") from error
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
            log.warning("%s: cannot cut a partly written line (%s); it is set aside before the next one",
                        self.path, error.strerror or error)
            self.close()
            self._torn_checked = False

    def _open_log(self) -> None:
        """Set a torn last line aside (once per opening), then open the log for appending."""
        if not self._torn_checked:
            self.torn_path = set_aside_torn_line(self.path) or self.torn_path
            self._torn_checked = True
        self._reopen()

    def _reopen(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        self._fd = _open_regular(self.path, flags)
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
        fsync_directory(self.path.parent)
        log.info("rotated result log %s (keeping %d old files)", self.path, self.keep)

    def _rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")


def set_aside_torn_line(path: Path) -> Optional[Path]:
    """If ``path`` does not end in a newline, move the fragment after its last newline to a
    ``.torn-<time>`` file beside it and truncate ``path`` to its last whole line; return that file.

    Only the file's tail is read, a chunk at a time from the end, so a big log costs no memory.
    """
    try:
        fd = _open_regular(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        whole = _end_of_last_line(fd, size)
        if whole == size:
            return None
        torn_path = _new_torn_path(path)
        _copy_range(fd, whole, size, torn_path)
        fsync_directory(path.parent)
        # Only once the fragment is safe elsewhere is it cut from the log.
        os.ftruncate(fd, whole)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning("%s ended in a torn line (%d bytes) from an earlier power cut or crash; moved it to %s",
                path, size - whole, torn_path)
    _prune_torn(path)
    return torn_path


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the file's last newline (0 if it has none), reading backwards from the end."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _new_torn_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    torn_path = path.with_name(f"{path.name}.torn-{stamp}")
    number = 1
    while os.path.lexists(torn_path):
        number += 1
        torn_path = path.with_name(f"{path.name}.torn-{stamp}-{number}")
    return torn_path


def _copy_range(fd: int, start: int, end: int, target: Path) -> None:
    """Copy bytes ``start:end`` of ``fd`` to the new file ``target``, fsynced; on any failure no ``target`` is left."""
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        while start < end:
            chunk = os.pread(fd, min(_CHUNK, end - start), start)
            if not chunk:
                break
            start += len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
        os.fsync(out)
    except BaseException:
        os.close(out)
        os.unlink(target)
        raise
    os.close(out)


def _prune_torn(path: Path) -> None:
    """Keep the newest ``TORN_KEPT`` set-aside fragments of ``path``; files of any other name are never touched."""
    pattern = re.compile(re.escape(path.name) + r"\.torn-(\d{8}T\d{6}Z)(?:-(\d+))?")
    torn = []
    with os.scandir(path.parent) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                torn.append(((match.group(1), int(match.group(2) or 1)), entry.path))
    for _, old in sorted(torn)[:-TORN_KEPT]:
        try:
            os.unlink(old)
        except FileNotFoundError:
            continue


def _open_regular(path: Path, flags: int) -> int:
    """``os.open`` that refuses what is not a regular file: a FIFO would block, a device never end."""
    fd = os.open(path, flags, FILE_MODE)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFileError(errno.EINVAL, "not a regular file", str(path))
    return fd


def _reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "it is a symbolic link, and the log never writes through one"
    return error.strerror or str(error)

