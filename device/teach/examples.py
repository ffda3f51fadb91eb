"""The examples a Pi learns new classes from, kept on disk so that a model can be fitted again later.

Layout: ``<root>/<class>/<sequence>.jpg``, the same one-folder-per-class layout ``piclassify teach``
and ``piclassify-train folder`` read. Each example is a JPEG written atomically; the sequence number
grows across all classes, so "undo" removes the newest one wherever it went, also after a restart.
Bounded: at most ``MAX_CLASSES`` classes of ``MAX_PER_CLASS`` examples each.
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.folder_layout import SPLITS

MAX_CLASSES = 16
MAX_PER_CLASS = 500
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")  # a folder name, a label in topics, pages and logs
_EXAMPLE = re.compile(r"(\d{8})\.jpg")


class ExampleError(PiclassifyError):
    """A class name that cannot be a folder, a class or store that is full, or a store that cannot be written."""


class ExampleStore:
    """Examples per class in ``root``; safe to use from several threads (the web view's requests)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._next: Optional[int] = None  # read from disk on first use: the folder may not exist yet

    def counts(self) -> dict[str, int]:
        """Examples per class, classes in name order (the order a fitted model's labels take)."""
        with self._lock:
            return {folder.name: len(self._examples(folder)) for folder in self._classes()}

    def add(self, label: str, rgb: np.ndarray) -> int:
        """Keep ``rgb`` as an example of ``label``; returns how many that class now has."""
        if not CLASS_NAME.fullmatch(label):
            raise ExampleError(f"{label[:32]!r}: a class name is 1-32 letters, digits, '-' or '_'")
        if label.lower() in SPLITS:
            raise ExampleError(f"{label}: that name marks a split of a photo folder; pick another")
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "JPEG", quality=90)
        with self._lock:
            folder = self.root / label
            if not folder.is_dir() and len(self._classes()) >= MAX_CLASSES:
                raise ExampleError(f"at most {MAX_CLASSES} classes")
            count = len(self._examples(folder)) if folder.is_dir() else 0
            if count >= MAX_PER_CLASS:
                raise ExampleError(f"{label}: at most {MAX_PER_CLASS} examples a class; undo or fit")
            sequence = self._sequence()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                write_atomically(folder / f"{sequence:08d}.jpg", buffer.getvalue())
            except OSError as exc:
                raise ExampleError(f"{folder}: cannot keep the example: {exc.strerror or exc}") from None
            self._next = sequence + 1
            return count + 1

    def undo(self) -> Optional[str]:
        """Remove the newest example; returns its class (and removes the class when it was its last), or None."""
        with self._lock:
            newest = max((path for folder in self._classes() for path in self._examples(folder)),
                         key=lambda path: path.name, default=None)
            if newest is None:
                return None
            newest.unlink()
            if not self._examples(newest.parent):
                newest.parent.rmdir()
            return newest.parent.name

    def _classes(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(folder for folder in self.root.iterdir() if folder.is_dir() and CLASS_NAME.fullmatch(folder.name))

    @staticmethod
    def _examples(folder: Path) -> list[Path]:
        return sorted(path for path in folder.iterdir() if _EXAMPLE.fullmatch(path.name))

    def _sequence(self) -> int:
        if self._next is None:
            names = [path.name for folder in self._classes() for path in self._examples(folder)]
            self._next = max((int(name[:8]) for name in names), default=0) + 1
        return self._next
