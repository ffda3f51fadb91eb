"""The examples a Pi learns new classes from, kept on disk so that a model can be fitted again later.

Layout: ``<root>/<class>/<sequence>.jpg``, the same one-folder-per-class layout ``piclassify teach`` and
``piclassify-train folder`` read. Each example is a JPEG written atomically, at the size a fit uses (its
shorter side at most ``EXAMPLE_SIDE``: a phone's 12 MP photo is kept as 0.1 MP, not 14 MB); the sequence
number grows across all classes, so "undo" removes the newest one wherever it went, also after a restart.

Bounded, whatever is in the folder: at most ``MAX_CLASSES`` classes of ``MAX_PER_CLASS`` files each (every
file counts, whatever its name) and ``MAX_BYTES`` in all. A file named to look like the newest of all
(``99999999.jpg``) cannot stop the numbering: the examples are numbered again from 1, in order. The store
writes and deletes only in real folders: a class folder that is a symlink, or an example that is one, is
refused or left alone, never followed. Every failure is an ``ExampleError`` line, and a failed capture
leaves nothing behind (no empty class folder).
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError, printable
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.folder_layout import SPLITS

MAX_CLASSES = 16
MAX_PER_CLASS = 500
MAX_BYTES = 512 << 20  # the whole store: 8,000 examples of 320 px are about 300 MB
EXAMPLE_SIDE = 320  # px, an example's shorter side at most: the backbone looks at 224 (320 at most, teach --size)
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")  # a folder name, a label in topics, pages and logs
_EXAMPLE = re.compile(r"(\d{8})\.jpg")  # the names the store gives its examples
_LAST_NUMBER = 10 ** 8 - 1


class ExampleError(PiclassifyError):
    """A class name that cannot be a folder, a class or store that is full, or a store that cannot be written."""


class ExampleStore:
    """Examples per class in ``root``; safe to use from several threads (the web view's requests)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._next: Optional[int] = None  # read from disk on first use: the folder may not exist yet

    def counts(self) -> dict[str, int]:
        """Files per class, classes in name order (the order a fitted model's labels take); empty classes too."""
        with self._lock:
            return {folder.name: len(_files(folder)) for folder in self._classes()}

    def size(self) -> int:
        """Bytes the store's files take."""
        with self._lock:
            return sum(entry.stat(follow_symlinks=False).st_size for folder in self._classes()
                       for entry in _files(folder))

    def add(self, label: str, rgb: np.ndarray) -> int:
        """Keep ``rgb`` as an example of ``label`` (at the size a fit uses); returns how many that class now has."""
        _check_label(label)
        data = _example_jpeg(rgb)
        with self._lock:
            folder = self._class_folder(label)
            exists = folder.is_dir()
            if not exists and len(self._classes()) >= MAX_CLASSES:
                raise ExampleError(f"at most {MAX_CLASSES} classes")
            count = len(_files(folder)) if exists else 0
            if count >= MAX_PER_CLASS:
                raise ExampleError(f"{label}: at most {MAX_PER_CLASS} examples a class; undo or fit")
            if self._bytes() + len(data) > MAX_BYTES:
                raise ExampleError(f"the examples take {MAX_BYTES >> 20} MiB, all the store may; remove a class")
            sequence = self._sequence()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                write_atomically(folder / f"{sequence:08d}.jpg", data)
            except OSError as exc:
                if not exists:  # a class folder made for this example goes with it: an empty class blocks nothing
                    _remove_empty(folder)
                raise ExampleError(f"{folder}: cannot keep the example: {exc.strerror or exc}") from None
            self._next = sequence + 1
            return count + 1

    def undo(self) -> Optional[str]:
        """Remove the newest example; returns its class (and removes the class when it was its last), or None."""
        with self._lock:
            numbered = self._numbered()
            if not numbered:
                return None
            newest = numbered[-1][1]
            try:
                newest.unlink()
            except OSError as exc:
                raise ExampleError(f"{newest}: cannot remove it: {exc.strerror or exc}") from None
            if not _files(newest.parent):
                _remove_empty(newest.parent)
            return newest.parent.name

    def remove(self, label: str) -> None:
        """Remove a class: its examples, then its folder (files the store did not name stay, and say so)."""
        _check_label(label)
        with self._lock:
            folder = self._class_folder(label)
            if not folder.is_dir():
                raise ExampleError(f"{label}: no such class")
            try:
                for entry in _files(folder):
                    if _EXAMPLE.fullmatch(entry.name):
                        os.unlink(entry.path)
                folder.rmdir()
            except OSError as exc:
                raise ExampleError(f"{folder}: cannot remove the class: {exc.strerror or exc}") from None

    def _class_folder(self, label: str) -> Path:
        """``root/label``, which must be a real folder (or none yet), never a symlink to somewhere else."""
        folder = self.root / label
        try:
            mode = folder.lstat().st_mode
        except FileNotFoundError:
            return folder
        except OSError as exc:
            raise ExampleError(f"{folder}: cannot use it: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(mode):
            raise ExampleError(f"{folder}: not a folder{' but a symlink' if stat.S_ISLNK(mode) else ''}; the store "
                               "keeps its examples in folders of its own")
        return folder

    def _classes(self) -> list[Path]:
        """The class folders: real folders (not symlinks) named as a class may be."""
        try:
            with os.scandir(self.root) as entries:
                return sorted(Path(entry.path) for entry in entries
                              if entry.is_dir(follow_symlinks=False) and CLASS_NAME.fullmatch(entry.name))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ExampleError(f"{self.root}: cannot list the examples: {exc.strerror or exc}") from None

    def _numbered(self) -> list[tuple[int, Path]]:
        """The examples the store named, oldest first."""
        return sorted((int(entry.name[:8]), Path(entry.path)) for folder in self._classes()
                      for entry in _files(folder) if _EXAMPLE.fullmatch(entry.name))

    def _bytes(self) -> int:
        return sum(entry.stat(follow_symlinks=False).st_size for folder in self._classes() for entry in _files(folder))

    def _sequence(self) -> int:
        """The next example's number; when a file took the last one, every example is numbered again from 1."""
        if self._next is None or self._next > _LAST_NUMBER:
            numbered = self._numbered()
            self._next = (numbered[-1][0] if numbered else 0) + 1
            if self._next > _LAST_NUMBER:
                self._renumber(numbered)
        return self._next

    def _renumber(self, numbered: list[tuple[int, Path]]) -> None:
        """Examples 1, 2, 3... in their order (a lower number is never taken by an example not yet renamed)."""
        try:
            for number, (_, path) in enumerate(numbered, start=1):
                path.rename(path.with_name(f"{number:08d}.jpg"))
        except OSError as exc:
            raise ExampleError(f"{self.root}: cannot number the examples again: {exc.strerror or exc}") from None
        self._next = len(numbered) + 1


def _check_label(label: str) -> None:
    if not CLASS_NAME.fullmatch(label):
        raise ExampleError(f"'{printable(label, 32)}': a class name is 1-32 letters, digits, '-' or '_'")
    if label.lower() in SPLITS:
        raise ExampleError(f"{label}: that name marks a split of a photo folder; pick another")


def _example_jpeg(rgb: np.ndarray) -> bytes:
    """The picture as a JPEG of the size a fit uses: its shorter side at most ``EXAMPLE_SIDE``."""
    import cv2
    from PIL import Image

    height, width = rgb.shape[:2]
    scale = EXAMPLE_SIDE / min(height, width)
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _files(folder: Path) -> list[os.DirEntry[str]]:
    """``folder``'s regular files (symlinks are not the store's), whatever their names: each counts towards the caps."""
    try:
        with os.scandir(folder) as entries:
            return [entry for entry in entries if entry.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ExampleError(f"{folder}: cannot list the examples: {exc.strerror or exc}") from None


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty after all, or the store is read-only: the class stays, and the panel can remove it
