"""Saved frames: JPEGs of classified frames in a folder that never grows past ``max_count`` files.

Looking at the frames a model got wrong (or was unsure about) is how the next model gets better;
the bound keeps a months-long run from filling the SD card. The folder may be one others can write
to: a frame is written as every file is (``shared.files.atomic_file``: a new file, never through a
planted symlink, renamed into place), under a ``.part`` name a restart recognises and removes, and only
regular files of the store's own name pattern count as its own.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from piclassify.device.config import FramesConfig
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import write_atomically

if TYPE_CHECKING:
    from piclassify.device.core.sink import Delivery

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# What this store writes: <UTC time>-<frame number>-<label>.jpg (and .part while writing). Only such
# files are ever deleted, so photos a user keeps in the same folder are safe.
_OURS = re.compile(r"\d{8}T\d{6}\.\d{6}Z-\d{8}-[A-Za-z0-9_.-]+\.(jpg|part)")
FILE_MODE = 0o640


class FrameStoreError(PiclassifyError):
    """The saved-frames folder cannot be created or written."""


class FrameStore:
    """Saves the frames ``config.save`` asks for; deletes the oldest beyond ``config.max_count``. A sink."""

    name = "frames store"

    def __init__(self, config: FramesConfig) -> None:
        self.config = config
        self.folder = Path(config.path)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with os.scandir(self.folder) as entries:
                ours = sorted(Path(entry.path) for entry in entries
                              if _OURS.fullmatch(entry.name) and entry.is_file(follow_symlinks=False))
            for partial in (path for path in ours if path.suffix == ".part"):  # cut short by a power loss
                partial.unlink()
            # Names start with a fixed-width UTC time, so name order is age order.
            self._saved = deque(path for path in ours if path.suffix == ".jpg")
        except OSError as error:
            raise FrameStoreError(f"{self.folder}: cannot use frames folder: {error.strerror or error}") from error
        self._prune()

    def wants(self, delivery: Delivery) -> bool:
        """Frames with something in view, all of them or only the uncertain ones."""
        if delivery.result.label is None:
            return False
        return self.config.save == "all" or (self.config.save == "uncertain" and delivery.uncertain)

    def handle(self, delivery: Delivery) -> None:
        if self.wants(delivery):
            self.save(delivery)

    def save(self, delivery: Delivery) -> Path:
        """Write the frame as ``<UTC time>-<frame id>-<label>.jpg``; return its path."""
        frame, label = delivery.frame, str(delivery.result.label)
        stamp = datetime.fromtimestamp(frame.timestamp, timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{frame.index:08d}-{_UNSAFE.sub('_', label)}.jpg"
        try:
            jpeg = io.BytesIO()
            Image.fromarray(frame.rgb).save(jpeg, format="JPEG", quality=self.config.jpeg_quality)
            write_atomically(path, jpeg.getvalue(), FILE_MODE, temporary=path.with_suffix(".part"))
        except OSError as error:
            raise FrameStoreError(f"{path}: cannot save frame: {error.strerror or error}") from error
        self._saved.append(path)
        self._prune()
        return path

    def close(self) -> None:
        """Nothing stays open between frames."""

    def _prune(self) -> None:
        while len(self._saved) > self.config.max_count:
            oldest = self._saved.popleft()
            try:
                oldest.unlink()
            except FileNotFoundError:
                log.debug("saved frame %s was already gone", oldest)
