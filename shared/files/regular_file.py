"""Opening a file a user named without hanging on it: a FIFO, a device or a folder is refused.

``open()`` on a FIFO blocks until a writer appears (forever, in a service), and ``/dev/zero``
never ends. Opening with ``O_NONBLOCK`` returns at once whatever the path is, and ``fstat`` on
that very descriptor says what it is, so nothing can be swapped in between the check and the read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Union

from piclassify.shared.errors import PiclassifyError


class NotRegularFileError(OSError):
    """The path is a FIFO, a device, a socket or a folder; its ``strerror`` says which."""


def open_regular(path: Union[str, Path]) -> BinaryIO:
    """``path`` opened for binary reading; ``NotRegularFileError`` (an ``OSError``) if it is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"not a regular file (a {_kind(mode)})", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class FileReadError(PiclassifyError):
    """A file a user named is missing, unreadable, not a regular file, or larger than what it should be."""


def read_limited(path: Union[str, Path], limit: int, what: str) -> bytes:
    """A regular file's bytes, at most ``limit`` of them: a FIFO, ``/dev/zero`` or a folder is refused, not read."""
    try:
        with open_regular(path) as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise FileReadError(f"{path}: file not found") from None
    except OSError as exc:
        raise FileReadError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FileReadError(f"{path}: larger than {limit >> 10} KiB; not {what}")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"
