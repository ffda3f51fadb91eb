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


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"
