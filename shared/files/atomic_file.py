"""The one way a file is written: whole or not at all, even if the power goes mid-write.

Models, manifests, tokens, saved frames, debug images and installed unit files are all written
here: to a new file in the same folder, fsynced, renamed over the final name, and the folder
fsynced so that the rename survives a power cut too. A reader sees the old file or the new one,
never a torn one, and a failed write leaves no temporary file behind.

The temporary file is created with ``O_EXCL``, so it is never an existing file and never a symlink
someone planted, and the rename replaces a symlink at the final name rather than writing through
it: a folder others can write to (``/tmp``, the frames folder) cannot redirect a write. Its mode is
``mode`` less the umask, as for any new file: ``0o600`` keeps a token private whatever the umask;
``exact_mode`` (install-service, as root) sets it regardless of the umask, with the owner it names.

Files that belong together (a model and its manifest) are all written first and checked, then renamed one after
the other (``write_set_atomically``), while a lock on their folder (``folder_lock``) keeps a second writer of the
same set from interleaving its renames with them.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

TEMPORARY_SUFFIX = ".tmp"


def write_set_atomically(files: Sequence[tuple[Path, bytes]],
                         check: Callable[[list[Path]], None] = lambda staged: None) -> None:
    """Files that belong together (a model and its manifest), each written to a new file beside it first, ``check``ed
    as written (a failure raises), and only then renamed into place, in order: a full disk, a failed check or any
    other error leaves every one of them as it was. Hold ``folder_lock`` against another writer of the same set."""
    staged: list[Path] = []
    try:
        for path, data in files:
            staged.append(_fresh_name(Path(path)))
            _write_new(staged[-1], data, 0o666)
        check(staged)
        for temporary, (path, _) in zip(staged, files):
            os.replace(temporary, path)
    finally:
        for temporary in staged:
            temporary.unlink(missing_ok=True)
    for folder in {Path(path).parent for path, _ in files}:
        fsync_directory(folder)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (``flock`` on the folder itself: no lock file is left behind) while the block
    writes into it; another process or thread taking it waits for the block to end."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def write_atomically(path: Path, data: bytes, mode: int = 0o666, *, temporary: Optional[Path] = None,
                     owner: Optional[tuple[int, int]] = None, exact_mode: bool = False) -> None:
    """``data`` as ``path``, through a new file in the same folder and a rename (no torn file, ever).

    ``temporary`` names that new file where a writer wants its leftovers recognisable after a power cut
    (the frames store's ``.part``); a leftover regular file of that name is removed first, anything else
    there (a planted symlink) is refused with ``FileExistsError``. ``owner`` is (uid, gid).
    """
    path = Path(path)
    temporary = _remove_leftover(temporary) if temporary is not None else _fresh_name(path)
    fd = _create(temporary, mode)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        if exact_mode:
            os.fchmod(fd, mode)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fresh_name(path: Path) -> Path:
    """``.<name>.<random>.tmp`` beside ``path``: hidden, and never the name of anything already there."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def _remove_leftover(temporary: Path) -> Path:
    """A regular file of this name is what a write cut short left behind; a symlink or a folder is left alone."""
    try:
        if stat.S_ISREG(temporary.lstat().st_mode):
            temporary.unlink()
    except FileNotFoundError:
        pass
    return temporary


def _write_new(temporary: Path, data: bytes, mode: int) -> None:
    """``data`` as the new file ``temporary``, fsynced; removed again if that fails."""
    fd = _create(temporary, mode)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)


def _create(temporary: Path, mode: int) -> int:
    """A new file (``O_EXCL``: never an existing one, never through a symlink), ``mode`` less the umask."""
    return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
